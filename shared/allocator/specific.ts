/**
 * Picking the exact address asked for: an `ip`, or the EUI-64 address of a MAC in
 * an IPv6 /64. Whether it is taken is decided only by what this request's own
 * writes saw, never by a cached view.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { IpAlreadyAllocatedError, IpQuarantinedError, MacNotApplicableError } from '../errors.js';
import { eui64InterfaceId, formatCidr, formatIp, type IpAddress } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { type BlockState, blockFromItem, coolingUntil, offsetState } from '../subnets/blocks.js';
import { type Geometry, type Position, positionOf } from '../subnets/geometry.js';
import { assertAllocatable } from '../subnets/rules.js';
import { address, type Subnet } from '../subnets/subnet.js';
import type { Candidate } from './candidate.js';
import { nowSeconds, readAllocation } from './reads.js';

/** The address asked for by value: an IP, or a 48-bit MAC for its EUI-64 address. */
export interface SpecificRequest {
  readonly ip?: IpAddress;
  readonly macAddress?: bigint;
}

/** The exact address asked for (ip or macAddress), checked against the subnet's rules. */
export function specificAddress(subnet: Subnet, input: SpecificRequest): IpAddress | undefined {
  if (input.macAddress !== undefined) {
    if (subnet.cidr.version !== 6 || subnet.cidr.prefixLength !== 64) {
      throw new MacNotApplicableError(
        `macAddress needs an IPv6 /64 subnet; ${formatCidr(subnet.cidr)} is not one. Allocate by ip or strategy instead.`,
        { cidr: formatCidr(subnet.cidr) },
      );
    }
    const ip = address(6, subnet.cidr.network | eui64InterfaceId(input.macAddress));
    assertAllocatable(subnet.cidr, subnet.gateway, ip);
    return ip;
  }
  if (input.ip === undefined) return undefined;
  assertAllocatable(subnet.cidr, subnet.gateway, input.ip);
  return input.ip;
}

/**
 * The candidate for a specific address, or IpAlreadyAllocated when this request's
 * own failed writes showed it held — naming the holder read after that write. A
 * holder gone by then (released meanwhile) never answers "allocated to nobody":
 * the block is read again and the address tried again if it is free.
 */
export async function specificCandidate(
  ctx: IpamContext,
  subnet: Subnet,
  g: Geometry,
  ip: IpAddress,
  learned: Map<bigint, BlockState>,
): Promise<Candidate> {
  const pos = positionOf(g, ip.value);
  for (let look = 1; ; look++) {
    // Only what this request saw decides "taken": a cached view may be stale.
    const block = learned.get(pos.block);
    const now = nowSeconds(ctx);
    const state = block === undefined ? 'free' : offsetState(block, pos.offset, now);
    if (state !== 'held') return { value: ip.value, pos, reclaim: state === 'expired' };
    // Held by its cool-down (a release or an expired lease), not by an allocation.
    const until = block === undefined ? undefined : coolingUntil(block, pos.offset, now);
    if (until !== undefined) {
      throw new IpQuarantinedError(formatIp(ip), new Date(until * 1000).toISOString());
    }
    const holder = await readAllocation(ctx, subnet, ip);
    if (holder !== undefined) throw new IpAlreadyAllocatedError(formatIp(ip), holder.owner);
    // No live holder: it was released (or its lease ran out) after our write failed,
    // so the block as it is now decides — the address is likely free again. Still
    // held with no allocation item twice over: a multi-step request is writing it.
    if (look === HOLDER_LOOKS) throw new IpAlreadyAllocatedError(formatIp(ip), null);
    learned.set(pos.block, await readBlockNow(ctx, subnet, pos));
  }
}

/** Reads of the holder before "held by a request still being written" (owner unknown). */
const HOLDER_LOOKS = 2;

/** One block as stored now (a consistent read: it decides a specific address). */
async function readBlockNow(ctx: IpamContext, subnet: Subnet, pos: Position): Promise<BlockState> {
  const result = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: keys.block(subnet.id, pos.shard, pos.block),
      ConsistentRead: true,
    }),
  );
  return blockFromItem(pos.block, result.Item);
}
