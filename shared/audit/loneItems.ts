/**
 * Lone allocation items: items whose offset their block does not hold — a dead
 * lease the table's TTL has not removed yet (EXPIRED_LEASE, item side), or a live
 * holder the allocator sees as free (ALLOCATION_WITHOUT_BLOCK).
 */
import { type AllocationItem, tokenAttribute } from '../allocator/index.js';
import { keys } from '../store/keys.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import { blockFromItem, coolingAttribute, leaseAttribute } from '../subnets/blocks.js';
import { positionOf } from '../subnets/geometry.js';
import { inPools } from '../subnets/rules.js';
import { FindingType, NotRepaired, type Outcome } from './report.js';
import { type AuditScope, graceCutoffSeconds } from './scope.js';
import { counterDelta } from './settlement.js';
import {
  countRepair,
  ipText,
  isLive,
  isoSeconds,
  itemKeyOf,
  itemValue,
  misplaced,
  type ShardScan,
  sameItemCondition,
} from './shard.js';

/**
 * An allocation item whose offset its block does not hold.
 *
 * Expired (EXPIRED_LEASE, item side): a dead item the table's TTL has not removed
 * yet; the address is free. Deleted, once expired longer ago than the grace period,
 * on condition it is still the same request's item with the same expiry.
 *
 * Live (ALLOCATION_WITHOUT_BLOCK): the holder has the address but the allocator
 * sees it free (its reservations then fail on the live item). Repaired, once the
 * item is older than the grace period, by taking the offset for the item's request
 * — on condition the block still does not hold it and the item is unchanged and
 * live — and counting it. This only ever marks an address held, never frees one.
 *
 * `count`: false when the join already counted the item as examined.
 */
export async function loneItem(
  scope: AuditScope,
  sh: ShardScan,
  item: AllocationItem,
  count = true,
): Promise<void> {
  const { ctx, io, settings } = scope;
  if (count) scope.part.scanned.allocations += 1;
  const value = itemValue(item as unknown as Record<string, unknown>);
  const ip = ipText(sh, value);
  if (!isLive(item, sh.nowSeconds)) {
    // When the item stops holding the address: the grace period counts from then.
    const expiry = Number(item.ttl ?? 0);
    const finding = {
      type: FindingType.EXPIRED_LEASE,
      subnetId: sh.subnet.id,
      ip,
      detail:
        item.releasedAt === undefined
          ? `The lease expired at ${String(item.expiresAt)}; its allocation item is left over (the address is free).`
          : `The address was released at ${item.releasedAt} (cooling down until ${isoSeconds(expiry)}); its tombstone is left over and its block does not hold it.`,
    };
    let outcome: Outcome;
    if (!settings.repair) outcome = NotRepaired.REPORT_ONLY;
    else if (expiry > graceCutoffSeconds(scope)) outcome = NotRepaired.GRACE_PERIOD;
    else {
      const deleted = await io.transact([
        {
          Delete: {
            TableName: ctx.tableName,
            Key: itemKeyOf(item),
            ...sameItemCondition(item),
          },
        },
      ]);
      outcome = deleted ? true : NotRepaired.CHANGED;
    }
    scope.findings.add(finding, outcome);
    return;
  }
  // Read again, as one snapshot: the block may have been written after its query passed.
  const pos = positionOf(sh.g, value);
  const blockKey = keys.block(sh.subnet.id, pos.shard, pos.block);
  const [blockNow, itemNow] = await io.snapshot([blockKey, itemKeyOf(item)]);
  if (blockFromItem(pos.block, blockNow).used.has(pos.offset)) return;
  const now = itemNow as unknown as AllocationItem | undefined;
  if (now?.reqToken !== item.reqToken || !isLive(now, Math.floor(ctx.now() / 1000))) return;
  const leased = typeof now.ttl === 'number';
  const inPool = inPools(sh.subnet.pools, value);
  const finding = {
    type: FindingType.ALLOCATION_WITHOUT_BLOCK,
    subnetId: sh.subnet.id,
    ip,
    detail:
      `The address is allocated${now.owner === null ? '' : ` to ${JSON.stringify(now.owner)}`} ` +
      'but its block does not hold it, so usage misses it and requests that pick it fail.',
  };
  let outcome: Outcome;
  const createdMs = Date.parse(now.createdAt);
  if (!settings.repair || misplaced(sh, value)) outcome = NotRepaired.REPORT_ONLY;
  else if (!sh.current) outcome = NotRepaired.COUNTER_NOT_CURRENT;
  else if (Number.isNaN(createdMs) || ctx.now() - createdMs < settings.gracePeriodMs) {
    outcome = NotRepaired.GRACE_PERIOD;
  } else {
    const lease = leaseAttribute(pos.offset);
    const values: Record<string, unknown> = {
      ':o': pos.offset,
      ':offset': new Set([pos.offset]),
      ':tok': now.reqToken,
    };
    // The block holds the offset as the item does: until its `ttl`, cooling from
    // `coolFrom`. A lease without `coolFrom` under a delay was written before its item
    // held freeAt (stage 1 of docs/one-write-migration.md: `ttl` = the expiry) or before
    // this delay's rewrite reached it: held until its expiry plus the delay now, and its
    // item moves with the block, as a delay PATCH's rewrite would move both.
    const delay = sh.subnet.reuseDelaySeconds;
    const upgraded = leased && now.coolFrom === undefined && delay > 0;
    const cooled = leased && (now.coolFrom !== undefined || upgraded);
    if (leased) values[':x'] = upgraded ? Number(now.ttl) + delay : now.ttl;
    if (cooled) values[':q'] = upgraded ? now.ttl : now.coolFrom;
    const delta = { n: 1, p: inPool ? 1 : 0, l: leased ? 1 : 0 };
    const ok = await io.transact([
      {
        Update: {
          TableName: ctx.tableName,
          Key: blockKey,
          UpdateExpression:
            `ADD u :offset SET ${tokenAttribute(pos.offset)} = :tok` +
            (cooled
              ? `, ${lease} = :x, ${coolingAttribute(pos.offset)} = :q`
              : leased
                ? `, ${lease} = :x`
                : ` REMOVE ${lease}`),
          ConditionExpression: 'NOT contains(u, :o)',
          ExpressionAttributeValues: values,
        },
      },
      itemCheck(ctx.tableName, now, leased, upgraded ? values : undefined, ctx.now()),
      counterDelta(scope, sh, delta),
    ]);
    if (ok) {
      countRepair(sh, delta);
      outcome = true;
    } else outcome = NotRepaired.CHANGED;
  }
  scope.findings.add(finding, outcome);
}

/**
 * The lone item's side of its repair: still this request's item, unchanged and live
 * (a lease not ended, no tombstone). With `moved` (the block's `:x`, `:q`) the item
 * takes the same free time and cool-down start.
 */
function itemCheck(
  tableName: string,
  item: AllocationItem,
  leased: boolean,
  moved: Record<string, unknown> | undefined,
  nowMs: number,
) {
  const condition = {
    TableName: tableName,
    Key: itemKeyOf(item),
    ConditionExpression: leased
      ? 'reqToken = :tok AND #ttl = :ttl AND attribute_not_exists(releasedAt) AND expiresAt > :nowIso'
      : 'reqToken = :tok AND attribute_not_exists(#ttl)',
    ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
    ExpressionAttributeValues: {
      ':tok': item.reqToken,
      ...(leased ? { ':ttl': item.ttl, ':nowIso': new Date(nowMs).toISOString() } : {}),
    },
  };
  if (moved === undefined) return { ConditionCheck: condition };
  return {
    Update: {
      ...condition,
      UpdateExpression: 'SET #ttl = :x, coolFrom = :q',
      ExpressionAttributeValues: {
        ...condition.ExpressionAttributeValues,
        ':x': moved[':x'],
        ':q': moved[':q'],
      },
    },
  };
}
