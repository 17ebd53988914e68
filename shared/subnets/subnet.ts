/** The subnet record: its stored item, its domain form and its API view. */
import {
  type Cidr,
  formatCidr,
  formatIp,
  type IpAddress,
  type IpVersion,
  parseCidr,
  parseIp,
} from '../net/address.js';
import { keys } from '../store/keys.js';
import { type AddressRange, type PoolText, poolSize, rangeText } from './rules.js';

export interface Subnet {
  readonly id: string;
  readonly cidr: Cidr;
  readonly name: string | null;
  readonly space: string;
  readonly gateway: bigint | null;
  readonly pools: readonly AddressRange[];
  readonly tags: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Bumped by every write of the subnet item (optimistic concurrency). */
  readonly version: number;
  /**
   * Bumped when pools or gateway change. Usage counters carry the version they
   * were counted under, and every allocation checks it, so no allocation is ever
   * made or counted against superseded pools.
   */
  readonly configVersion: number;
  /** Set when the subnet was carved from a subnet pool. */
  readonly poolId?: string;
  /**
   * The release cool-down (seconds): a released address, or an expired lease, stays
   * QUARANTINED this long before it can be allocated again. 0 = reusable at once.
   */
  readonly reuseDelaySeconds: number;
  /**
   * When the delay last changed (epoch seconds, just after that PATCH committed):
   * leases expiring from then on take it (leaseCoolDowns.ts). Absent until a change.
   */
  readonly reuseDelayFrom?: number;
}

/** The stored subnet item: the API view without usage, plus keys and versions. */
export interface SubnetItem extends Omit<SubnetView, 'usage' | 'reuseDelaySeconds'> {
  pk: string;
  sk: string;
  type: 'subnet';
  version: number;
  configVersion: number;
  gsi1pk: string;
  gsi1sk: string;
  /** Stored only when above 0: a subnet without it (every older one) has no cool-down. */
  reuseDelaySeconds?: number;
  reuseDelayFrom?: number;
}

export function address(version: IpVersion, value: bigint): IpAddress {
  return { version, value };
}

export function toSubnetItem(subnet: Subnet): SubnetItem {
  const version = subnet.cidr.version;
  const network = address(version, subnet.cidr.network);
  return {
    ...keys.subnet(subnet.id),
    type: 'subnet',
    id: subnet.id,
    cidr: formatCidr(subnet.cidr),
    ipVersion: version,
    name: subnet.name,
    space: subnet.space,
    gatewayIp: subnet.gateway === null ? null : formatIp(address(version, subnet.gateway)),
    allocationPools: subnet.pools.map((pool) => rangeText(version, pool)),
    tags: { ...subnet.tags },
    createdAt: subnet.createdAt,
    updatedAt: subnet.updatedAt,
    version: subnet.version,
    configVersion: subnet.configVersion,
    ...(subnet.poolId === undefined ? {} : { poolId: subnet.poolId }),
    ...(subnet.reuseDelaySeconds > 0 ? { reuseDelaySeconds: subnet.reuseDelaySeconds } : {}),
    ...(subnet.reuseDelayFrom === undefined ? {} : { reuseDelayFrom: subnet.reuseDelayFrom }),
    gsi1pk: keys.allSubnets,
    gsi1sk: `${subnet.space}#${keys.spaceEntrySort(network)}`,
  };
}

export function fromSubnetItem(item: Record<string, unknown>): Subnet {
  const stored = item as unknown as SubnetItem;
  return {
    id: stored.id,
    cidr: parseCidr(stored.cidr),
    name: stored.name ?? null,
    space: stored.space,
    gateway: stored.gatewayIp === null ? null : parseIp(stored.gatewayIp).value,
    pools: stored.allocationPools.map((pool) => ({
      start: parseIp(pool.start).value,
      end: parseIp(pool.end).value,
    })),
    tags: stored.tags ?? {},
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
    version: stored.version,
    configVersion: stored.configVersion,
    ...(stored.poolId === undefined ? {} : { poolId: stored.poolId }),
    reuseDelaySeconds: Number(stored.reuseDelaySeconds ?? 0),
    ...(stored.reuseDelayFrom === undefined
      ? {}
      : { reuseDelayFrom: Number(stored.reuseDelayFrom) }),
  };
}

/** A count in JSON: a number while exact, a decimal string beyond 2^53 (IPv6). */
export type Count = number | string;

export function jsonCount(value: bigint): Count {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

export interface Usage {
  readonly total: Count;
  readonly allocated: Count;
  readonly available: Count;
  readonly outsidePools: Count;
  /**
   * Pool addresses in their release cool-down (in neither `allocated` nor
   * `available`). Shown where a cool-down applies: the subnet has a delay, or
   * addresses released under an earlier one are still cooling.
   */
  readonly quarantined?: Count;
}

export interface UsageCounts {
  /** Live allocations inside the pools. */
  readonly inPools: bigint;
  /** All live allocations. */
  readonly all: bigint;
  /** Pool addresses in their release cool-down (held by nobody; not in `all`). */
  readonly quarantined?: bigint;
}

export function usageOf(subnet: Subnet, counts: UsageCounts): Usage {
  const total = poolSize(subnet.pools);
  const quarantined = counts.quarantined ?? 0n;
  const shown = subnet.reuseDelaySeconds > 0 || quarantined > 0n;
  return {
    total: jsonCount(total),
    allocated: jsonCount(counts.inPools),
    available: jsonCount(total - counts.inPools - quarantined),
    outsidePools: jsonCount(counts.all - counts.inPools),
    ...(shown ? { quarantined: jsonCount(quarantined) } : {}),
  };
}

export interface SubnetView {
  id: string;
  cidr: string;
  ipVersion: IpVersion;
  name: string | null;
  space: string;
  gatewayIp: string | null;
  allocationPools: PoolText[];
  tags: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  usage: Usage;
  reuseDelaySeconds: number;
  poolId?: string;
}

export function subnetView(subnet: Subnet, counts: UsageCounts): SubnetView {
  const {
    pk: _pk,
    sk: _sk,
    type: _type,
    version: _v,
    configVersion: _cv,
    gsi1pk: _g1,
    gsi1sk: _g2,
    reuseDelaySeconds: _delay,
    reuseDelayFrom: _from,
    ...view
  } = toSubnetItem(subnet);
  return { ...view, usage: usageOf(subnet, counts), reuseDelaySeconds: subnet.reuseDelaySeconds };
}
