/**
 * What one allocator (one Lambda container) knows of the subnets it allocates in:
 * the subnet, its shard counters, the blocks it read or wrote, whole shards it
 * read, and where a sequential walk of a shard may start. It only guides the
 * choice of candidates: a stale view costs a failed condition (whose reason
 * carries the fresh block), never a wrong allocation. Nothing here steers a random
 * pick towards where the last one landed: a view only saves reads.
 */
import type { IpamContext } from '../store/context.js';
import { type BlockState, emptyBlock } from '../subnets/blocks.js';
import type { ShardCounter } from '../subnets/counters.js';
import { geometryOf, type Position, shardOfBlock } from '../subnets/geometry.js';
import { inPools } from '../subnets/rules.js';
import type { Subnet } from '../subnets/subnet.js';
import { loadSubnet } from '../subnets/subnets.js';
import type { Candidate } from './candidate.js';
import type { Details } from './items.js';
import { nowSeconds, readBlock, storedBlocks } from './reads.js';

/** Picks a view of a shard may serve before it is read again. */
const VIEW_USES = 8;
/** How long the subnet item is trusted; pool or gateway changes are caught by `pv` anyway. */
const SUBNET_CACHE_MS = 30_000;

/** A read (of a block or a whole shard): when, and how many picks used it since. */
export interface ReadMark {
  readAt: number;
  uses: number;
}

export interface KnownBlock extends ReadMark {
  state: BlockState;
}

/**
 * A shard read whole (the blocks from `from` to `to`, those covering its pools):
 * its stored blocks; every other block in that range is wholly free.
 */
export interface ShardView extends ReadMark {
  readonly from: bigint;
  readonly to: bigint;
  readonly blocks: Map<bigint, BlockState>;
}

/**
 * Where a sequential walk of a shard may start: every pool address of the blocks
 * before `block` was held when read (at `readAt`, or later). Until `until` (epoch
 * seconds, the first expiry of a lease among them) nothing below can have become
 * free but by a release; this allocator's own releases lower the hint at once.
 */
export interface SequentialHint {
  readonly block: bigint;
  readonly readAt: number;
  readonly until: number;
}

/** What this allocator knows of one subnet. */
export interface CachedSubnet {
  subnet: Subnet;
  loadedAt: number;
  counters: ShardCounter[] | undefined;
  countersAt: number;
  blocks: Map<bigint, KnownBlock>;
  /** Shards read whole, with when and how many picks used that read. */
  shardViews: Map<number, ShardView>;
  /** Per shard, the first block a sequential walk reads (blocks before it were full). */
  hints: Map<number, SequentialHint>;
}

/** The per-container cache of subnet views, and the rules for when a view is fresh. */
export class SubnetViews {
  private readonly cache = new Map<string, CachedSubnet>();

  constructor(
    readonly ctx: IpamContext,
    /** How long counters and block states are picked from before they are read again, in ms. */
    readonly cacheMs: number,
  ) {}

  /** The view of a subnet; `reload` (or an old entry) loads the subnet afresh and forgets the rest. */
  async entry(subnetId: string, reload = false): Promise<CachedSubnet> {
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
      hints: new Map(),
    };
    this.cache.set(subnetId, entry);
    return entry;
  }

  /** Whether a read may still serve a pick: young enough and not used up. */
  isFresh(view: ReadMark): boolean {
    return this.ctx.now() - view.readAt <= this.cacheMs && view.uses < VIEW_USES;
  }

  /** The whole-shard view of `shard` while it is fresh, else undefined. */
  freshShardView(entry: CachedSubnet, shard: number): ShardView | undefined {
    const view = entry.shardViews.get(shard);
    return view !== undefined && this.isFresh(view) ? view : undefined;
  }

  /** The block as this allocator knows it, while that knowledge is fresh. */
  freshBlock(entry: CachedSubnet, block: bigint): KnownBlock | undefined {
    const known = entry.blocks.get(block);
    return known !== undefined && this.isFresh(known) ? known : undefined;
  }

  /**
   * Reads the stored blocks of a shard from `from` to `to` (one paged query) and
   * records them as a fresh whole-shard view.
   */
  async readShard(
    entry: CachedSubnet,
    shard: number,
    range: { from: bigint; to: bigint },
    consistent: boolean,
  ): Promise<ShardView> {
    const readAt = this.ctx.now();
    const blocks = new Map<bigint, BlockState>();
    for await (const state of storedBlocks(this.ctx, entry.subnet.id, shard, range, {
      consistent,
    })) {
      blocks.set(state.block, state);
      entry.blocks.set(state.block, { state, readAt, uses: 0 });
    }
    const view: ShardView = { ...range, blocks, readAt, uses: 0 };
    entry.shardViews.set(shard, view);
    return view;
  }

  /**
   * The stored blocks of a shard from `from` to `to` in address order, in small
   * pages (a sequential walk usually stops at the first), each recorded as known.
   */
  async *walkShard(
    entry: CachedSubnet,
    shard: number,
    range: { from: bigint; to: bigint },
    consistent: boolean,
  ): AsyncGenerator<BlockState> {
    for await (const state of storedBlocks(this.ctx, entry.subnet.id, shard, range, {
      consistent,
      walk: true,
    })) {
      this.record(entry, state);
      yield state;
    }
  }

  /** Reads one block and records it as known. */
  async readBlock(entry: CachedSubnet, pos: Position, consistent: boolean): Promise<KnownBlock> {
    const state = await readBlock(this.ctx, entry.subnet, pos, consistent);
    return this.record(entry, state);
  }

  /** Records a block as a failed condition returned it (fresh by construction). */
  learnBlock(entry: CachedSubnet, state: BlockState): void {
    this.record(entry, state);
  }

  /** The fresh sequential hint of a shard, or undefined (then a walk starts at the pools). */
  hint(entry: CachedSubnet, shard: number): SequentialHint | undefined {
    const hint = entry.hints.get(shard);
    if (hint === undefined || this.cacheMs === 0) return undefined;
    const fresh = this.ctx.now() - hint.readAt <= this.cacheMs && nowSeconds(this.ctx) < hint.until;
    return fresh ? hint : undefined;
  }

  /** Records where a sequential walk of `shard` may start next time. */
  setHint(entry: CachedSubnet, shard: number, hint: SequentialHint): void {
    entry.hints.set(shard, hint);
  }

  /**
   * Keeps the view in step with this allocator's own writes — counters and the
   * blocks it wrote — so the next pick needs no read.
   */
  noteAllocated(entry: CachedSubnet, candidates: readonly Candidate[], details: Details): void {
    const counters = entry.counters === undefined ? undefined : [...entry.counters];
    for (const candidate of candidates) {
      const { shard, block, offset } = candidate.pos;
      const counter = counters?.[shard];
      if (counters !== undefined && counter !== undefined && !candidate.reclaim) {
        const added = inPools(entry.subnet.pools, candidate.value) ? 1 : 0;
        counters[shard] = { ...counter, n: counter.n + 1, p: counter.p + added };
      }
      const state = this.knownState(entry, shard, block);
      if (state === undefined) continue;
      const used = new Set(state.used).add(offset);
      const leases = new Map(state.leases);
      const cooling = new Map(state.cooling);
      const delay = entry.subnet.reuseDelaySeconds;
      if (details.expiry === null) leases.delete(offset);
      else leases.set(offset, details.expiry + delay);
      if (details.expiry !== null && delay > 0) cooling.set(offset, details.expiry);
      else cooling.delete(offset);
      this.update(entry, shard, { block, used, leases, cooling });
    }
    entry.counters = counters;
  }

  /** Keeps the view in step with this allocator's own release. */
  noteReleased(entry: CachedSubnet, pos: Position, value: bigint, leased: boolean): void {
    const delay = entry.subnet.reuseDelaySeconds;
    if (delay > 0) {
      this.noteCoolingDown(entry, pos, leased, delay);
      return;
    }
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
    const state = this.knownState(entry, pos.shard, pos.block);
    if (state !== undefined) {
      const used = new Set(state.used);
      used.delete(pos.offset);
      const leases = new Map(state.leases);
      leases.delete(pos.offset);
      const cooling = new Map(state.cooling);
      cooling.delete(pos.offset);
      this.update(entry, pos.shard, { block: pos.block, used, leases, cooling });
    }
    // The freed address is the lowest free one a sequential walk must see.
    const hint = entry.hints.get(pos.shard);
    if (hint !== undefined && pos.block < hint.block) {
      entry.hints.set(pos.shard, { ...hint, block: pos.block });
    }
  }

  /**
   * A release under a cool-down (releaseWrites): the offset stays held until now +
   * `delay` and is counted as a lease; the sequential hint needs no change (the
   * offset is held, and the hint lapses at the first lease expiry it skipped).
   */
  private noteCoolingDown(
    entry: CachedSubnet,
    pos: Position,
    leased: boolean,
    delay: number,
  ): void {
    const counter = entry.counters?.[pos.shard];
    if (entry.counters !== undefined && counter !== undefined && !leased) {
      const counters = [...entry.counters];
      counters[pos.shard] = { ...counter, l: counter.l + 1 };
      entry.counters = counters;
    }
    const state = this.knownState(entry, pos.shard, pos.block);
    if (state === undefined) return;
    const now = Math.floor(this.ctx.now() / 1000);
    const leases = new Map(state.leases).set(pos.offset, now + delay);
    const cooling = new Map(state.cooling).set(pos.offset, now);
    this.update(entry, pos.shard, { ...state, leases, cooling });
  }

  /** Records a block read just now (in the whole-shard view too, if it covers the block). */
  private record(entry: CachedSubnet, state: BlockState): KnownBlock {
    const known = { state, readAt: this.ctx.now(), uses: 0 };
    entry.blocks.set(state.block, known);
    const shard = shardOfBlock(geometryOf(entry.subnet.cidr), state.block);
    const view = entry.shardViews.get(shard);
    if (view !== undefined && view.from <= state.block && state.block <= view.to) {
      view.blocks.set(state.block, state);
    }
    return known;
  }

  /**
   * A block's state as this allocator knows it: from the block read, else (when
   * a whole-shard view covers it and holds no item) wholly free; undefined if unknown.
   */
  private knownState(entry: CachedSubnet, shard: number, block: bigint): BlockState | undefined {
    const known = entry.blocks.get(block)?.state;
    if (known !== undefined) return known;
    const view = entry.shardViews.get(shard);
    if (view === undefined || block < view.from || block > view.to) return undefined;
    return view.blocks.get(block) ?? emptyBlock(block);
  }

  /** Replaces a block's state after this allocator's own write, keeping its read marks. */
  private update(entry: CachedSubnet, shard: number, state: BlockState): void {
    const known = entry.blocks.get(state.block);
    if (known !== undefined) known.state = state;
    const view = entry.shardViews.get(shard);
    if (view !== undefined && view.from <= state.block && state.block <= view.to) {
      view.blocks.set(state.block, state);
    }
  }
}
