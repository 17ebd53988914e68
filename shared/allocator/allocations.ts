/**
 * The allocator: hands out addresses of a subnet with DynamoDB conditional writes.
 *
 * An address is reserved by one transaction that (1) adds its offset to its block's
 * set of taken offsets on condition that it is not taken (or its lease expired),
 * (2) puts the allocation item, and (3) adds to the shard's usage counter on
 * condition that the counter was counted under the subnet configuration the
 * allocator used. Nothing is read-then-written without a condition, so two callers
 * can never both win one address, and a lost race costs one retry, informed by the
 * item the failed condition returns.
 *
 * Picking a candidate costs one read of a shard's blocks (≤ 64 small items) or of
 * one block, whatever the subnet's size or fill; "full" is decided from the shard
 * counters (≤ 64 tiny items), never by scanning addresses.
 */
import { randomBytes } from 'node:crypto';
import { GetCommand, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  AllocationContentionError,
  AllocationNotFoundError,
  IpAlreadyAllocatedError,
  IpNotInSubnetError,
  IpReservedError,
  MacNotApplicableError,
  OwnerMismatchError,
  SubnetExhaustedError,
  SubnetNotFoundError,
  ValidationError,
} from '../errors.js';
import { LIMITS } from '../limits.js';
import {
  addressKey,
  eui64InterfaceId,
  formatCidr,
  formatIp,
  formatMac,
  type IpAddress,
  parseIp,
  parseMac,
} from '../net/address.js';
import { randomBelow, sampleWithoutReplacement } from '../net/random.js';
import type { IpamContext } from '../store/context.js';
import { keys, parseBlockSort } from '../store/keys.js';
import { type Cursor, decodeCursor, encodeCursor, type Page } from '../store/paging.js';
import { backoffMs, type CancellationReason, RETRY, retryRead, sleep } from '../store/retry.js';
import {
  type TransactItem,
  type TransactItems,
  wasAmbiguous,
  writeTransaction,
} from '../store/transactions.js';
import {
  type BlockState,
  blockFromItem,
  emptyBlock,
  freeOffsets,
  leaseAttribute,
  offsetState,
} from '../subnets/blocks.js';
import {
  readCounters,
  type ShardCounter,
  StaleSubnetError,
  sumCounters,
} from '../subnets/counters.js';
import {
  addressAt,
  blockRange,
  type Geometry,
  geometryOf,
  type Position,
  poolSizePerShard,
  positionOf,
  shardBlocks,
  shardRange,
} from '../subnets/geometry.js';
import { assertAllocatable, clipPools, inPools } from '../subnets/rules.js';
import { address, jsonCount, type Subnet } from '../subnets/subnet.js';
import { loadSubnet } from '../subnets/subnets.js';

export const Strategy = { RANDOM: 'random', SEQUENTIAL: 'sequential' } as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

export interface AllocateInput {
  readonly ip?: string;
  readonly strategy?: Strategy;
  readonly count?: number;
  readonly macAddress?: string;
  readonly owner?: string | null;
  readonly description?: string | null;
  readonly tags?: Record<string, string>;
  readonly ttlSeconds?: number;
}

export interface UpdateAllocationInput {
  readonly owner?: string | null;
  readonly description?: string | null;
  readonly tags?: Record<string, string>;
  readonly ttlSeconds?: number;
}

export interface AllocationView {
  subnetId: string;
  ip: string;
  owner: string | null;
  description: string | null;
  tags: Record<string, string>;
  macAddress: string | null;
  createdAt: string;
  expiresAt: string | null;
}

/** Blocks per shard up to which a pick reads the whole shard (one query, ≤ 64 items). */
const WHOLE_SHARD_READ_LIMIT = 64n;
/** DynamoDB's limit of items in one transaction. */
const MAX_TRANSACTION_ITEMS = 100;
/** Blocks a random pick in a huge shard samples before it rereads the counters. */
const SAMPLES_PER_SHARD = 8;

interface Candidate {
  readonly value: bigint;
  readonly pos: Position;
  /** The offset holds an expired lease: take it over instead of adding it. */
  readonly reclaim: boolean;
}

interface Details {
  readonly owner: string | null;
  readonly description: string | null;
  readonly tags: Record<string, string>;
  readonly macAddress: string | null;
  /** Lease expiry in epoch seconds, or null for no lease. */
  readonly expiry: number | null;
}

/** What one failed transaction taught us. */
interface Lesson {
  readonly blocks: BlockState[];
  /** The subnet changed (pools, gateway) or vanished: reload it. */
  readonly subnetChanged: boolean;
  /** Addresses whose allocation item is live although the block called them free. */
  readonly heldItems: bigint[];
}

export interface AllocatorOptions {
  /**
   * How long an allocator picks from what it already knows (counters, block
   * states) before reading again, in ms; 0 reads everything afresh each time.
   */
  readonly cacheMs?: number;
}

/** Picks a view of a shard may serve before it is read again. */
const VIEW_USES = 8;
/** Free addresses in a subnet below which cached counters are read again. */
const NEARLY_FULL = 64;
/** Free addresses in a shard below which a cached view of it is read again. */
const SHARD_NEARLY_FULL = 16;
/** How long the subnet item is trusted; pool or gateway changes are caught by `pv` anyway. */
const SUBNET_CACHE_MS = 30_000;

interface KnownBlock {
  state: BlockState;
  readAt: number;
  /** Picks made from this state since it was read. */
  uses: number;
}

/**
 * What one allocator (one Lambda container) knows of a subnet. It only guides the
 * choice of candidates: a stale view costs a failed condition (whose reason
 * carries the fresh block), never a wrong allocation.
 */
interface CachedSubnet {
  subnet: Subnet;
  loadedAt: number;
  counters: ShardCounter[] | undefined;
  countersAt: number;
  blocks: Map<bigint, KnownBlock>;
  /** Shards read whole, with when and how many picks used that read. */
  shardViews: Map<number, { readAt: number; uses: number }>;
  /** Where the last random pick succeeded: tried first while its view is fresh. */
  sticky: { shard: number; block: bigint } | undefined;
}

/**
 * One allocator per process (Lambda container). Its cache only guides the choice
 * of candidates; every decision that matters is a conditional write.
 */
export class Allocator {
  private readonly cache = new Map<string, CachedSubnet>();
  private readonly cacheMs: number;

  constructor(
    private readonly ctx: IpamContext,
    options: AllocatorOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 2000;
  }

  async allocate(subnetId: string, input: AllocateInput): Promise<AllocationView[]> {
    const count = input.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > LIMITS.bulkCount) {
      throw new ValidationError(`count must be an integer from 1 to ${LIMITS.bulkCount}.`, {
        field: 'count',
      });
    }
    if (count > 1 && (input.ip !== undefined || input.macAddress !== undefined)) {
      throw new ValidationError('count cannot be combined with ip or macAddress.', {
        field: 'count',
      });
    }
    if (input.ip !== undefined && input.macAddress !== undefined) {
      throw new ValidationError('Give ip or macAddress, not both.', { field: 'macAddress' });
    }
    let entry = await this.subnetEntry(subnetId);
    let specific: IpAddress | undefined;
    try {
      specific = this.specificAddress(entry.subnet, input);
    } catch (error) {
      // "Reserved" or "not usable" may come from a cached gateway: decide on a fresh subnet.
      if (!(error instanceof IpReservedError || error instanceof IpNotInSubnetError)) throw error;
      entry = await this.subnetEntry(subnetId, true);
      specific = this.specificAddress(entry.subnet, input);
    }
    const startMs = this.ctx.now();
    const details: Details = {
      owner: input.owner ?? null,
      description: input.description ?? null,
      tags: input.tags ?? {},
      macAddress: input.macAddress === undefined ? null : formatMac(parseMac(input.macAddress)),
      expiry: input.ttlSeconds === undefined ? null : Math.floor(startMs / 1000) + input.ttlSeconds,
    };
    // Facts learned from this request's own failed writes (fresh by construction).
    const learned = new Map<bigint, BlockState>();
    const skip = new Set<bigint>();
    for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
      const subnet = entry.subnet;
      const g = geometryOf(subnet.cidr);
      let candidates: Candidate[];
      try {
        candidates =
          specific === undefined
            ? await this.pick(entry, g, input.strategy ?? Strategy.RANDOM, count, skip)
            : [await this.specificCandidate(subnet, g, specific, learned)];
      } catch (error) {
        // The counters were recounted under a newer configuration than ours.
        if (!(error instanceof StaleSubnetError)) throw error;
        entry = await this.subnetEntry(subnetId, true);
        continue;
      }
      // The clock of this attempt: a lease that expired meanwhile is judged as it is now.
      const nowMs = this.ctx.now();
      const token = randomBytes(12).toString('base64url');
      const lesson = await this.reserve(subnet, candidates, details, token, nowMs);
      if (lesson === undefined) {
        this.noteAllocated(entry, candidates, details);
        return candidates.map((candidate) =>
          allocationView(subnet, candidate.value, details, nowMs),
        );
      }
      for (const block of lesson.blocks) {
        learned.set(block.block, block);
        entry.blocks.set(block.block, { state: block, readAt: this.ctx.now(), uses: 0 });
      }
      for (const value of lesson.heldItems) skip.add(value);
      if (lesson.subnetChanged) {
        entry = await this.subnetEntry(subnetId, true);
        learned.clear();
        // The gateway may have moved: the specific address is checked again.
        if (specific !== undefined) specific = this.specificAddress(entry.subnet, input);
      }
      await sleep(backoffMs(attempt));
    }
    throw new AllocationContentionError(
      `Concurrent requests took every address this request tried in subnet ${subnetId} ` +
        `(${RETRY.attempts} tries); free addresses remain, so retry shortly.`,
    );
  }

  /** The exact address asked for (ip or macAddress), checked against the subnet's rules. */
  private specificAddress(subnet: Subnet, input: AllocateInput): IpAddress | undefined {
    if (input.macAddress !== undefined) {
      if (subnet.cidr.version !== 6 || subnet.cidr.prefixLength !== 64) {
        throw new MacNotApplicableError(
          `macAddress needs an IPv6 /64 subnet; ${formatCidr(subnet.cidr)} is not one. Allocate by ip or strategy instead.`,
          { cidr: formatCidr(subnet.cidr) },
        );
      }
      const ip = address(6, subnet.cidr.network | eui64InterfaceId(parseMac(input.macAddress)));
      assertAllocatable(subnet.cidr, subnet.gateway, ip);
      return ip;
    }
    if (input.ip === undefined) return undefined;
    const ip = parseIp(input.ip);
    assertAllocatable(subnet.cidr, subnet.gateway, ip);
    return ip;
  }

  private async specificCandidate(
    subnet: Subnet,
    g: Geometry,
    ip: IpAddress,
    learned: Map<bigint, BlockState>,
  ): Promise<Candidate> {
    const pos = positionOf(g, ip.value);
    // Only what this request saw decides "taken": a cached view may be stale.
    const block = learned.get(pos.block);
    const state = block === undefined ? 'free' : offsetState(block, pos.offset, this.nowSeconds());
    if (state === 'held') {
      const holder = await this.readAllocation(subnet, ip);
      throw new IpAlreadyAllocatedError(formatIp(ip), holder?.owner ?? null);
    }
    return { value: ip.value, pos, reclaim: state === 'expired' };
  }

  /** Chooses `count` free pool addresses by strategy, or throws SubnetExhausted. */
  private async pick(
    entry: CachedSubnet,
    g: Geometry,
    strategy: Strategy,
    count: number,
    skip: ReadonlySet<bigint>,
  ): Promise<Candidate[]> {
    const subnet = entry.subnet;
    const poolPerShard = poolSizePerShard(g, subnet.pools);
    let fresh = false;
    let consistent = false;
    for (;;) {
      if (entry.counters === undefined || this.ctx.now() - entry.countersAt > this.cacheMs) {
        entry.counters = await readCounters(this.ctx, subnet, consistent);
        entry.countersAt = this.ctx.now();
        fresh = true;
      }
      const counters = entry.counters;
      const freePerShard = counters.map((counter, shard) => {
        const free = (poolPerShard[shard] ?? 0n) - BigInt(counter.p);
        return free > 0n ? free : 0n;
      });
      // Nearly full: what others took since the cache was filled matters now. Read
      // the counters afresh (a full subnet is then answered without a write).
      if (
        !fresh &&
        freePerShard.reduce((sum, free) => sum + free, 0n) < BigInt(count + NEARLY_FULL)
      ) {
        entry.counters = undefined;
        continue;
      }
      const shards = orderShards(strategy, freePerShard, counters);
      const sticky = entry.sticky?.shard;
      if (
        strategy === Strategy.RANDOM &&
        sticky !== undefined &&
        (freePerShard[sticky] ?? 0n) > 0n &&
        this.hasFreshView(entry, sticky)
      ) {
        // Stay while this allocator's view of the shard is fresh (no read needed to
        // pick there); then draw the shard anew, weighted by free addresses, so the
        // writers spread over all shards.
        shards.splice(shards.indexOf(sticky), 1);
        shards.unshift(sticky);
      }
      const chosen: Candidate[] = [];
      for (const shard of shards) {
        const wanted = count - chosen.length;
        const taken = new Set([...skip, ...chosen.map((candidate) => candidate.value)]);
        // A shard with few free addresses changes fast under concurrent writers: read it.
        if ((freePerShard[shard] ?? 0n) < BigInt(SHARD_NEARLY_FULL)) entry.shardViews.delete(shard);
        const found = await this.pickInShard(entry, g, shard, strategy, wanted, taken);
        chosen.push(...found);
        if (chosen.length === count) return chosen;
        // Cached counters promised free addresses this shard does not have: read them
        // again before walking further shards on their word (a full subnet is then
        // answered in two requests).
        if (!fresh && (freePerShard[shard] ?? 0n) > BigInt(found.length)) break;
      }
      if (!fresh) {
        // The cached counters promised more than the blocks hold: reread them once.
        entry.counters = undefined;
        continue;
      }
      const counts = sumCounters(counters);
      const total = poolPerShard.reduce((sum, size) => sum + size, 0n);
      if (counts.inPools + BigInt(count) <= total && chosen.length < count) {
        // Free by the counters, but other writers hold the rest right now.
        throw new AllocationContentionError(
          `Free addresses in subnet ${subnet.id} are being taken by concurrent requests; retry shortly.`,
        );
      }
      if (!consistent) {
        // "Full" is decided on a strongly consistent read: a release a moment ago counts.
        consistent = true;
        entry.counters = undefined;
        continue;
      }
      throw new SubnetExhaustedError(jsonCount(total), jsonCount(counts.inPools), count);
    }
  }

  /**
   * Up to `wanted` free pool addresses of one shard. Random picks in a small shard
   * use this allocator's view of the whole shard while it is fresh (at most
   * VIEW_USES picks or cacheMs old), else read the shard (one query, ≤ 64 items) and
   * choose uniformly among its free addresses; a huge shard (IPv6, big IPv4) is
   * sampled block by block. Sequential picks always read, in address order.
   */
  private async pickInShard(
    entry: CachedSubnet,
    g: Geometry,
    shard: number,
    strategy: Strategy,
    wanted: number,
    skip: ReadonlySet<bigint>,
  ): Promise<Candidate[]> {
    const subnet = entry.subnet;
    const nowSeconds = this.nowSeconds();
    const range = shardRange(g, shard);
    const pools = clipPools(subnet.pools, range.start, range.end);
    if (pools.length === 0) return [];
    const candidateOf = (state: BlockState, offset: number): Candidate => {
      const value = addressAt(g, state.block, offset);
      return { value, pos: positionOf(g, value), reclaim: state.used.has(offset) };
    };
    if (strategy === Strategy.SEQUENTIAL) {
      const found: Candidate[] = [];
      for await (const state of this.blocksOfShard(entry, g, shard)) {
        for (const offset of freeOffsets(g, state, pools, nowSeconds)) {
          const candidate = candidateOf(state, offset);
          if (skip.has(candidate.value)) continue;
          found.push(candidate);
          if (found.length === wanted) return found;
        }
      }
      return found;
    }
    const { first, last } = shardBlocks(g, shard);
    if (last - first + 1n <= WHOLE_SHARD_READ_LIMIT) {
      const view = entry.shardViews.get(shard);
      const fresh = view !== undefined && this.isFresh(view);
      if (!fresh) for await (const _ of this.blocksOfShard(entry, g, shard));
      entry.shardViews.get(shard)!.uses++;
      const free: Candidate[] = [];
      for (let block = first; block <= last; block++) {
        const state = entry.blocks.get(block)?.state ?? emptyBlock(block);
        for (const offset of freeOffsets(g, state, pools, nowSeconds)) {
          const candidate = candidateOf(state, offset);
          if (!skip.has(candidate.value)) free.push(candidate);
        }
      }
      // A stale view may show too little: read before concluding the shard is full.
      if (fresh && free.length < wanted) {
        entry.shardViews.delete(shard);
        return this.pickInShard(entry, g, shard, strategy, wanted, skip);
      }
      return sampleWithoutReplacement(free, wanted);
    }
    // A huge shard: the sticky block while fresh, else uniform samples, one block read each.
    const found = new Map<bigint, Candidate>();
    const sticky = entry.sticky?.shard === shard ? entry.sticky.block : undefined;
    for (let sample = 0; sample <= SAMPLES_PER_SHARD && found.size < wanted; sample++) {
      const value =
        sample === 0 && sticky !== undefined ? addressAt(g, sticky, 0) : randomPoolAddress(pools);
      const pos = positionOf(g, value);
      let known = entry.blocks.get(pos.block);
      if (known === undefined || !this.isFresh(known)) {
        if (sample === 0 && sticky !== undefined) continue;
        known = { state: await this.readBlock(subnet, pos), readAt: this.ctx.now(), uses: 0 };
        entry.blocks.set(pos.block, known);
      }
      known.uses++;
      const { start, end } = blockRange(g, pos.block);
      const free = freeOffsets(g, known.state, clipPools(pools, start, end), nowSeconds)
        .map((offset) => candidateOf(known.state, offset))
        .filter((candidate) => !skip.has(candidate.value) && !found.has(candidate.value));
      // A sampled address that is free is taken as drawn; otherwise any free one of its block.
      const sampled = !(sample === 0 && sticky !== undefined);
      const preferred = sampled ? free.filter((candidate) => candidate.value === value) : [];
      for (const candidate of [...preferred, ...sampleWithoutReplacement(free, wanted)]) {
        if (found.size === wanted) break;
        found.set(candidate.value, candidate);
      }
    }
    return [...found.values()];
  }

  /** Whether a random pick in `shard` can be made from what this allocator knows. */
  private hasFreshView(entry: CachedSubnet, shard: number): boolean {
    const view = entry.shardViews.get(shard);
    if (view !== undefined) return this.isFresh(view);
    const block = entry.sticky?.shard === shard ? entry.blocks.get(entry.sticky.block) : undefined;
    return block !== undefined && this.isFresh(block);
  }

  private isFresh(view: { readAt: number; uses: number }): boolean {
    return this.ctx.now() - view.readAt <= this.cacheMs && view.uses < VIEW_USES;
  }

  /**
   * Every block of a shard in address order, read by one range query (paged):
   * blocks without an item are wholly free. Records what it read as a fresh view.
   */
  private async *blocksOfShard(
    entry: CachedSubnet,
    g: Geometry,
    shard: number,
  ): AsyncGenerator<BlockState> {
    const { first, last } = shardBlocks(g, shard);
    const readAt = this.ctx.now();
    const record = (state: BlockState) => {
      entry.blocks.set(state.block, { state, readAt, uses: 0 });
      return state;
    };
    let next = first;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page: QueryCommandOutput = await this.ctx.doc.send(
        new QueryCommand({
          TableName: this.ctx.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
          ExpressionAttributeValues: {
            ':pk': keys.shardPartition(entry.subnet.id, shard),
            ':first': keys.blockSort(first),
            ':last': keys.blockSort(last),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const block = parseBlockSort(String(item.sk));
        for (; next < block; next++) yield record(emptyBlock(next));
        yield record(blockFromItem(block, item));
        next = block + 1n;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    for (; next <= last; next++) yield record(emptyBlock(next));
    entry.shardViews.set(shard, { readAt, uses: 0 });
  }

  private async readBlock(subnet: Subnet, pos: Position): Promise<BlockState> {
    const result = await this.ctx.doc.send(
      new GetCommand({
        TableName: this.ctx.tableName,
        Key: keys.block(subnet.id, pos.shard, pos.block),
      }),
    );
    return blockFromItem(pos.block, result.Item);
  }

  /**
   * Writes the reservation; undefined on success, else what the failed conditions
   * showed. Small requests are one transaction; larger ones go through a pending
   * record (see reserveInSteps).
   */
  private async reserve(
    subnet: Subnet,
    candidates: readonly Candidate[],
    details: Details,
    token: string,
    nowMs: number,
  ): Promise<Lesson | undefined> {
    const plan = planWrites(this.ctx, subnet, candidates, details, token, nowMs);
    const reservation = plan.reservation.flat();
    if (reservation.length + plan.items.length <= MAX_TRANSACTION_ITEMS) {
      return this.transact([...reservation, ...plan.items], () =>
        this.itemsCarry(subnet, candidates, token),
      );
    }
    return this.reserveInSteps(subnet, plan, candidates, token);
  }

  /**
   * A request too large for one transaction: record the plan as a pending item,
   * reserve, write the allocation items, then delete the record (the commit point).
   * A failure part-way undoes what was written; a crash leaves the record for the
   * audit, which undoes it after the grace period.
   */
  private async reserveInSteps(
    subnet: Subnet,
    plan: WritePlan,
    candidates: readonly Candidate[],
    token: string,
  ): Promise<Lesson | undefined> {
    const pendingKey = keys.pending(subnet.id, token);
    await writeTransaction(this.ctx, [
      {
        Put: {
          TableName: this.ctx.tableName,
          Item: {
            ...pendingKey,
            type: 'pending',
            subnetId: subnet.id,
            token,
            ips: candidates.map((candidate) =>
              formatIp(address(subnet.cidr.version, candidate.value)),
            ),
            createdAt: new Date(this.ctx.now()).toISOString(),
          },
        },
      },
    ]);
    let lesson: Lesson | undefined;
    const progress = { committed: 0, ambiguous: false };
    try {
      lesson = await this.transactChunks(
        [...packGroups(plan.reservation), ...chunk(plan.items)],
        progress,
      );
      if (lesson === undefined) {
        // The commit point: once the record is gone, the allocation stands.
        await writeTransaction(this.ctx, [
          { Delete: { TableName: this.ctx.tableName, Key: pendingKey } },
        ]);
        return undefined;
      }
    } catch (error) {
      // All or nothing: undo what was written, then report the failure. If the undo
      // fails too, the pending record stays for the audit to undo.
      const undone = await undoPending(this.ctx, subnet.id, token).catch(() => 0);
      // No record left means the commit above did land before its answer was lost.
      if (undone === undefined) return undefined;
      throw error;
    }
    if (progress.committed === 0 && !progress.ambiguous) {
      // The first transaction was refused outright: nothing was written but the record.
      await writeTransaction(this.ctx, [
        { Delete: { TableName: this.ctx.tableName, Key: pendingKey } },
      ]);
    } else {
      await undoPending(this.ctx, subnet.id, token);
    }
    return lesson;
  }

  private async transactChunks(
    chunks: readonly PlannedWrite[][],
    progress: { committed: number; ambiguous: boolean },
  ): Promise<Lesson | undefined> {
    for (const writes of chunks) {
      const lesson = await this.transact(writes, undefined, progress);
      if (lesson !== undefined) return lesson;
      progress.committed++;
    }
    return undefined;
  }

  /**
   * One transaction; undefined when it was applied. When an earlier attempt may
   * have landed (a lost response), `landed` re-reads to tell "we won before the
   * answer was lost" from "we lost the race".
   */
  private async transact(
    writes: readonly PlannedWrite[],
    landed?: () => Promise<boolean>,
    progress?: { ambiguous: boolean },
  ): Promise<Lesson | undefined> {
    let outcome: Awaited<ReturnType<typeof writeTransaction>>;
    try {
      outcome = await writeTransaction(
        this.ctx,
        writes.map((write) => write.item),
      );
      if (progress !== undefined && outcome.ambiguous) progress.ambiguous = true;
    } catch (error) {
      if (wasAmbiguous(error) && landed !== undefined && (await landed())) return undefined;
      throw error;
    }
    if (outcome.canceled === undefined) return undefined;
    if (outcome.ambiguous && landed !== undefined && (await landed())) return undefined;
    return learn(writes, outcome.canceled.CancellationReasons ?? []);
  }

  /** Whether every candidate's allocation item was written by request `token`. */
  private async itemsCarry(
    subnet: Subnet,
    candidates: readonly Candidate[],
    token: string,
  ): Promise<boolean> {
    for (const candidate of candidates) {
      const ip = address(subnet.cidr.version, candidate.value);
      const item = await retryRead(() => this.readAllocation(subnet, ip));
      if (item?.reqToken !== token) return false;
    }
    return true;
  }

  /**
   * Keeps this allocator's view in step with its own writes — counters, the blocks
   * it wrote, and where to pick next — so the next pick needs no read.
   */
  private noteAllocated(
    entry: CachedSubnet,
    candidates: readonly Candidate[],
    details: Details,
  ): void {
    const counters = entry.counters === undefined ? undefined : [...entry.counters];
    for (const candidate of candidates) {
      const { shard, block, offset } = candidate.pos;
      const counter = counters?.[shard];
      if (counters !== undefined && counter !== undefined && !candidate.reclaim) {
        const added = inPools(entry.subnet.pools, candidate.value) ? 1 : 0;
        counters[shard] = { ...counter, n: counter.n + 1, p: counter.p + added };
      }
      const known = entry.blocks.get(block);
      if (known !== undefined) {
        const used = new Set(known.state.used).add(offset);
        const leases = new Map(known.state.leases);
        if (details.expiry === null) leases.delete(offset);
        else leases.set(offset, details.expiry);
        known.state = { block, used, leases };
      }
    }
    entry.counters = counters;
    const last = candidates[candidates.length - 1];
    if (last !== undefined) entry.sticky = { shard: last.pos.shard, block: last.pos.block };
  }

  /** Keeps this allocator's view in step with its own release. */
  private noteReleased(entry: CachedSubnet, pos: Position, value: bigint, leased: boolean): void {
    const counter = entry.counters?.[pos.shard];
    if (entry.counters !== undefined && counter !== undefined) {
      const counters = [...entry.counters];
      const removed = inPools(entry.subnet.pools, value) ? 1 : 0;
      counters[pos.shard] = {
        ...counter,
        n: counter.n - 1,
        p: counter.p - removed,
        l: counter.l - (leased ? 1 : 0),
      };
      entry.counters = counters;
    }
    const known = entry.blocks.get(pos.block);
    if (known !== undefined) {
      const used = new Set(known.state.used);
      used.delete(pos.offset);
      const leases = new Map(known.state.leases);
      leases.delete(pos.offset);
      known.state = { block: pos.block, used, leases };
    }
  }

  /** Releases an address; with `owner`, only if that owner holds it. */
  async release(subnetId: string, ipText: string, owner?: string): Promise<void> {
    let entry = await this.subnetEntry(subnetId);
    for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
      const subnet = entry.subnet;
      const ip = this.addressIn(subnet, ipText);
      const g = geometryOf(subnet.cidr);
      const current = await this.readAllocation(subnet, ip);
      if (current === undefined) {
        // A cached subnet may be gone: then that is the answer.
        await loadSubnet(this.ctx, subnetId);
        throw new AllocationNotFoundError(subnetId, formatIp(ip));
      }
      if (owner !== undefined && current.owner !== owner) {
        throw new OwnerMismatchError(formatIp(ip), owner, current.owner);
      }
      const pos = positionOf(g, ip.value);
      const leased = current.ttl !== undefined;
      const lesson = await this.transact(
        releaseWrites(this.ctx, subnet, pos, ip.value, current),
        async () =>
          (await retryRead(() => this.readAllocation(subnet, ip)))?.reqToken !== current.reqToken,
      );
      if (lesson === undefined) {
        this.noteReleased(entry, pos, ip.value, leased);
        return;
      }
      // The pools or gateway changed (or the subnet went): decide again on fresh facts.
      if (lesson.subnetChanged) entry = await this.subnetEntry(subnetId, true);
      await sleep(backoffMs(attempt));
    }
    throw new AllocationContentionError(
      `${ipText} kept changing while it was being released; retry.`,
    );
  }

  async get(subnetId: string, ipText: string): Promise<AllocationView> {
    const subnet = await loadSubnet(this.ctx, subnetId);
    const ip = this.addressIn(subnet, ipText);
    const item = await this.readAllocation(subnet, ip);
    if (item === undefined) throw new AllocationNotFoundError(subnetId, formatIp(ip));
    return viewFromItem(item);
  }

  /** PATCH: owner, description, tags; ttlSeconds sets a new lease expiry from now. */
  async update(
    subnetId: string,
    ipText: string,
    input: UpdateAllocationInput,
  ): Promise<AllocationView> {
    for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
      const subnet = await loadSubnet(this.ctx, subnetId);
      const ip = this.addressIn(subnet, ipText);
      const current = await this.readAllocation(subnet, ip);
      if (current === undefined) throw new AllocationNotFoundError(subnetId, formatIp(ip));
      const g = geometryOf(subnet.cidr);
      const pos = positionOf(g, ip.value);
      const nowSeconds = this.nowSeconds();
      const expiry = input.ttlSeconds === undefined ? current.ttl : nowSeconds + input.ttlSeconds;
      const next: AllocationItem = {
        ...current,
        owner: input.owner === undefined ? current.owner : input.owner,
        description: input.description === undefined ? current.description : input.description,
        tags: input.tags ?? current.tags,
        expiresAt: expiry === undefined ? null : new Date(expiry * 1000).toISOString(),
        ...(expiry === undefined ? {} : { ttl: expiry }),
      };
      const writes: PlannedWrite[] = [
        {
          kind: 'item',
          value: ip.value,
          item: {
            Put: {
              TableName: this.ctx.tableName,
              Item: withOwnerIndex(next),
              ...unchangedSince(current),
            },
          },
        },
      ];
      if (input.ttlSeconds !== undefined) {
        writes.push(leaseWrite(this.ctx, subnet, pos, expiry!, nowSeconds));
        if (current.ttl === undefined)
          writes.push(counterWrite(this.ctx, subnet, pos.shard, 0, 0, 1));
      }
      const lesson = await this.transact(writes, async () => {
        const stored = await retryRead(() => this.readAllocation(subnet, ip));
        return (
          stored !== undefined &&
          JSON.stringify(viewFromItem(stored)) === JSON.stringify(viewFromItem(next))
        );
      });
      if (lesson === undefined) return viewFromItem(next);
      await sleep(backoffMs(attempt));
    }
    throw new AllocationContentionError(
      `${ipText} kept changing while it was being updated; retry.`,
    );
  }

  async list(
    subnetId: string,
    query: { owner?: string; limit: number; cursor?: string },
  ): Promise<Page<AllocationView>> {
    const subnet = await loadSubnet(this.ctx, subnetId);
    if (query.owner !== undefined)
      return listByOwner(this.ctx, query.owner, query, `${subnet.id}#`);
    const g = geometryOf(subnet.cidr);
    const cursor = decodeCursor(query.cursor, ['shard', 'sk']);
    let shard = cursor === undefined ? 0 : Number(cursor.shard);
    if (!Number.isInteger(shard) || shard < 0 || shard > g.shardCount) {
      throw new ValidationError('The cursor does not belong to this subnet.', { field: 'cursor' });
    }
    let startKey: Cursor | undefined = cursor?.sk
      ? { pk: keys.shardPartition(subnet.id, shard), sk: cursor.sk }
      : undefined;
    const items: AllocationView[] = [];
    for (; shard < g.shardCount; shard++) {
      do {
        const page: QueryCommandOutput = await this.ctx.doc.send(
          new QueryCommand({
            TableName: this.ctx.tableName,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :ip)',
            FilterExpression: 'attribute_not_exists(#ttl) OR #ttl > :now',
            ExpressionAttributeNames: { '#ttl': 'ttl' },
            ExpressionAttributeValues: {
              ':pk': keys.shardPartition(subnet.id, shard),
              ':ip': 'IP#',
              ':now': this.nowSeconds(),
            },
            Limit: query.limit - items.length,
            ExclusiveStartKey: startKey,
          }),
        );
        items.push(...(page.Items ?? []).map((item) => viewFromItem(item as AllocationItem)));
        startKey = page.LastEvaluatedKey as Cursor | undefined;
        if (items.length >= query.limit) {
          const next =
            startKey !== undefined
              ? { shard: String(shard), sk: startKey.sk ?? '' }
              : shard + 1 < g.shardCount
                ? { shard: String(shard + 1), sk: '' }
                : undefined;
          return { items, nextCursor: encodeCursor(next) };
        }
      } while (startKey !== undefined);
    }
    return { items, nextCursor: null };
  }

  /** Parses `ipText` and requires it to be an address of the subnet (else 404). */
  private addressIn(subnet: Subnet, ipText: string): IpAddress {
    const ip = parseIp(ipText);
    if (
      ip.version !== subnet.cidr.version ||
      positionOf(geometryOf(subnet.cidr), ip.value).block < 0n
    ) {
      throw new AllocationNotFoundError(subnet.id, formatIp(ip));
    }
    const g = geometryOf(subnet.cidr);
    if (ip.value < g.network || ip.value >= g.network + g.size) {
      throw new AllocationNotFoundError(subnet.id, formatIp(ip));
    }
    return ip;
  }

  /** The live allocation item of an address, or undefined (expired leases are not live). */
  private async readAllocation(subnet: Subnet, ip: IpAddress): Promise<AllocationItem | undefined> {
    const pos = positionOf(geometryOf(subnet.cidr), ip.value);
    const result = await this.ctx.doc.send(
      new GetCommand({
        TableName: this.ctx.tableName,
        Key: keys.allocation(subnet.id, pos.shard, ip),
        ConsistentRead: true,
      }),
    );
    const item = result.Item as AllocationItem | undefined;
    if (item === undefined) return undefined;
    if (item.ttl !== undefined && item.ttl <= this.nowSeconds()) return undefined;
    return item;
  }

  private async subnetEntry(subnetId: string, reload = false): Promise<CachedSubnet> {
    const cached = this.cache.get(subnetId);
    const maxAge = this.cacheMs === 0 ? 0 : SUBNET_CACHE_MS;
    if (!reload && cached !== undefined && this.ctx.now() - cached.loadedAt <= maxAge)
      return cached;
    const subnet = await loadSubnet(this.ctx, subnetId);
    const entry: CachedSubnet = {
      subnet,
      loadedAt: this.ctx.now(),
      counters: undefined,
      countersAt: 0,
      blocks: new Map(),
      shardViews: new Map(),
      sticky: undefined,
    };
    this.cache.set(subnetId, entry);
    return entry;
  }

  private nowSeconds(): number {
    return Math.floor(this.ctx.now() / 1000);
  }
}

/** Lists one owner's live allocations (across subnets, or within those whose id starts the sort key). */
export async function listByOwner(
  ctx: IpamContext,
  owner: string,
  query: { limit: number; cursor?: string },
  sortPrefix = '',
): Promise<Page<AllocationView>> {
  let startKey: Cursor | undefined = decodeCursor(query.cursor, ['pk', 'sk', 'gsi1pk', 'gsi1sk']);
  const items: AllocationView[] = [];
  do {
    const page: QueryCommandOutput = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression:
          sortPrefix === '' ? 'gsi1pk = :pk' : 'gsi1pk = :pk AND begins_with(gsi1sk, :prefix)',
        FilterExpression: 'attribute_not_exists(#ttl) OR #ttl > :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: {
          ':pk': keys.owner(owner),
          ':now': Math.floor(ctx.now() / 1000),
          ...(sortPrefix === '' ? {} : { ':prefix': sortPrefix }),
        },
        Limit: query.limit - items.length,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []).map((item) => viewFromItem(item as AllocationItem)));
    startKey = page.LastEvaluatedKey as Cursor | undefined;
  } while (startKey !== undefined && items.length < query.limit);
  return { items, nextCursor: encodeCursor(startKey) };
}

/**
 * Undoes a pending (multi-step) request: deletes its allocation items and frees
 * the offsets it reserved — each only where it still carries the request's token,
 * so nothing that another request holds is touched. Returns how many addresses
 * were freed, or undefined when no such pending record exists (already committed
 * or undone). Used on failure, and by the audit for a crashed request.
 */
export async function undoPending(
  ctx: IpamContext,
  subnetId: string,
  token: string,
): Promise<number | undefined> {
  const pendingKey = keys.pending(subnetId, token);
  const record = await ctx.doc.send(
    new GetCommand({ TableName: ctx.tableName, Key: pendingKey, ConsistentRead: true }),
  );
  if (record.Item === undefined) return undefined;
  let freed = 0;
  try {
    const current = { subnet: await loadSubnet(ctx, subnetId) };
    for (const text of record.Item.ips as string[]) {
      freed += await undoOne(ctx, current, parseIp(text), token);
    }
  } catch (error) {
    // Its counters and blocks went with it; the audit deletes what is left.
    if (!(error instanceof SubnetNotFoundError)) throw error;
  }
  await writeTransaction(ctx, [{ Delete: { TableName: ctx.tableName, Key: pendingKey } }]);
  return freed;
}

/**
 * Frees one address of a pending request if it still carries the request's token.
 * A cancelled undo (the pools changed, say) is re-read and retried; if it keeps
 * failing it throws, and the pending record stays for the audit.
 */
async function undoOne(
  ctx: IpamContext,
  current: { subnet: Subnet },
  ip: IpAddress,
  token: string,
): Promise<number> {
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    // Reloaded after a cancellation: the pools may have changed under the undo.
    if (attempt > 0) current.subnet = await loadSubnet(ctx, current.subnet.id);
    const subnet = current.subnet;
    const pos = positionOf(geometryOf(subnet.cidr), ip.value);
    const tokenName = tokenAttribute(pos.offset);
    const read = (key: Record<string, string>) =>
      ctx.doc.send(new GetCommand({ TableName: ctx.tableName, Key: key, ConsistentRead: true }));
    const block = await read(keys.block(subnet.id, pos.shard, pos.block));
    const item = await read(keys.allocation(subnet.id, pos.shard, ip));
    const writes: TransactItems = [];
    if (item.Item?.reqToken === token) {
      writes.push({
        Delete: {
          TableName: ctx.tableName,
          Key: keys.allocation(subnet.id, pos.shard, ip),
          ConditionExpression: 'reqToken = :token',
          ExpressionAttributeValues: { ':token': token },
        },
      });
    }
    const reserved = block.Item?.[tokenName] === token;
    if (reserved) {
      const state = blockFromItem(pos.block, block.Item);
      const inPool = inPools(subnet.pools, ip.value) ? -1 : 0;
      writes.push(
        {
          Update: {
            TableName: ctx.tableName,
            Key: keys.block(subnet.id, pos.shard, pos.block),
            UpdateExpression: `DELETE u :offset REMOVE ${leaseAttribute(pos.offset)}, ${tokenName}`,
            ConditionExpression: `${tokenName} = :token`,
            ExpressionAttributeValues: { ':offset': new Set([pos.offset]), ':token': token },
          },
        },
        counterWrite(ctx, subnet, pos.shard, -1, inPool, state.leases.has(pos.offset) ? -1 : 0)
          .item,
      );
    }
    if (writes.length === 0) return 0;
    const outcome = await writeTransaction(ctx, writes);
    if (outcome.canceled === undefined) return reserved ? 1 : 0;
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `The reservation of ${formatIp(ip)} could not be undone while subnet ${current.subnet.id} kept changing; ` +
      'the audit will free it after the grace period.',
  );
}

// ---------------------------------------------------------------------------
// Items and the writes that change them

export interface AllocationItem extends AllocationView {
  pk: string;
  sk: string;
  type: 'allocation';
  /** Lease expiry, epoch seconds (the table's TTL attribute). */
  ttl?: number;
  /** The request that wrote it: releases and undos match it, so they never hit a successor. */
  reqToken: string;
  gsi1pk?: string;
  gsi1sk?: string;
}

function withOwnerIndex(item: AllocationItem): AllocationItem {
  const { gsi1pk: _pk, gsi1sk: _sk, ...rest } = item;
  if (item.owner === null) return rest;
  const ip = parseIp(item.ip);
  return { ...rest, gsi1pk: keys.owner(item.owner), gsi1sk: `${item.subnetId}#${addressKey(ip)}` };
}

function viewFromItem(item: AllocationItem): AllocationView {
  return {
    subnetId: item.subnetId,
    ip: item.ip,
    owner: item.owner ?? null,
    description: item.description ?? null,
    tags: item.tags ?? {},
    macAddress: item.macAddress ?? null,
    createdAt: item.createdAt,
    expiresAt: item.expiresAt ?? null,
  };
}

function allocationView(
  subnet: Subnet,
  value: bigint,
  details: Details,
  nowMs: number,
): AllocationView {
  return viewFromItem(allocationItem(subnet, value, details, nowMs, ''));
}

function allocationItem(
  subnet: Subnet,
  value: bigint,
  details: Details,
  nowMs: number,
  token: string,
): AllocationItem {
  const ip = address(subnet.cidr.version, value);
  const pos = positionOf(geometryOf(subnet.cidr), value);
  return withOwnerIndex({
    ...keys.allocation(subnet.id, pos.shard, ip),
    type: 'allocation',
    subnetId: subnet.id,
    ip: formatIp(ip),
    owner: details.owner,
    description: details.description,
    tags: details.tags,
    macAddress: details.macAddress,
    createdAt: new Date(nowMs).toISOString(),
    expiresAt: details.expiry === null ? null : new Date(details.expiry * 1000).toISOString(),
    ...(details.expiry === null ? {} : { ttl: details.expiry }),
    reqToken: token,
  });
}

/** A write with what it is about, so a cancellation reason can be read back. */
type PlannedWrite =
  | { readonly kind: 'block'; readonly block: bigint; readonly item: TransactItem }
  | { readonly kind: 'item'; readonly value: bigint; readonly item: TransactItem }
  | { readonly kind: 'counter'; readonly item: TransactItem };

interface WritePlan {
  /**
   * The reservation itself, one group per shard: its block updates and its counter
   * update. A group is never split across transactions, so a counter always
   * changes together with exactly the blocks it counts.
   */
  readonly reservation: PlannedWrite[][];
  /** The allocation items. */
  readonly items: PlannedWrite[];
}

export const tokenAttribute = (offset: number) => `t${offset}`;

function planWrites(
  ctx: IpamContext,
  subnet: Subnet,
  candidates: readonly Candidate[],
  details: Details,
  token: string,
  nowMs: number,
): WritePlan {
  const nowSeconds = Math.floor(nowMs / 1000);
  const byBlock = new Map<bigint, Candidate[]>();
  for (const candidate of candidates) {
    byBlock.set(candidate.pos.block, [...(byBlock.get(candidate.pos.block) ?? []), candidate]);
  }
  const blocksByShard = new Map<number, PlannedWrite[]>();
  const deltas = new Map<number, { n: number; p: number; l: number }>();
  const leased = details.expiry !== null;
  for (const [block, group] of byBlock) {
    const shard = group[0]!.pos.shard;
    const values: Record<string, unknown> = { ':token': token };
    const conditions: string[] = [];
    const sets: string[] = [];
    const removes: string[] = [];
    const added: number[] = [];
    for (const candidate of group) {
      const offset = candidate.pos.offset;
      const lease = leaseAttribute(offset);
      values[`:o${offset}`] = offset;
      if (candidate.reclaim) {
        values[':now'] = nowSeconds;
        conditions.push(`(contains(u, :o${offset}) AND ${lease} <= :now)`);
      } else {
        conditions.push(`NOT contains(u, :o${offset})`);
        added.push(offset);
      }
      if (leased) sets.push(`${lease} = :expiry`);
      else if (candidate.reclaim) removes.push(lease);
      sets.push(`${tokenAttribute(offset)} = :token`);
      const delta = deltas.get(shard) ?? { n: 0, p: 0, l: 0 };
      const wasLeased = candidate.reclaim ? 1 : 0;
      if (!candidate.reclaim) {
        delta.n += 1;
        delta.p += inPools(subnet.pools, candidate.value) ? 1 : 0;
      }
      delta.l += (leased ? 1 : 0) - wasLeased;
      deltas.set(shard, delta);
    }
    if (leased) values[':expiry'] = details.expiry;
    if (added.length > 0) values[':added'] = new Set(added);
    const update = [
      sets.length > 0 ? `SET ${sets.join(', ')}` : '',
      added.length > 0 ? 'ADD u :added' : '',
      removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const shardBlocksWrites = blocksByShard.get(shard) ?? [];
    blocksByShard.set(shard, shardBlocksWrites);
    shardBlocksWrites.push({
      kind: 'block',
      block,
      item: {
        Update: {
          TableName: ctx.tableName,
          Key: keys.block(subnet.id, shard, block),
          UpdateExpression: update,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    });
  }
  const reservation = [...blocksByShard].map(([shard, blocks]) => {
    const delta = deltas.get(shard)!;
    return [...blocks, counterWrite(ctx, subnet, shard, delta.n, delta.p, delta.l)];
  });
  const items: PlannedWrite[] = candidates.map((candidate) => ({
    kind: 'item',
    value: candidate.value,
    item: {
      Put: {
        TableName: ctx.tableName,
        Item: allocationItem(subnet, candidate.value, details, nowMs, token),
        ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':now': nowSeconds },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  }));
  return { reservation, items };
}

/** Transactions of whole groups, each at most MAX_TRANSACTION_ITEMS items. */
function packGroups(groups: readonly PlannedWrite[][]): PlannedWrite[][] {
  const chunks: PlannedWrite[][] = [];
  let current: PlannedWrite[] = [];
  for (const group of groups) {
    if (group.length > MAX_TRANSACTION_ITEMS)
      throw new Error('a shard group exceeds one transaction');
    if (current.length + group.length > MAX_TRANSACTION_ITEMS) {
      chunks.push(current);
      current = [];
    }
    current.push(...group);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function chunk(writes: readonly PlannedWrite[]): PlannedWrite[][] {
  const chunks: PlannedWrite[][] = [];
  for (let i = 0; i < writes.length; i += MAX_TRANSACTION_ITEMS)
    chunks.push(writes.slice(i, i + MAX_TRANSACTION_ITEMS));
  return chunks;
}

function counterWrite(
  ctx: IpamContext,
  subnet: Subnet,
  shard: number,
  n: number,
  p: number,
  l: number,
): PlannedWrite {
  return {
    kind: 'counter',
    item: {
      Update: {
        TableName: ctx.tableName,
        Key: keys.counter(subnet.id, shard),
        UpdateExpression: 'ADD n :n, p :p, l :l, ver :one',
        // The counter must exist (the subnet was not deleted) and be counted under
        // the configuration this request used (pools and gateway unchanged).
        ConditionExpression: 'pv = :pv',
        ExpressionAttributeValues: {
          ':n': n,
          ':p': p,
          ':l': l,
          ':one': 1,
          ':pv': subnet.configVersion,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    },
  };
}

/**
 * The condition that an allocation item is still exactly as read: the same request
 * wrote it and its lease is the same, so counter changes decided from that read
 * (a lease counted or not) cannot be applied twice by racing callers.
 */
function unchangedSince(item: AllocationItem) {
  return item.ttl === undefined
    ? {
        ConditionExpression: 'reqToken = :token AND attribute_not_exists(#ttl)',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':token': item.reqToken },
      }
    : {
        ConditionExpression: 'reqToken = :token AND #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':token': item.reqToken, ':ttl': item.ttl },
      };
}

function releaseWrites(
  ctx: IpamContext,
  subnet: Subnet,
  pos: Position,
  value: bigint,
  current: AllocationItem,
): PlannedWrite[] {
  const ip = address(subnet.cidr.version, value);
  const leased = current.ttl !== undefined;
  return [
    {
      kind: 'item',
      value,
      item: {
        Delete: {
          TableName: ctx.tableName,
          Key: keys.allocation(subnet.id, pos.shard, ip),
          ...unchangedSince(current),
        },
      },
    },
    {
      kind: 'block',
      block: pos.block,
      item: {
        Update: {
          TableName: ctx.tableName,
          Key: keys.block(subnet.id, pos.shard, pos.block),
          UpdateExpression: `DELETE u :offset REMOVE ${leaseAttribute(pos.offset)}, ${tokenAttribute(pos.offset)}`,
          ConditionExpression: 'contains(u, :o)',
          ExpressionAttributeValues: { ':offset': new Set([pos.offset]), ':o': pos.offset },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    },
    counterWrite(
      ctx,
      subnet,
      pos.shard,
      -1,
      inPools(subnet.pools, value) ? -1 : 0,
      leased ? -1 : 0,
    ),
  ];
}

function leaseWrite(
  ctx: IpamContext,
  subnet: Subnet,
  pos: Position,
  expiry: number,
  nowSeconds: number,
): PlannedWrite {
  const lease = leaseAttribute(pos.offset);
  return {
    kind: 'block',
    block: pos.block,
    item: {
      Update: {
        TableName: ctx.tableName,
        Key: keys.block(subnet.id, pos.shard, pos.block),
        UpdateExpression: `SET ${lease} = :expiry`,
        ConditionExpression: `contains(u, :o) AND (attribute_not_exists(${lease}) OR ${lease} > :now)`,
        ExpressionAttributeValues: { ':expiry': expiry, ':o': pos.offset, ':now': nowSeconds },
      },
    },
  };
}

/** Reads what each failed condition returned. Anything but a condition failure or conflict is rethrown. */
function learn(writes: readonly PlannedWrite[], reasons: readonly CancellationReason[]): Lesson {
  const blocks: BlockState[] = [];
  const heldItems: bigint[] = [];
  let subnetChanged = false;
  reasons.forEach((reason, index) => {
    const write = writes[index];
    if (write === undefined || reason.Code === undefined || reason.Code === 'None') return;
    if (reason.Code === 'TransactionConflict') return;
    if (reason.Code !== 'ConditionalCheckFailed') {
      throw new Error(`DynamoDB cancelled the transaction: ${reason.Code} ${reason.Message ?? ''}`);
    }
    const old = reason.Item === undefined ? undefined : unmarshall(reason.Item as never);
    if (write.kind === 'block') blocks.push(blockFromItem(write.block, old));
    else if (write.kind === 'item') heldItems.push(write.value);
    else subnetChanged = true;
  });
  return { blocks, subnetChanged, heldItems };
}

// ---------------------------------------------------------------------------
// Randomness and ordering

/** Shards to try, in order: lowest first (sequential) or weighted by free addresses (random). */
function orderShards(
  strategy: Strategy,
  free: readonly bigint[],
  counters: readonly ShardCounter[],
): number[] {
  const withFree = free.map((size, shard) => ({ shard, size })).filter(({ size }) => size > 0n);
  // Shards whose counters count leases may hold expired (free) ones: try them last.
  const leased = counters
    .filter((counter, shard) => counter.l > 0 && (free[shard] ?? 0n) === 0n)
    .map((counter) => counter.shard);
  if (strategy === Strategy.SEQUENTIAL)
    return [...withFree.map(({ shard }) => shard), ...leased].sort((a, b) => a - b);
  const order: number[] = [];
  let remaining = withFree;
  while (remaining.length > 0) {
    const total = remaining.reduce((sum, { size }) => sum + size, 0n);
    let target = randomBelow(total);
    const index = remaining.findIndex(({ size }) => {
      if (target < size) return true;
      target -= size;
      return false;
    });
    order.push(remaining[index]!.shard);
    remaining = remaining.filter((_, i) => i !== index);
  }
  return [...order, ...leased];
}

function randomPoolAddress(pools: readonly { start: bigint; end: bigint }[]): bigint {
  const total = pools.reduce((sum, pool) => sum + (pool.end - pool.start + 1n), 0n);
  let target = randomBelow(total);
  for (const pool of pools) {
    const size = pool.end - pool.start + 1n;
    if (target < size) return pool.start + target;
    target -= size;
  }
  throw new Error('unreachable: target beyond the pools');
}
