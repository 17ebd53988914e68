/**
 * `GET /addresses/{ip}`: every subnet whose CIDR contains an address, in every space
 * or one, with the address's state there.
 *
 * Subnets of one space never overlap, so a space holds at most one such subnet: the
 * space-index entry (`SPACE#<space>` / `NET#<v>#<network>`) with the greatest network
 * at or below the address, if its `lastKey` reaches the address — one consistent
 * query of one item. The spaces themselves come from the subnet list (gsi1
 * `SUBNETS`, sorted `<space>#NET#…`) by a skip scan: one query of one item per space,
 * each starting after the last space's keys. Cost: two one-item queries per space,
 * then two GetItems (subnet, allocation) per containing subnet — and a third (the
 * block: is it in its release cool-down?) where no live allocation holds it —
 * independent of how many subnets a space holds.
 */
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { SubnetNotFoundError } from '../errors.js';
import { addressKey, cidrFirst, cidrLast, formatCidr, type IpAddress } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import { keys } from '../store/keys.js';
import { coolingUntil } from '../subnets/blocks.js';
import { geometryOf, positionOf } from '../subnets/geometry.js';
import { isLive } from '../subnets/holding.js';
import { inPools, usesEveryAddress } from '../subnets/rules.js';
import type { Subnet } from '../subnets/subnet.js';
import { loadSubnet } from '../subnets/subnets.js';
import { type AllocationItem, type AllocationView, viewFromItem } from './items.js';
import { nowSeconds, readBlock } from './reads.js';

/** What an address is in one subnet (API.md "Who did it"). */
export const AddressState = {
  ALLOCATED: 'ALLOCATED',
  LEASE_EXPIRED: 'LEASE_EXPIRED',
  QUARANTINED: 'QUARANTINED',
  GATEWAY: 'GATEWAY',
  RESERVED: 'RESERVED',
  FREE: 'FREE',
  OUTSIDE_POOLS: 'OUTSIDE_POOLS',
} as const;
export type AddressState = (typeof AddressState)[keyof typeof AddressState];

/** One subnet that contains the address, and the address there. */
export interface AddressPlace {
  space: string;
  subnetId: string;
  cidr: string;
  state: AddressState;
  inPools: boolean;
  allocation: AllocationView | null;
  /** QUARANTINED only: when the address's release cool-down ends (ISO-8601). */
  availableAt?: string;
}

/** The subnets containing `ip` (in `space` only, when given), ordered by space. */
export async function lookupAddress(
  ctx: IpamContext,
  ip: IpAddress,
  space?: string,
): Promise<{ items: AddressPlace[] }> {
  const spaces = space === undefined ? await allSpaces(ctx) : [space];
  const items: AddressPlace[] = [];
  for (const name of spaces) {
    const subnetId = await containingSubnet(ctx, name, ip);
    if (subnetId === undefined) continue;
    const place = await placeIn(ctx, subnetId, ip);
    if (place !== undefined) items.push(place);
  }
  return { items };
}

/** The spaces that hold a subnet, by a skip scan of the subnet list. */
async function allSpaces(ctx: IpamContext): Promise<string[]> {
  const spaces: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression:
          after === undefined ? 'gsi1pk = :pk' : 'gsi1pk = :pk AND gsi1sk > :after',
        ExpressionAttributeValues: {
          ':pk': keys.allSubnets,
          ...(after === undefined ? {} : { ':after': after }),
        },
        ProjectionExpression: '#space',
        ExpressionAttributeNames: { '#space': 'space' },
        Limit: 1,
      }),
    );
    const item = page.Items?.[0];
    if (item === undefined || typeof item.space !== 'string') return spaces;
    spaces.push(item.space);
    // Sort keys are `<space>#…`; '$' sorts right after '#' and before every character a
    // space name may hold ([A-Za-z0-9._-]), so this skips exactly this space's subnets.
    after = `${item.space}$`;
  }
}

/** The id of the subnet of `space` whose CIDR contains `ip`, if any. */
async function containingSubnet(
  ctx: IpamContext,
  space: string,
  ip: IpAddress,
): Promise<string | undefined> {
  const result = await ctx.doc.send(
    new QueryCommand({
      TableName: ctx.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
      ExpressionAttributeValues: {
        ':pk': keys.spaceHead(space).pk,
        ':low': `NET#${ip.version}#`,
        ':high': keys.spaceEntrySort(ip),
      },
      ScanIndexForward: false,
      Limit: 1,
      ConsistentRead: true,
    }),
  );
  const entry = result.Items?.[0];
  if (entry === undefined || String(entry.lastKey) < addressKey(ip)) return undefined;
  return String(entry.subnetId);
}

/** The address in one subnet; undefined if the subnet went meanwhile. */
async function placeIn(
  ctx: IpamContext,
  subnetId: string,
  ip: IpAddress,
): Promise<AddressPlace | undefined> {
  let subnet: Subnet;
  try {
    subnet = await loadSubnet(ctx, subnetId);
  } catch (error) {
    if (error instanceof SubnetNotFoundError) return undefined;
    throw error;
  }
  const pos = positionOf(geometryOf(subnet.cidr), ip.value);
  const result = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: keys.allocation(subnet.id, pos.shard, ip),
      ConsistentRead: true,
    }),
  );
  const stored = result.Item as AllocationItem | undefined;
  // A tombstone is no allocation: it is the release's cool-down the block shows.
  const item = stored?.releasedAt === undefined ? stored : undefined;
  const pooled = inPools(subnet.pools, ip.value);
  const now = nowSeconds(ctx);
  // A live allocation is never in a cool-down, nor is the gateway (a PATCH may move it
  // onto an address that was cooling down, or onto an expired lease); otherwise the
  // block says whether the address is.
  const live = item !== undefined && isLive(item, ctx.now());
  const gateway = !live && subnet.gateway !== null && ip.value === subnet.gateway;
  // When its release cool-down ends (epoch seconds), if it is in one now.
  const until =
    live || gateway
      ? undefined
      : coolingUntil(await readBlock(ctx, subnet, pos, true), pos.offset, now);
  const holding: Holding = live
    ? 'live'
    : until !== undefined
      ? 'cooling'
      : item !== undefined
        ? 'expired'
        : 'none';
  const state = addressState(subnet, ip.value, holding);
  return {
    space: subnet.space,
    subnetId: subnet.id,
    cidr: formatCidr(subnet.cidr),
    state,
    inPools: pooled,
    allocation: item === undefined ? null : viewFromItem(item),
    ...(until === undefined ? {} : { availableAt: new Date(until * 1000).toISOString() }),
  };
}

/**
 * What holds an address, as read: a live allocation (or lease), an allocation past
 * its expiry not yet reused, a release cool-down, or nothing.
 */
export type Holding = 'live' | 'expired' | 'cooling' | 'none';

/**
 * The state of an address of `subnet` from what holds it: the one rule behind
 * `GET /addresses/{ip}` and the cells of one address of `GET /subnets/{id}/map`. A
 * live allocation is never the gateway; the gateway is GATEWAY even while an
 * address it moved onto cools down or holds an expired lease.
 */
export function addressState(subnet: Subnet, value: bigint, holding: Holding): AddressState {
  if (holding === 'live') return AddressState.ALLOCATED;
  if (subnet.gateway !== null && value === subnet.gateway) return AddressState.GATEWAY;
  if (holding === 'cooling') return AddressState.QUARANTINED;
  if (holding === 'expired') return AddressState.LEASE_EXPIRED;
  if (!usesEveryAddress(subnet.cidr)) {
    const first = cidrFirst(subnet.cidr);
    // IPv4 network and broadcast; IPv6 subnet-router anycast (the network address).
    if (value === first) return AddressState.RESERVED;
    if (subnet.cidr.version === 4 && value === cidrLast(subnet.cidr)) {
      return AddressState.RESERVED;
    }
  }
  return inPools(subnet.pools, value) ? AddressState.FREE : AddressState.OUTSIDE_POOLS;
}
