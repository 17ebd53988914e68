/**
 * The Allocator driven as the HTTP edge drives it: addresses and MACs as text,
 * parsed before each call. A parse error is a rejection of the call, as it is an
 * error answer over HTTP, so tests can state `ip: '010.0.0.5'` and expect
 * InvalidIpError.
 */
import {
  type AllocateInput,
  type AllocationView,
  Allocator,
  type AllocatorOptions,
  type UpdateAllocationInput,
} from '../../shared/allocator/index.js';
import { parseIp, parseMac } from '../../shared/net/address.js';
import type { IpamContext } from '../../shared/store/context.js';
import type { Page } from '../../shared/store/paging.js';

/** An allocation request with `ip` and `macAddress` as text. */
export type TextAllocateInput = Omit<AllocateInput, 'ip' | 'macAddress'> & {
  readonly ip?: string;
  readonly macAddress?: string;
};

export class TextAllocator {
  /** The allocator itself, for code that takes an Allocator. */
  readonly typed: Allocator;

  constructor(ctx: IpamContext, options?: AllocatorOptions) {
    this.typed = new Allocator(ctx, options);
  }

  async allocate(subnetId: string, input: TextAllocateInput): Promise<AllocationView[]> {
    const { ip, macAddress, ...rest } = input;
    return this.typed.allocate(subnetId, {
      ...rest,
      ...(ip === undefined ? {} : { ip: parseIp(ip) }),
      ...(macAddress === undefined ? {} : { macAddress: parseMac(macAddress) }),
    });
  }

  async release(subnetId: string, ip: string, owner?: string): Promise<void> {
    return this.typed.release(subnetId, parseIp(ip), owner);
  }

  async get(subnetId: string, ip: string): Promise<AllocationView> {
    return this.typed.get(subnetId, parseIp(ip));
  }

  async update(
    subnetId: string,
    ip: string,
    input: UpdateAllocationInput,
  ): Promise<AllocationView> {
    return this.typed.update(subnetId, parseIp(ip), input);
  }

  list(
    subnetId: string,
    query: { owner?: string; limit: number; cursor?: string },
  ): Promise<Page<AllocationView>> {
    return this.typed.list(subnetId, query);
  }
}
