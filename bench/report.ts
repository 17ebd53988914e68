/** The benchmark's result: targets judged from the measurements, and the readable table. */
import type {
  BulkResult,
  ChurnResult,
  FillResult,
  SizeResult,
  WarmupResult,
} from './allocatorPhases.js';
import type { CeilingResult } from './ceiling.js';
import type { ColdStartResult } from './coldStart.js';
import type { Pricing } from './metrics.js';
import { round } from './metrics.js';
import type { BaselineResult } from './neutronBaseline.js';
import type { VerifyResult } from './verify.js';

export interface Measurements {
  mode: 'quick' | 'full';
  startedAt: string;
  source: { commit: string; sharedModified: boolean; allocationsSha256: string };
  seconds: number;
  machine: { cpus: number; node: string; loadAverage1mAtStart: number; loadAverage1mAtEnd: number };
  pricing: Pricing;
  shapeCheck: string;
  warmup: WarmupResult;
  ceiling: CeilingResult;
  fill: FillResult;
  fillChoice: string;
  /** A /24 filled by 32 allocators (one shard: one counter for all of them). */
  smallFill: FillResult;
  sizes: SizeResult[];
  neutronBaseline: BaselineResult;
  churn: ChurnResult;
  bulk: BulkResult;
  coldStart: ColdStartResult;
  verification: VerifyResult;
}

interface TargetCheck {
  name: string;
  target: string;
  met: boolean;
  measured: string;
}

const UP_TO_90 = (phase: { toPercent: number }) => phase.toPercent <= 90;

export function judge(m: Measurements): TargetCheck[] {
  const ceiling = m.ceiling.putsPerSec;
  const upTo90 = m.fill.phases.filter(UP_TO_90);
  const list = (values: string[]) => values.join(', ');
  const checks: TargetCheck[] = [];
  const ratios = upTo90.map((p) => `→${p.toPercent}%: ${round(p.allocsPerSec / ceiling, 3)}`);
  checks.push({
    name: 'allocRateVsCeiling',
    target: 'allocations/s ÷ ceiling puts/s ≥ 0.6 at every fill phase up to 90 %',
    met: upTo90.length === 3 && upTo90.every((p) => p.allocsPerSec / ceiling >= 0.6),
    measured: list(ratios),
  });
  checks.push({
    name: 'requestsMeanUpTo90',
    target: 'requests per allocation, mean ≤ 1.5 up to 90 % fill',
    met: upTo90.length === 3 && upTo90.every((p) => p.requestsMean <= 1.5),
    measured: list(upTo90.map((p) => `→${p.toPercent}%: ${p.requestsMean}`)),
  });
  checks.push({
    name: 'requestsP99',
    target: 'requests per allocation, p99 ≤ 5 in every phase incl. 100 %',
    met: m.fill.complete && m.fill.phases.every((p) => p.requestsP99 <= 5),
    measured: list(m.fill.phases.map((p) => `→${p.toPercent}%: ${p.requestsP99}`)),
  });
  const first = m.fill.firstAfterFull ?? m.fill.coldAfterFull;
  checks.push({
    name: 'exhaustedInTwoRequests',
    target: 'first request after full answers SubnetExhausted in ≤ 2 requests',
    met: m.fill.complete && first.answer === 'SubnetExhausted' && first.requests <= 2,
    measured:
      `first call after full: ${first.answer} in ${first.requests} request(s); ` +
      `new container: ${m.fill.coldAfterFull.answer} in ${m.fill.coldAfterFull.requests}`,
  });
  checks.push({
    name: 'failedConditionalUpTo90',
    target: 'failed conditional writes per allocation ≤ 0.05 up to 90 %',
    met: upTo90.length === 3 && upTo90.every((p) => p.failedConditionalPerAlloc <= 0.05),
    measured: list(upTo90.map((p) => `→${p.toPercent}%: ${p.failedConditionalPerAlloc}`)),
  });
  // A fill to 100 % gives every shard exactly its share of allocations, so the
  // 0→100 % aggregate is ~1/64 whatever the allocator does; concentration shows in
  // the windows, i.e. the phases (each ≥ 16k allocations on the /16).
  const slash16 = m.fill.cidr.endsWith('/16');
  const sixteen = m.sizes.find((size) => size.cidr.endsWith('/16'));
  const hottest = slash16
    ? {
        share: Math.max(...upTo90.map((p) => p.hottestKeyShare)),
        where:
          `the fill of ${m.fill.cidr}, worst phase up to 90 % (${list(upTo90.map((p) => `→${p.toPercent}%: ${round(p.hottestKeyShare * 100, 2)} % of ${p.writes}`))} writes); ` +
          `whole fill ${round(m.fill.total.hottestKeyShare * 100, 2)} %`,
      }
    : {
        share: Math.max(m.churn.hottestKeyShare, sixteen?.hottestKeyShare ?? 0),
        where:
          `the /16 churn (${m.churn.writes} writes) and size run (${sixteen?.writes ?? 0} writes); ` +
          `the quick fill used ${m.fill.cidr} — too few writes to tell 2 % from 1/64`,
      };
  checks.push({
    name: 'hottestKeyOn16',
    target: 'hottest partition key ≤ 2 % of writes on the /16',
    met: hottest.share <= 0.02,
    measured: `${round(hottest.share * 100, 2)} % on ${hottest.where}`,
  });
  const perSize = (suffix: string) => m.sizes.find((s) => s.cidr.endsWith(suffix));
  const base = perSize('/24')?.requestsPerAlloc ?? Number.NaN;
  const big = [perSize('/8'), perSize('/64')];
  checks.push({
    name: 'sizeIndependence',
    target: '/8 and /64 within 1.5× of /24 in requests per allocation',
    met: big.every((s) => s !== undefined && s.requestsPerAlloc <= 1.5 * base),
    measured: list(m.sizes.map((s) => `${s.cidr}: ${s.requestsPerAlloc}`)),
  });
  const at90 = m.fill.phases.filter((p) => p.toPercent === 90 || p.toPercent === 99);
  const ours = Math.max(...at90.map((p) => p.rcuPerAlloc));
  const factor = ours > 0 ? m.neutronBaseline.rcuPerAlloc / ours : Number.POSITIVE_INFINITY;
  checks.push({
    name: 'rcuVsBaseline',
    target: '≥ 100× fewer RCU per allocation than the baseline at 90 %',
    met: at90.length === 2 && factor >= 100,
    measured: `baseline (${m.neutronBaseline.cidr} at ${m.neutronBaseline.fillPercent} %) ${m.neutronBaseline.rcuPerAlloc} RCU vs ours ${ours} (worse of 50→90 % and 90→99 %): ${round(factor, 1)}×`,
  });
  const small = m.smallFill;
  const smallContention = small.phases.reduce((sum, p) => sum + p.contentionErrors, 0);
  const smallRatio = small.total.allocsPerSec / m.fill.total.allocsPerSec;
  checks.push({
    name: 'smallSubnetFill',
    target: `a /24 filled by 32 allocators: allocs/s ≥ 0.8× the fill of ${m.fill.cidr}, 0 contention errors`,
    met: small.complete && smallRatio >= 0.8 && smallContention === 0,
    measured: `${small.total.allocsPerSec} vs ${m.fill.total.allocsPerSec} allocs/s (${round(smallRatio, 2)}×), ${smallContention} contention errors`,
  });
  checks.push({
    name: 'zeroDuplicates',
    target: 'zero duplicates',
    met: m.verification.duplicates === 0,
    measured: `${m.verification.duplicates} duplicates in a Scan of ${m.verification.itemsScanned} items`,
  });
  return checks;
}

export function toJson(m: Measurements, checks: TargetCheck[]) {
  const ceiling = m.ceiling.putsPerSec;
  return {
    mode: m.mode,
    startedAt: m.startedAt,
    source: m.source,
    seconds: m.seconds,
    machine: m.machine,
    notes: notes(m),
    pricing: m.pricing,
    shapeCheck: m.shapeCheck,
    ceiling: m.ceiling,
    allocatorWarmup: m.warmup,
    fillSubnet: {
      cidr: m.fill.cidr,
      poolSize: m.fill.poolSize,
      allocated: m.fill.allocated,
      complete: m.fill.complete,
      seconds: m.fill.seconds,
      chosen: m.fillChoice,
      total: m.fill.total,
    },
    fill: m.fill.phases.map((phase) => ({
      ...phase,
      ratioToCeiling: round(phase.allocsPerSec / ceiling, 3),
      ratioToTransactionCeiling: round(phase.allocsPerSec / m.ceiling.transactionsPerSec, 3),
    })),
    exhaustedRequests: (m.fill.firstAfterFull ?? m.fill.coldAfterFull).requests,
    exhausted: {
      firstAfterFull: m.fill.firstAfterFull,
      newContainer: m.fill.coldAfterFull,
      allWorkersLastCall: m.fill.exhaustedAnswers,
      prematureExhausted: m.fill.prematureExhausted,
    },
    smallFill: {
      cidr: m.smallFill.cidr,
      complete: m.smallFill.complete,
      total: m.smallFill.total,
      phases: m.smallFill.phases,
    },
    sizes: m.sizes,
    neutronBaseline: m.neutronBaseline,
    churn: m.churn,
    bulk: m.bulk,
    coldStart: m.coldStart.functions,
    coldStartNotes: { skipped: m.coldStart.skipped, note: m.coldStart.note },
    verification: m.verification,
    duplicates: m.verification.duplicates,
    targets: Object.fromEntries(checks.map((check) => [check.name, check.met])),
    targetDetails: checks,
  };
}

function notes(m: Measurements): string[] {
  const p = m.pricing;
  return [
    'Each of the 32 concurrent workers is its own container: own DynamoDBClient, own Allocator (default options), no shared memory.',
    "Requests per allocation count every DynamoDB request (SDK retries included) from a worker's first allocate call to its allocation, AllocationContention retries included.",
    p.perItem
      ? `WCU: DynamoDB Local priced transactions per item (1 small item: ${p.observed.oneItem}, 3: ${p.observed.threeItems}); shown as reported × ${round(p.factor, 2)}.`
      : `WCU at real prices: DynamoDB charges a transactional write 2 WCU per started KB of each item; DynamoDB Local charges 2 WCU per started KB of the transaction's total (measured: 1 small item ${p.observed.oneItem}, 3 small items ${p.observed.threeItems}; DynamoDB: 2 and 6), so plain doubling would be wrong. Put items are sized exactly; updates are bounded by Local's total, so WCU is given as an upper bound (wcuPerAlloc) and a lower bound (wcuPerAllocLow). Refused writes are charged at the 1 KB minimum per item.`,
    'RCU: no transactional reads are made; DynamoDB Local prices GetItem/BatchGetItem/Query as DynamoDB does (0.5 RCU per 4 KB, eventually consistent; 1 consistent).',
    'Hottest key share: the partition key of every item written (Put/Update/Delete in transactions and plain writes), refused writes included, per phase; over a whole fill to 100 % every shard gets exactly its share, so the target is judged on the phases up to 90 %.',
    `The machine's 1-minute load average was ${m.machine.loadAverage1mAtStart} at the start and ${m.machine.loadAverage1mAtEnd} at the end on ${m.machine.cpus} CPUs: above the CPU count, other processes shared the CPU and every rate is depressed and noisy.`,
    'Speeds are DynamoDB Local on this machine (one JVM sharing the CPU with the benchmark), not DynamoDB: ratios and per-allocation counts carry over, absolute rates do not.',
  ];
}

// ---------------------------------------------------------------------------
// The table

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ');
  return [
    line(cells[0]!),
    line(widths.map((w) => '-'.repeat(w))),
    ...cells.slice(1).map(line),
  ].join('\n');
}

const pct = (share: number) => `${round(share * 100, 2)}%`;
const commands = (byCommand: Record<string, number>) =>
  Object.entries(byCommand)
    .map(([command, count]) => `${command.replace(/Item(s)?$/, '')} ${count}`)
    .join(', ');

export function toText(m: Measurements, checks: TargetCheck[]): string {
  const out: string[] = [];
  const ceiling = m.ceiling.putsPerSec;
  out.push(
    `ipam benchmark (${m.mode}), ${m.machine.cpus} CPUs, Node ${m.machine.node}, ${m.seconds} s; ` +
      `1-minute load average ${m.machine.loadAverage1mAtStart} at start, ${m.machine.loadAverage1mAtEnd} at end`,
  );
  out.push(
    `allocator: commit ${m.source.commit.slice(0, 12)}${m.source.sharedModified ? ' with uncommitted changes in shared/' : ''}, shared/allocator/*.ts sha256 ${m.source.allocationsSha256}`,
  );
  out.push('');
  out.push(
    `1. Ceiling: ${ceiling} conditional puts/s at concurrency 32 (median of rounds ${m.ceiling.measuredRounds.join(', ')} after warm-up rounds ${m.ceiling.warmupRounds.join(' → ')}); ` +
      `bare 3-item transactions (one allocation's writes, fresh keys): ${m.ceiling.transactionsPerSec}/s`,
  );
  out.push('');
  out.push(`2. Allocator fill of ${m.fill.cidr} (${m.fill.poolSize} addresses, ${m.fillChoice})`);
  out.push(
    table(
      [
        'phase',
        'allocs/s',
        '÷ceiling',
        '÷tx',
        'req mean',
        'p50',
        'p99',
        'max',
        'failed cond',
        'RCU',
        'WCU',
        'hot key',
        'contention',
        'requests by command per allocation',
      ],
      m.fill.phases.map((p, i) => [
        `${i === 0 ? 0 : m.fill.phases[i - 1]!.toPercent}→${p.toPercent}%`,
        p.allocsPerSec,
        round(p.allocsPerSec / ceiling, 3),
        round(p.allocsPerSec / m.ceiling.transactionsPerSec, 3),
        p.requestsMean,
        p.requestsP50,
        p.requestsP99,
        p.requestsMax,
        p.failedConditionalPerAlloc,
        p.rcuPerAlloc,
        `${p.wcuPerAllocLow}–${p.wcuPerAlloc}`,
        pct(p.hottestKeyShare),
        p.contentionErrors,
        commands(p.commandsPerAlloc),
      ]),
    ),
  );
  const first = m.fill.firstAfterFull;
  out.push(
    `   after full: first call ${first === null ? 'none' : `${first.answer} in ${first.requests} request(s) (${commands(first.commands)})`}; ` +
      `new container ${m.fill.coldAfterFull.answer} in ${m.fill.coldAfterFull.requests}; ` +
      `every worker's last call: max ${m.fill.exhaustedAnswers.requestsMax}, mean ${m.fill.exhaustedAnswers.requestsMean}; ` +
      `premature SubnetExhausted: ${m.fill.prematureExhausted}`,
  );
  out.push(
    `   whole fill: ${m.fill.total.allocsPerSec} allocs/s, ${m.fill.total.requestsMean} requests, hottest key ${pct(m.fill.total.hottestKeyShare)} of writes`,
  );
  out.push(
    '   (÷tx: allocations/s ÷ bare allocation-shaped transactions/s; req: DynamoDB requests per allocation; ' +
      "failed cond, RCU, WCU (real price, low–high): per allocation; hot key: share of the phase's writes on its most written partition key)",
  );
  const small = m.smallFill;
  out.push(
    `   a /24 (${small.cidr}, one shard) filled by 32 allocators: ${small.total.allocsPerSec} allocs/s ` +
      `(${round(small.total.allocsPerSec / m.fill.total.allocsPerSec, 2)}× the whole fill above), ${small.total.requestsMean} requests, ` +
      `WCU ${small.total.wcuPerAllocLow}–${small.total.wcuPerAlloc}, ` +
      `contention errors ${small.phases.reduce((sum, p) => sum + p.contentionErrors, 0)}, complete: ${small.complete}`,
  );
  out.push('');
  out.push('3. Size independence (50 % fill; allocate, then release elsewhere)');
  out.push(
    table(
      [
        'cidr',
        'fill',
        'allocs',
        'req/alloc',
        'p99',
        'failed cond',
        'RCU',
        'WCU',
        'requests by command',
        'pre-fill',
      ],
      m.sizes.map((s) => [
        s.cidr,
        `${s.fillPercent}%`,
        s.allocations,
        s.requestsPerAlloc,
        s.requestsP99,
        s.failedConditionalPerAlloc,
        s.rcuPerAlloc,
        `${s.wcuPerAllocLow}–${s.wcuPerAlloc}`,
        commands(s.commandsPerAlloc),
        `${s.prefill} (${s.prefillSeconds} s)`,
      ]),
    ),
  );
  out.push('');
  const b = m.neutronBaseline;
  out.push(
    `4. Neutron-style baseline, ${b.cidr} at ${b.fillPercent} %: ${b.rcuPerAlloc} RCU and ${b.requestsPerAlloc} requests per allocation, ` +
      `${b.allocsPerSec} allocs/s (${b.allocations} allocations, concurrency ${b.concurrency}, ${b.collisionsPerAlloc} collisions each)`,
  );
  const c = m.churn;
  out.push(
    `5. Churn on ${c.cidr} at ${c.fillPercent} %: ${c.pairsPerSec} release+allocate pairs/s (${c.pairs} pairs), ` +
      `${c.requestsPerPair} requests per pair (release ${c.releaseRequestsMean}, allocate ${c.allocateRequestsMean}; p99 ${c.requestsPerPairP99}), ` +
      `${c.failedConditionalPerPair} failed conditional, ${c.rcuPerPair} RCU, ${c.wcuPerPair} WCU, hottest key ${pct(c.hottestKeyShare)}`,
  );
  const k = m.bulk;
  out.push(
    `6. Bulk count=${k.count} on ${k.cidr}: ${k.requestsPerSec} requests/s (${k.addressesPerSec} addresses/s, ${k.requests} requests), ` +
      `${k.dynamoRequestsPerCall} DynamoDB requests each (p99 ${k.dynamoRequestsP99}; ${commands(k.commandsPerCall)}), ` +
      `${k.failedConditionalPerCall} failed conditional, ${k.contentionErrors} contention answers, ${k.wcuPerAddress} WCU per address`,
  );
  out.push('');
  out.push('7. Cold start');
  if (m.coldStart.functions.length === 0) out.push(`   none: ${m.coldStart.note}`);
  else {
    out.push(
      table(
        ['function', 'bytes', 'import ms (median of 5)', 'runs'],
        m.coldStart.functions.map((f) => [
          f.function,
          f.bytes,
          f.importMs ?? `failed: ${f.error ?? ''}`,
          f.importRunsMs.join(' '),
        ]),
      ),
    );
    for (const skip of m.coldStart.skipped) out.push(`   skipped ${skip.file}: ${skip.reason}`);
    out.push(`   ${m.coldStart.note}`);
  }
  out.push('');
  const v = m.verification;
  out.push(
    `Verified by a full Scan (${v.itemsScanned} items, ${v.allocationItems} allocation items, ${v.heldByLedger} addresses held): ` +
      `${v.duplicates} addresses held twice; lost ${v.lost}, strays ${v.strays}, offsets without item ${v.offsetsWithoutItem}, ` +
      `items outside their block ${v.itemsOutsideBlocks}, counter mismatches ${v.counterMismatches}`,
  );
  out.push('');
  out.push('Targets');
  for (const check of checks) {
    out.push(`  ${check.met ? 'met    ' : 'NOT met'}  ${check.target}: ${check.measured}`);
  }
  out.push('');
  for (const note of notes(m)) out.push(`note: ${note}`);
  return out.join('\n');
}
