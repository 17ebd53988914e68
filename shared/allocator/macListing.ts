/**
 * `GET /allocations?macAddress=`: the allocations made for a MAC, across subnets.
 *
 * No index serves it: gsi1 already carries the allocation's owner (`OWNER#<owner>`),
 * and a second index would change the table. None is needed: an allocation for a MAC
 * exists only in an IPv6 /64 subnet, at that MAC's EUI-64 address (API.md), so the
 * candidates are one address per such subnet. The subnet list (gsi1 `SUBNETS`) is
 * read with IPv4 subnets filtered out, and each page's candidate items are fetched
 * by one consistent BatchGetItem. Cost: the subnet list's pages (the IPv4 subnets
 * are read and filtered too) plus one item read per IPv6 /64 subnet — bounded by the
 * number of subnets, never by the number of allocations.
 */
import type { QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { eui64InterfaceId, formatMac } from '../net/address.js';
import { batchGet } from '../store/batch.js';
import type { IpamContext } from '../store/context.js';
import { macAllocationsScope } from '../store/cursorScopes.js';
import { keys } from '../store/keys.js';
import { type Cursor, decodeCursor, encodeCursor, type Page } from '../store/paging.js';
import { geometryOf, positionOf } from '../subnets/geometry.js';
import { isLive } from '../subnets/holding.js';
import { address, fromSubnetItem } from '../subnets/subnet.js';
import { type AllocationItem, type AllocationView, viewFromItem } from './items.js';

/** Subnets read per page of the subnet list. */
const SUBNETS_PER_PAGE = 100;

/** The live allocations made for `mac` (a 48-bit value), in subnet-list order, paged. */
export async function listByMac(
  ctx: IpamContext,
  mac: bigint,
  query: { limit: number; cursor?: string },
): Promise<Page<AllocationView>> {
  const text = formatMac(mac);
  const scope = macAllocationsScope(text);
  let startKey: Cursor | undefined = decodeCursor(scope, query.cursor);
  const items: AllocationView[] = [];
  const nowMs = ctx.now();
  do {
    const page: QueryCommandOutput = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        IndexName: 'gsi1',
        KeyConditionExpression: 'gsi1pk = :pk',
        FilterExpression: 'ipVersion = :six',
        ExpressionAttributeValues: { ':pk': keys.allSubnets, ':six': 6 },
        Limit: SUBNETS_PER_PAGE,
        ExclusiveStartKey: startKey,
      }),
    );
    const candidates = (page.Items ?? [])
      .map((item) => ({ item, subnet: fromSubnetItem(item) }))
      .filter(({ subnet }) => subnet.cidr.prefixLength === 64)
      .map(({ item, subnet }) => {
        const ip = address(6, subnet.cidr.network | eui64InterfaceId(mac));
        const pos = positionOf(geometryOf(subnet.cidr), ip.value);
        return { position: indexKeyOf(item), key: keys.allocation(subnet.id, pos.shard, ip) };
      });
    const found = new Map<string, AllocationItem>();
    for (const stored of await batchGet(
      ctx,
      candidates.map((candidate) => candidate.key),
    )) {
      const item = stored as unknown as AllocationItem;
      if (isLive(item, nowMs) && item.macAddress === text)
        found.set(`${item.pk}\u0000${item.sk}`, item);
    }
    for (const [index, candidate] of candidates.entries()) {
      const item = found.get(`${candidate.key.pk}\u0000${candidate.key.sk}`);
      if (item === undefined) continue;
      items.push(viewFromItem(item));
      if (items.length === query.limit) {
        const more = index < candidates.length - 1 || page.LastEvaluatedKey !== undefined;
        return { items, nextCursor: more ? encodeCursor(scope, candidate.position) : null };
      }
    }
    startKey = page.LastEvaluatedKey as Cursor | undefined;
  } while (startKey !== undefined);
  return { items, nextCursor: null };
}

/** The subnet item's position in the subnet list (its gsi1 and table keys). */
function indexKeyOf(item: Record<string, unknown>): Cursor {
  return {
    pk: String(item.pk),
    sk: String(item.sk),
    gsi1pk: String(item.gsi1pk),
    gsi1sk: String(item.gsi1sk),
  };
}
