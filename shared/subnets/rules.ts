/**
 * The rules of a subnet that need no storage: prefix-length limits, the default
 * gateway, the default allocation pools and the validation of given pools.
 * Neutron's first flaw was using pool bounds before validating them: here every
 * bound is parsed and checked before any other rule looks at it.
 */

import {
  GatewayInPoolError,
  InvalidAllocationPoolError,
  InvalidCidrError,
  InvalidGatewayError,
  IpNotInSubnetError,
  IpReservedError,
  PoolProblem,
} from '../errors.js';
import {
  bitLength,
  type Cidr,
  cidrContains,
  cidrFirst,
  cidrLast,
  formatCidr,
  formatIp,
  type IpAddress,
  type IpVersion,
  parseIp,
} from '../net/address.js';

/** An inclusive range of address values of one version. */
export interface AddressRange {
  readonly start: bigint;
  readonly end: bigint;
}

export const PREFIX_LIMITS: Record<IpVersion, { readonly min: number; readonly max: number }> = {
  4: { min: 8, max: 32 },
  6: { min: 32, max: 128 },
};

/** Rejects prefixes outside IPv4 /8–/32 and IPv6 /32–/128. */
export function assertSubnetPrefix(cidr: Cidr): void {
  const { min, max } = PREFIX_LIMITS[cidr.version];
  if (cidr.prefixLength < min || cidr.prefixLength > max) {
    throw new InvalidCidrError(
      `${formatCidr(cidr)} has prefix length /${cidr.prefixLength}; IPv${cidr.version} subnets must be /${min} to /${max}.`,
      { min, max },
    );
  }
}

/**
 * Point-to-point and host subnets (IPv4 /31 and /32, IPv6 /127 and /128) use every
 * address: they have no network, broadcast or subnet-router anycast address.
 */
export function usesEveryAddress(cidr: Cidr): boolean {
  return cidr.prefixLength >= bitLength(cidr.version) - 1;
}

/** The addresses a host may hold: IPv4 without network and broadcast, IPv6 without the network address. */
export function usableRange(cidr: Cidr): AddressRange {
  const first = cidrFirst(cidr);
  const last = cidrLast(cidr);
  if (usesEveryAddress(cidr)) return { start: first, end: last };
  return { start: first + 1n, end: cidr.version === 4 ? last - 1n : last };
}

/** The default gateway: the first address after the network address, none where every address is used. */
export function defaultGateway(cidr: Cidr): bigint | null {
  return usesEveryAddress(cidr) ? null : cidrFirst(cidr) + 1n;
}

/**
 * Checks a gateway given as text (or null for none) and returns its value.
 * IPv4 (prefix ≤ /30): neither network nor broadcast; IPv6: any address of the CIDR.
 */
export function resolveGateway(cidr: Cidr, gatewayIp: string | null | undefined): bigint | null {
  if (gatewayIp === undefined) return defaultGateway(cidr);
  if (gatewayIp === null) return null;
  const gateway = parseIp(gatewayIp);
  const subnet = formatCidr(cidr);
  if (gateway.version !== cidr.version) {
    throw new InvalidGatewayError(
      `Gateway ${gatewayIp} is IPv${gateway.version} but subnet ${subnet} is IPv${cidr.version}.`,
      { gatewayIp },
    );
  }
  if (!cidrContains(cidr, gateway)) {
    throw new InvalidGatewayError(`Gateway ${formatIp(gateway)} is not inside ${subnet}.`, {
      gatewayIp: formatIp(gateway),
    });
  }
  if (cidr.version === 4 && !usesEveryAddress(cidr)) {
    const { start, end } = usableRange(cidr);
    if (gateway.value < start || gateway.value > end) {
      throw new InvalidGatewayError(
        `Gateway ${formatIp(gateway)} is the network or broadcast address of ${subnet}; pick a host address.`,
        { gatewayIp: formatIp(gateway) },
      );
    }
  }
  return gateway.value;
}

/** The usable range minus the gateway: one or two pools, or none. */
export function defaultPools(cidr: Cidr, gateway: bigint | null): AddressRange[] {
  const { start, end } = usableRange(cidr);
  if (gateway === null || gateway < start || gateway > end) return [{ start, end }];
  const pools: AddressRange[] = [];
  if (gateway > start) pools.push({ start, end: gateway - 1n });
  if (gateway < end) pools.push({ start: gateway + 1n, end });
  return pools;
}

export interface PoolText {
  readonly start: string;
  readonly end: string;
}

/**
 * Parses and checks allocation pools: each bound parsed strictly, then version,
 * order, containment, overlap, and finally the gateway (409 GATEWAY_IN_POOL).
 * Returns the pools sorted by start.
 */
export function validatePools(
  cidr: Cidr,
  gateway: bigint | null,
  pools: readonly PoolText[],
): AddressRange[] {
  const subnet = formatCidr(cidr);
  const usable = usableRange(cidr);
  const parsed = pools.map((pool, index) => {
    const start = parseIp(pool.start);
    const end = parseIp(pool.end);
    const label = `Allocation pool ${index + 1} (${pool.start} - ${pool.end})`;
    if (start.version !== cidr.version || end.version !== cidr.version) {
      throw new InvalidAllocationPoolError(
        `${label} mixes IP versions with subnet ${subnet} (IPv${cidr.version}).`,
        PoolProblem.VERSION_MISMATCH,
        { pool },
      );
    }
    if (start.value > end.value) {
      throw new InvalidAllocationPoolError(
        `${label} starts after it ends; swap start and end.`,
        PoolProblem.START_AFTER_END,
        { pool },
      );
    }
    if (start.value < usable.start || end.value > usable.end) {
      throw new InvalidAllocationPoolError(
        `${label} reaches outside the usable addresses of ${subnet} ` +
          `(${formatRange(cidr.version, usable)}).`,
        PoolProblem.OUTSIDE_SUBNET,
        {
          pool,
          usableStart: formatIp(ip(cidr.version, usable.start)),
          usableEnd: formatIp(ip(cidr.version, usable.end)),
        },
      );
    }
    return { start: start.value, end: end.value, text: pool };
  });
  const sorted = [...parsed].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const previous = sorted[i - 1]!;
    const current = sorted[i]!;
    if (current.start <= previous.end) {
      throw new InvalidAllocationPoolError(
        `Allocation pools ${previous.text.start} - ${previous.text.end} and ${current.text.start} - ${current.text.end} overlap.`,
        PoolProblem.OVERLAPPING,
        { pools: [previous.text, current.text] },
      );
    }
  }
  const result = sorted.map(({ start, end }) => ({ start, end }));
  assertGatewayOutsidePools(cidr.version, gateway, result);
  return result;
}

/** Throws GatewayInPoolError when `gateway` lies in one of `pools`. */
export function assertGatewayOutsidePools(
  version: IpVersion,
  gateway: bigint | null,
  pools: readonly AddressRange[],
): void {
  if (gateway === null) return;
  const holder = pools.find((pool) => pool.start <= gateway && gateway <= pool.end);
  if (holder !== undefined) {
    throw new GatewayInPoolError(
      `Gateway ${formatIp(ip(version, gateway))} lies in allocation pool ${formatRange(version, holder)}; ` +
        'leave it out of the pools or move the gateway.',
      { gatewayIp: formatIp(ip(version, gateway)), pool: rangeText(version, holder) },
    );
  }
}

/**
 * Checks that a specific address may be allocated in the subnet:
 * 400 IP_NOT_IN_SUBNET outside the CIDR (or the IPv4 network/broadcast address),
 * 409 IP_RESERVED for the gateway and the IPv6 subnet-router anycast address.
 */
export function assertAllocatable(cidr: Cidr, gateway: bigint | null, address: IpAddress): void {
  const subnet = formatCidr(cidr);
  const text = formatIp(address);
  if (address.version !== cidr.version) {
    throw new IpNotInSubnetError(
      `${text} is IPv${address.version}; subnet ${subnet} is IPv${cidr.version}.`,
      {
        ip: text,
        cidr: subnet,
      },
    );
  }
  if (!cidrContains(cidr, address)) {
    throw new IpNotInSubnetError(`${text} is not inside subnet ${subnet}.`, {
      ip: text,
      cidr: subnet,
    });
  }
  if (!usesEveryAddress(cidr)) {
    const first = cidrFirst(cidr);
    if (cidr.version === 4 && (address.value === first || address.value === cidrLast(cidr))) {
      throw new IpNotInSubnetError(
        `${text} is the network or broadcast address of ${subnet} and cannot be allocated.`,
        { ip: text, cidr: subnet },
      );
    }
    if (cidr.version === 6 && address.value === first) {
      throw new IpReservedError(`${text} is the subnet-router anycast address of ${subnet}.`, {
        ip: text,
        reason: 'SUBNET_ROUTER_ANYCAST',
      });
    }
  }
  if (gateway !== null && address.value === gateway) {
    throw new IpReservedError(`${text} is the gateway of ${subnet}.`, {
      ip: text,
      reason: 'GATEWAY',
    });
  }
}

export function poolSize(pools: readonly AddressRange[]): bigint {
  return pools.reduce((sum, pool) => sum + (pool.end - pool.start + 1n), 0n);
}

export function inPools(pools: readonly AddressRange[], value: bigint): boolean {
  return pools.some((pool) => pool.start <= value && value <= pool.end);
}

/** The part of `pools` inside [start, end], clipped. */
export function clipPools(
  pools: readonly AddressRange[],
  start: bigint,
  end: bigint,
): AddressRange[] {
  const clipped: AddressRange[] = [];
  for (const pool of pools) {
    const from = pool.start > start ? pool.start : start;
    const to = pool.end < end ? pool.end : end;
    if (from <= to) clipped.push({ start: from, end: to });
  }
  return clipped;
}

export function rangeText(version: IpVersion, range: AddressRange): PoolText {
  return { start: formatIp(ip(version, range.start)), end: formatIp(ip(version, range.end)) };
}

function formatRange(version: IpVersion, range: AddressRange): string {
  const text = rangeText(version, range);
  return `${text.start} - ${text.end}`;
}

function ip(version: IpVersion, value: bigint): IpAddress {
  return { version, value };
}
