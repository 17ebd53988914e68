/**
 * Picking the exact address asked for: an `ip`, or the EUI-64 address of a MAC in
 * an IPv6 /64. Whether it is taken is decided only by what this request's own
 * writes saw, never by a cached view.
 */
import { IpAlreadyAllocatedError, MacNotApplicableError } from '../errors.js';
import { eui64InterfaceId, formatCidr, formatIp, type IpAddress } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { type BlockState, offsetState } from '../subnets/blocks.js';
import { type Geometry, positionOf } from '../subnets/geometry.js';
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
 * own failed writes showed it held.
 */
export async function specificCandidate(
  ctx: IpamContext,
  subnet: Subnet,
  g: Geometry,
  ip: IpAddress,
  learned: Map<bigint, BlockState>,
): Promise<Candidate> {
  const pos = positionOf(g, ip.value);
  // Only what this request saw decides "taken": a cached view may be stale.
  const block = learned.get(pos.block);
  const state = block === undefined ? 'free' : offsetState(block, pos.offset, nowSeconds(ctx));
  if (state === 'held') {
    const holder = await readAllocation(ctx, subnet, ip);
    throw new IpAlreadyAllocatedError(formatIp(ip), holder?.owner ?? null);
  }
  return { value: ip.value, pos, reclaim: state === 'expired' };
}
