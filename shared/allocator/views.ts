/**
 * What one allocator (one Lambda container) knows of the subnets it allocates in:
 * the subnet, its shard counters and the blocks it read or wrote. It only guides
 * the choice of candidates: a stale view costs a failed condition (whose reason
 * carries the fresh block), never a wrong allocation.
 */
import type { IpamContext } from '../store/context.js';
import type { BlockState } from '../subnets/blocks.js';
import type { ShardCounter } from '../subnets/counters.js';
import type { Geometry, Position } from '../subnets/geometry.js';
import { inPools } from '../subnets/rules.js';
import type { Subnet } from '../subnets/subnet.js';
import { loadSubnet } from '../subnets/subnets.js';
import type { Candidate } from './candidate.js';
import type { Details } from './items.js';
import { blocksOfShard, readBlock } from './reads.js';

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

/** What this allocator knows of one subnet. */
export interface CachedSubnet {
  subnet: Subnet;
  loadedAt: number;
  counters: ShardCounter[] | undefined;
  countersAt: number;
  blocks: Map<bigint, KnownBlock>;
  /** Shards read whole, with when and how many picks used that read. */
  shardViews: Map<number, ReadMark>;
  /** Where the last random pick succeeded: tried first while its view is fresh. */
  sticky: { shard: number; block: bigint } | undefined;
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
      sticky: undefined,
    };
    this.cache.set(subnetId, entry);
    return entry;
  }

  /** Whether a read may still serve a pick: young enough and not used up. */
  isFresh(view: ReadMark): boolean {
    return this.ctx.now() - view.readAt <= this.cacheMs && view.uses < VIEW_USES;
  }

  /** Whether a random pick in `shard` can be made from what this allocator knows. */
  hasFreshView(entry: CachedSubnet, shard: number): boolean {
    const view = entry.shardViews.get(shard);
    if (view !== undefined) return this.isFresh(view);
    const block = entry.sticky?.shard === shard ? entry.blocks.get(entry.sticky.block) : undefined;
    return block !== undefined && this.isFresh(block);
  }

  /**
   * Every block of a shard in address order (see blocksOfShard), each recorded as
   * known; a walk to the end records the whole shard as a fresh view.
   */
  async *readShard(entry: CachedSubnet, g: Geometry, shard: number): AsyncGenerator<BlockState> {
    const readAt = this.ctx.now();
    for await (const state of blocksOfShard(this.ctx, entry.subnet.id, g, shard)) {
      entry.blocks.set(state.block, { state, readAt, uses: 0 });
      yield state;
    }
    entry.shardViews.set(shard, { readAt, uses: 0 });
  }

  /** Reads one block and records it as known. */
  async readBlock(entry: CachedSubnet, pos: Position): Promise<KnownBlock> {
    const known = {
      state: await readBlock(this.ctx, entry.subnet, pos),
      readAt: this.ctx.now(),
      uses: 0,
    };
    entry.blocks.set(pos.block, known);
    return known;
  }

  /** Records a block as a failed condition returned it (fresh by construction). */
  learnBlock(entry: CachedSubnet, state: BlockState): void {
    entry.blocks.set(state.block, { state, readAt: this.ctx.now(), uses: 0 });
  }

  /**
   * Keeps the view in step with this allocator's own writes — counters, the blocks
   * it wrote, and where to pick next — so the next pick needs no read.
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

  /** Keeps the view in step with this allocator's own release. */
  noteReleased(entry: CachedSubnet, pos: Position, value: bigint, leased: boolean): void {
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
}
