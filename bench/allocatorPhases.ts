/**
 * The allocator under load: fill, size independence, churn and bulk. Each of the
 * 32 concurrent workers is its own simulated Lambda container (own client, own
 * `Allocator`, own caches) and, like an API client, retries a call that answered
 * AllocationContention; "requests per allocation" counts every request from the
 * first call to the allocation, retries included.
 */

import type { AllocateInput, AllocationView } from '../shared/allocator/index.js';
import { AllocationContentionError, SubnetExhaustedError } from '../shared/errors.js';
import { parseIp } from '../shared/net/address.js';
import { poolSize } from '../shared/subnets/rules.js';
import { loadSubnet } from '../shared/subnets/subnets.js';
import { type BenchEnv, type Container, progress, runWorkers } from './env.js';
import { mean, percentile, perUnit, round, Usage } from './metrics.js';
import { fillTo, type LazyFill, prefillLazily } from './prefill.js';

export const CONCURRENCY = 32;

interface Chain {
  readonly outcome: 'allocated' | 'exhausted';
  readonly views: AllocationView[];
  /** Every request of the chain of calls. */
  readonly usage: Usage;
  /** The requests of the last call alone (the one that answered). */
  readonly lastCall: Usage;
  /** When the last call started and ended (ms since the epoch). */
  readonly lastCallStartedAt: number;
  readonly endedAt: number;
  readonly contention: number;
}

/** Calls allocate until it allocates or answers SubnetExhausted, retrying AllocationContention. */
async function allocateChain(
  env: BenchEnv,
  container: Container,
  subnetId: string,
  input: AllocateInput = {},
  maxContention = 20,
): Promise<Chain> {
  const usage = new Usage();
  let contention = 0;
  container.meter.take();
  for (;;) {
    const call = env.nextCall();
    const lastCallStartedAt = Date.now();
    try {
      const views = await container.allocator.allocate(subnetId, { ...input, description: call });
      const lastCall = container.meter.take();
      usage.add(lastCall);
      for (const view of views) env.hold(subnetId, parseIp(view.ip).value, { call });
      const endedAt = Date.now();
      return {
        outcome: 'allocated',
        views,
        usage,
        lastCall,
        lastCallStartedAt,
        endedAt,
        contention,
      };
    } catch (error) {
      const lastCall = container.meter.take();
      usage.add(lastCall);
      if (error instanceof SubnetExhaustedError) {
        const endedAt = Date.now();
        return {
          outcome: 'exhausted',
          views: [],
          usage,
          lastCall,
          lastCallStartedAt,
          endedAt,
          contention,
        };
      }
      if (!(error instanceof AllocationContentionError) || contention >= maxContention) throw error;
      contention++;
    }
  }
}

/** What a set of allocations cost, per allocation. */
export interface CostSummary {
  allocations: number;
  requestsMean: number;
  requestsP50: number;
  requestsP99: number;
  requestsMax: number;
  failedConditionalPerAlloc: number;
  conflictsPerAlloc: number;
  contentionErrors: number;
  rcuPerAlloc: number;
  /** Real price, upper bound (see metrics.ts); `wcuPerAllocLow` the lower bound. */
  wcuPerAlloc: number;
  wcuPerAllocLow: number;
  wcuPerAllocLocal: number;
  hottestKeyShare: number;
  /** Items written, the sample behind hottestKeyShare. */
  writes: number;
  commandsPerAlloc: Record<string, number>;
}

class Tally {
  readonly usage = new Usage();
  readonly samples: number[] = [];
  allocations = 0;
  contention = 0;

  record(chain: Chain, allocations = chain.views.length): void {
    this.usage.add(chain.usage);
    this.samples.push(chain.usage.requests);
    this.allocations += allocations;
    this.contention += chain.contention;
  }

  summary(): CostSummary {
    const n = this.allocations;
    const per = (value: number, digits = 3) => (n === 0 ? 0 : round(value / n, digits));
    return {
      allocations: n,
      requestsMean: per(this.usage.requests),
      requestsP50: percentile(this.samples, 50),
      requestsP99: percentile(this.samples, 99),
      requestsMax: Math.max(0, ...this.samples),
      failedConditionalPerAlloc: per(this.usage.failedConditional, 4),
      conflictsPerAlloc: per(this.usage.conflicts, 4),
      contentionErrors: this.contention,
      rcuPerAlloc: per(this.usage.rcu),
      wcuPerAlloc: per(this.usage.wcuHigh),
      wcuPerAllocLow: per(this.usage.wcuLow),
      wcuPerAllocLocal: per(this.usage.wcuLocal),
      hottestKeyShare: round(this.usage.hottestKeyShare(), 4),
      writes: this.usage.writes,
      commandsPerAlloc: perUnit(this.usage.byCommand, n),
    };
  }
}

// ---------------------------------------------------------------------------
// Warm-up: the JVM's transaction paths, and a first rate for sizing the quick fill

export interface WarmupResult {
  cidr: string;
  rounds: number[];
  allocsPerSec: number;
}

export async function warmUpAllocator(
  env: BenchEnv,
  options: { roundMs: number; maxRounds: number },
): Promise<WarmupResult> {
  const cidr = '10.250.0.0/16';
  const subnet = await env.subnet(cidr, 'warm-up');
  progress(
    `  allocating into ${cidr} for up to ${options.maxRounds} round(s) of ${options.roundMs} ms`,
  );
  const containers = env.containers(CONCURRENCY);
  const rounds: number[] = [];
  for (let i = 0; i < options.maxRounds; i++) {
    let done = 0;
    const started = Date.now();
    const end = started + options.roundMs;
    await runWorkers(CONCURRENCY, async (worker) => {
      while (Date.now() < end) {
        const chain = await allocateChain(env, containers[worker]!, subnet.id);
        if (chain.outcome === 'exhausted') return;
        done++;
      }
    });
    const value = done / ((Date.now() - started) / 1000);
    rounds.push(round(value, 1));
    progress(`  allocator warm-up round ${i + 1}: ${round(value, 0)} allocations/s`);
    const previous = rounds[rounds.length - 2];
    if (previous !== undefined && Math.abs(value - previous) / previous < 0.1) break;
  }
  env.retire(containers);
  return { cidr, rounds, allocsPerSec: rounds[rounds.length - 1] ?? 0 };
}

// ---------------------------------------------------------------------------
// Fill

export interface FillPhase extends CostSummary {
  toPercent: number;
  seconds: number;
  allocsPerSec: number;
  /** Allocations per second per container: the 1 s caches amortize only above ~1. */
  allocsPerSecPerContainer: number;
  /** allocsPerSec ÷ ceiling puts/s (set by the report). */
  ratioToCeiling?: number;
}

export interface ExhaustedCall {
  /** The call started after the subnet was full (else it raced the last allocations). */
  startedAfterFull: boolean;
  requests: number;
  commands: Record<string, number>;
  answer: string;
}

export interface FillResult {
  cidr: string;
  poolSize: number;
  allocated: number;
  complete: boolean;
  seconds: number;
  phases: FillPhase[];
  /** The whole fill, 0 → 100 %. */
  total: CostSummary & { allocsPerSec: number };
  /** The first call started once the subnet was full. */
  firstAfterFull: ExhaustedCall | null;
  /** A new container's first call on the full subnet. */
  coldAfterFull: ExhaustedCall;
  /** Every worker's last call (each stops at its first SubnetExhausted). */
  exhaustedAnswers: { count: number; requestsMax: number; requestsMean: number };
  /** SubnetExhausted answered while the counters still showed free addresses. */
  prematureExhausted: number;
}

export async function runFill(
  env: BenchEnv,
  cidr: string,
  options: { maxMs: number },
): Promise<FillResult> {
  const view = await env.subnet(cidr, 'fill');
  const subnet = await loadSubnet(env.admin, view.id);
  const pool = Number(poolSize(subnet.pools));
  const percents = [25, 50, 90, 99, 100];
  const targets = percents.map((p) => (p === 100 ? pool : Math.ceil((pool * p) / 100)));
  const tallies = percents.map(() => new Tally());
  const overall = new Tally();
  const containers = env.containers(CONCURRENCY);
  const started = Date.now();
  const deadline = started + options.maxMs;
  const crossedAt: number[] = [];
  let allocated = 0;
  let fullAt: number | undefined;
  let prematureExhausted: number;
  let firstAfterFull: { at: number; call: ExhaustedCall } | undefined;
  const exhausted: ExhaustedCall[] = [];
  const describe = (chain: Chain, startedAfterFull: boolean): ExhaustedCall => ({
    startedAfterFull,
    requests: chain.lastCall.requests,
    commands: perUnit(chain.lastCall.byCommand, 1),
    answer: chain.outcome === 'exhausted' ? 'SubnetExhausted' : 'allocated',
  });
  // Exhausted answers that ended, and the start of the call that made the last allocation.
  const exhaustedEnds: number[] = [];
  let lastAllocationCallStart = 0;
  await runWorkers(CONCURRENCY, async (worker) => {
    const container = containers[worker]!;
    // Until full (or out of time); once full, every worker makes one more call.
    while (fullAt !== undefined || Date.now() < deadline) {
      const startedAt = Date.now();
      const afterFull = fullAt !== undefined;
      const phase = targets.findIndex((target) => allocated < target);
      const chain = await allocateChain(env, container, subnet.id);
      if (chain.outcome === 'exhausted') {
        exhaustedEnds.push(chain.endedAt);
        const call = describe(chain, afterFull);
        exhausted.push(call);
        if (afterFull && (firstAfterFull === undefined || startedAt < firstAfterFull.at)) {
          firstAfterFull = { at: startedAt, call };
        }
        return;
      }
      allocated++;
      lastAllocationCallStart = Math.max(lastAllocationCallStart, chain.lastCallStartedAt);
      const tally = tallies[phase < 0 ? tallies.length - 1 : phase]!;
      tally.record(chain);
      overall.record(chain);
      while (crossedAt.length < targets.length && allocated >= targets[crossedAt.length]!) {
        crossedAt.push(Date.now());
        const reached = percents[crossedAt.length - 1]!;
        progress(`  fill ${cidr}: ${reached} % (${allocated} allocations)`);
        if (reached === 100) fullAt = Date.now();
      }
    }
  });
  // An answer that ended before the last allocation's call began came while addresses were free.
  prematureExhausted = exhaustedEnds.filter((end) => end < lastAllocationCallStart).length;
  if (allocated < pool) prematureExhausted = exhaustedEnds.length;
  const ended = Date.now();
  env.retire(containers);
  const cold = env.container();
  const coldChain = await allocateChain(env, cold, subnet.id);
  env.retire([cold]);
  const phases: FillPhase[] = [];
  for (let i = 0; i < percents.length; i++) {
    const from = i === 0 ? 0 : targets[i - 1]!;
    const fromAt = i === 0 ? started : crossedAt[i - 1];
    if (fromAt === undefined) break;
    const toAt = crossedAt[i] ?? ended;
    const reached = crossedAt[i] === undefined ? Math.min(allocated, targets[i]!) : targets[i]!;
    const seconds = (toAt - fromAt) / 1000;
    phases.push({
      toPercent: percents[i]!,
      seconds: round(seconds, 1),
      allocsPerSec: seconds > 0 ? round((reached - from) / seconds, 1) : 0,
      allocsPerSecPerContainer:
        seconds > 0 ? round((reached - from) / seconds / CONCURRENCY, 2) : 0,
      ...tallies[i]!.summary(),
    });
  }
  const seconds = ((crossedAt[crossedAt.length - 1] ?? ended) - started) / 1000;
  return {
    cidr,
    poolSize: pool,
    allocated,
    complete: allocated === pool,
    seconds: round(seconds, 1),
    phases,
    total: { ...overall.summary(), allocsPerSec: round(allocated / seconds, 1) },
    firstAfterFull: firstAfterFull?.call ?? null,
    coldAfterFull: describe(coldChain, true),
    exhaustedAnswers: {
      count: exhausted.length,
      requestsMax: Math.max(0, ...exhausted.map((call) => call.requests)),
      requestsMean: round(mean(exhausted.map((call) => call.requests)), 2),
    },
    prematureExhausted,
  };
}

// ---------------------------------------------------------------------------
// Size independence

export interface SizeSpec {
  readonly cidr: string;
  readonly prefill: 'eager' | 'lazy';
}

export interface SizeResult extends CostSummary {
  cidr: string;
  subnetId: string;
  requestsPerAlloc: number;
  fillPercent: number;
  prefill: string;
  prefillSeconds: number;
  allocsPerSec: number;
}

/**
 * Requests per allocation at 50 % fill, for warm containers: each worker makes one
 * allocation unmeasured (its container loads the subnet and counters, as any
 * container that has served a request has), then `perWorker` measured ones (or as
 * many as fit in `ms`). After each allocation it releases what it got through a
 * second container (not measured), so the fill stays between 50 % and 50 % + 32
 * addresses.
 */
export async function runSize(
  env: BenchEnv,
  spec: SizeSpec,
  options: { ms: number; perWorker: number; fraction: number },
): Promise<SizeResult> {
  const view = await env.subnet(spec.cidr, `size-${spec.cidr.replace(/[^0-9a-f]+/gi, '-')}`);
  const prefillStarted = Date.now();
  let lazy: LazyFill | undefined;
  let prefill: string;
  let fillPercent: number;
  if (spec.prefill === 'eager') {
    const result = await fillTo(env, view.id, options.fraction);
    prefill = `batch-written: ${result.itemsWritten} items (blocks, allocation items, counters)`;
    fillPercent = (100 * result.allocated) / result.poolSize;
  } else {
    lazy = await prefillLazily(env, view.id, options.fraction);
    fillPercent = Number((10000n * lazy.allocated) / lazy.poolSize) / 100;
    prefill = 'lazy: exact counters; each block written at the fill level on first touch';
  }
  const prefillSeconds = (Date.now() - prefillStarted) / 1000;
  const setup =
    lazy === undefined
      ? undefined
      : (client: Parameters<LazyFill['install']>[0]) => lazy.install(client);
  const measured = env.containers(CONCURRENCY, setup);
  const releasers = env.containers(CONCURRENCY, setup);
  const tally = new Tally();
  const allocateAndRelease = async (worker: number): Promise<Chain> => {
    const chain = await allocateChain(env, measured[worker]!, view.id);
    if (chain.outcome === 'exhausted') {
      throw new Error(`${spec.cidr} answered SubnetExhausted at 50 %`);
    }
    for (const allocation of chain.views) {
      const ip = parseIp(allocation.ip);
      await releasers[worker]!.allocator.release(view.id, ip);
      env.free(view.id, ip.value);
    }
    return chain;
  };
  await runWorkers(CONCURRENCY, async (worker) => {
    await allocateAndRelease(worker);
  });
  const started = Date.now();
  const end = started + options.ms;
  await runWorkers(CONCURRENCY, async (worker) => {
    for (let i = 0; i < options.perWorker && Date.now() < end; i++) {
      tally.record(await allocateAndRelease(worker));
    }
  });
  const elapsed = (Date.now() - started) / 1000;
  env.retire([...measured, ...releasers]);
  const summary = tally.summary();
  if (lazy !== undefined) prefill += ` (${lazy.materialized()} blocks written)`;
  return {
    cidr: spec.cidr,
    subnetId: view.id,
    requestsPerAlloc: summary.requestsMean,
    fillPercent: round(fillPercent, 2),
    prefill,
    prefillSeconds: round(prefillSeconds, 1),
    allocsPerSec: round(summary.allocations / elapsed, 1),
    ...summary,
  };
}

// ---------------------------------------------------------------------------
// Churn

export interface ChurnResult {
  cidr: string;
  fillPercent: number;
  prefill: string;
  pairs: number;
  pairsPerSec: number;
  requestsPerPair: number;
  requestsPerPairP99: number;
  releaseRequestsMean: number;
  allocateRequestsMean: number;
  failedConditionalPerPair: number;
  rcuPerPair: number;
  wcuPerPair: number;
  hottestKeyShare: number;
  writes: number;
  commandsPerPair: Record<string, number>;
}

/**
 * Release + allocate pairs on a subnet pre-filled (lazily) to `fraction`. Each
 * worker first takes a few addresses (not measured); a pair then releases the
 * worker's oldest address and allocates a new one, so the fill stays put.
 */
export async function runChurn(
  env: BenchEnv,
  cidr: string,
  options: { ms: number; fraction: number; seed: number },
): Promise<ChurnResult> {
  const view = await env.subnet(cidr, 'churn');
  const lazy = await prefillLazily(env, view.id, options.fraction);
  const containers = env.containers(CONCURRENCY, (client) => lazy.install(client));
  const usage = new Usage();
  const release = new Usage();
  const allocate = new Usage();
  const samples: number[] = [];
  const owned: string[][] = containers.map(() => []);
  await runWorkers(CONCURRENCY, async (worker) => {
    for (let i = 0; i < options.seed; i++) {
      const chain = await allocateChain(env, containers[worker]!, view.id);
      owned[worker]!.push(...chain.views.map((allocation) => allocation.ip));
    }
  });
  let pairs = 0;
  const started = Date.now();
  const end = started + options.ms;
  await runWorkers(CONCURRENCY, async (worker) => {
    const container = containers[worker]!;
    const mine = owned[worker]!;
    while (Date.now() < end && mine.length > 0) {
      const ip = parseIp(mine.shift()!);
      container.meter.take();
      await container.allocator.release(view.id, ip);
      env.free(view.id, ip.value);
      const released = container.meter.take();
      const chain = await allocateChain(env, container, view.id);
      if (chain.outcome === 'exhausted') throw new Error('churn answered SubnetExhausted');
      mine.push(...chain.views.map((allocation) => allocation.ip));
      release.add(released);
      allocate.add(chain.usage);
      usage.add(released);
      usage.add(chain.usage);
      samples.push(released.requests + chain.usage.requests);
      pairs++;
    }
  });
  const elapsed = (Date.now() - started) / 1000;
  env.retire(containers);
  const per = (value: number) => (pairs === 0 ? 0 : round(value / pairs, 3));
  return {
    cidr,
    fillPercent: Number((10000n * lazy.allocated) / lazy.poolSize) / 100,
    prefill: `lazy (${lazy.materialized()} blocks written); ${options.seed} addresses per worker taken first`,
    pairs,
    pairsPerSec: round(pairs / elapsed, 1),
    requestsPerPair: per(usage.requests),
    requestsPerPairP99: percentile(samples, 99),
    releaseRequestsMean: per(release.requests),
    allocateRequestsMean: per(allocate.requests),
    failedConditionalPerPair: per(usage.failedConditional),
    rcuPerPair: per(usage.rcu),
    wcuPerPair: per(usage.wcuHigh),
    hottestKeyShare: round(usage.hottestKeyShare(), 4),
    writes: usage.writes,
    commandsPerPair: perUnit(usage.byCommand, pairs),
  };
}

// ---------------------------------------------------------------------------
// Bulk

export interface BulkResult {
  cidr: string;
  count: number;
  requests: number;
  requestsPerSec: number;
  addressesPerSec: number;
  dynamoRequestsPerCall: number;
  dynamoRequestsP99: number;
  failedConditionalPerCall: number;
  contentionErrors: number;
  wcuPerAddress: number;
  rcuPerAddress: number;
  commandsPerCall: Record<string, number>;
  fillPercentAfter: number;
}

/** `count` = 100 random allocations per call, on a fresh subnet, until `ms` or half full. */
export async function runBulk(
  env: BenchEnv,
  cidr: string,
  options: { ms: number; count: number },
): Promise<BulkResult> {
  const view = await env.subnet(cidr, 'bulk');
  const pool = Number(poolSize((await loadSubnet(env.admin, view.id)).pools));
  const containers = env.containers(CONCURRENCY);
  const tally = new Tally();
  let calls = 0;
  let addresses = 0;
  const started = Date.now();
  const end = started + options.ms;
  await runWorkers(CONCURRENCY, async (worker) => {
    while (Date.now() < end && addresses + options.count * CONCURRENCY <= pool / 2) {
      const chain = await allocateChain(env, containers[worker]!, view.id, {
        count: options.count,
      });
      if (chain.outcome === 'exhausted') throw new Error('bulk answered SubnetExhausted');
      tally.record(chain, 1);
      calls++;
      addresses += chain.views.length;
    }
  });
  const elapsed = (Date.now() - started) / 1000;
  env.retire(containers);
  const summary = tally.summary();
  return {
    cidr,
    count: options.count,
    requests: calls,
    requestsPerSec: round(calls / elapsed, 2),
    addressesPerSec: round(addresses / elapsed, 1),
    dynamoRequestsPerCall: summary.requestsMean,
    dynamoRequestsP99: summary.requestsP99,
    failedConditionalPerCall: summary.failedConditionalPerAlloc,
    contentionErrors: summary.contentionErrors,
    wcuPerAddress: addresses === 0 ? 0 : round(tally.usage.wcuHigh / addresses, 2),
    rcuPerAddress: addresses === 0 ? 0 : round(tally.usage.rcu / addresses, 3),
    commandsPerCall: summary.commandsPerAlloc,
    fillPercentAfter: round((100 * addresses) / pool, 1),
  };
}
