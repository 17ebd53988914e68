/**
 * The allocator: hands out addresses of a subnet with DynamoDB conditional writes.
 *
 * An address is reserved by one transaction that (1) adds its offset to its block's
 * set of taken offsets on condition that it is not taken (or its lease expired),
 * (2) puts the allocation item, and (3) adds to the shard's usage counter on
 * condition that the counter was counted under the subnet configuration the
 * allocator used. A lost race costs one retry, informed by the item the failed
 * condition returns. Addresses arrive parsed; views format them on the way out.
 */
import type { IpAddress } from '../net/address.js';
import { type IpamContext, type Who, whoOf, withWho } from '../store/context.js';
import type { Page } from '../store/paging.js';
import { type AllocateInput, allocate } from './allocate.js';
import {
  getAllocation,
  releaseAllocation,
  type UpdateAllocationInput,
  updateAllocation,
} from './existing.js';
import type { AllocationView } from './items.js';
import { listSubnetAllocations } from './listing.js';
import { SubnetViews } from './views.js';

export interface AllocatorOptions {
  /**
   * How long an allocator picks from what it already knows (counters, block
   * states) before reading again, in ms; 0 reads everything afresh each time.
   */
  readonly cacheMs?: number;
}

/**
 * One allocator per process (Lambda container). Its cache only guides the choice
 * of candidates; every decision that matters is a conditional write.
 */
export class Allocator {
  private readonly views: SubnetViews;

  /** `views`: only actingAs passes one, to share this allocator's cache. */
  constructor(
    private readonly ctx: IpamContext,
    options: AllocatorOptions = {},
    views?: SubnetViews,
  ) {
    this.views = views ?? new SubnetViews(ctx, options.cacheMs ?? 2000);
  }

  /**
   * This allocator (the same cache) with its writes attributed to `who` by default:
   * for a caller that cannot pass `who` to each call (the custom-resource provider).
   */
  actingAs(who: Who): Allocator {
    return new Allocator(withWho(this.ctx, who), {}, this.views);
  }

  /** Allocates a specific address, or `count` by strategy, all or nothing, as `who`. */
  allocate(
    subnetId: string,
    input: AllocateInput,
    who: Who = whoOf(this.ctx),
  ): Promise<AllocationView[]> {
    return allocate(this.views, subnetId, input, who);
  }

  /**
   * Releases an address as `who`; with `owner`, only if that owner holds it. A
   * release by a known writer leaves a note naming it for the history; one with
   * no writer (a context without `who`) leaves none.
   */
  release(
    subnetId: string,
    ip: IpAddress,
    owner?: string,
    who: Who | undefined = this.ctx.who,
  ): Promise<void> {
    return releaseAllocation(this.views, subnetId, ip, owner, who);
  }

  /** The live allocation of an address. */
  get(subnetId: string, ip: IpAddress): Promise<AllocationView> {
    return getAllocation(this.ctx, subnetId, ip);
  }

  /** PATCH as `who`: owner, description, tags; ttlSeconds sets a new lease expiry from now. */
  update(
    subnetId: string,
    ip: IpAddress,
    input: UpdateAllocationInput,
    who: Who = whoOf(this.ctx),
  ): Promise<AllocationView> {
    return updateAllocation(withWho(this.ctx, who), subnetId, ip, input);
  }

  /** A subnet's live allocations in address order (paged), or only one owner's. */
  list(
    subnetId: string,
    query: { owner?: string; limit: number; cursor?: string },
  ): Promise<Page<AllocationView>> {
    return listSubnetAllocations(this.ctx, subnetId, query);
  }
}
