/**
 * Taken block offsets with no live allocation item: leases past their expiry
 * (EXPIRED_LEASE, block side) and offsets nobody holds (BLOCK_WITHOUT_ALLOCATION),
 * and the one transaction that frees such an offset exactly as it was seen.
 */
import { type AllocationItem, tokenAttribute } from '../allocator/index.js';
import { keys } from '../store/keys.js';
import type { TransactItem } from '../store/transactions.js';
import { blockFromItem, coolingAttribute, leaseAttribute } from '../subnets/blocks.js';
import { positionOf } from '../subnets/geometry.js';
import { notLiveCondition } from '../subnets/holding.js';
import { forgetSighting, sight } from './auditStore.js';
import { FindingType, NotRepaired, type Outcome } from './report.js';
import { type AuditScope, graceCutoffSeconds, seenLongEnough } from './scope.js';
import { counterDelta } from './settlement.js';
import {
  countAside,
  countRepair,
  ipText,
  isLive,
  isoSeconds,
  itemKey,
  itemKeyOf,
  misplaced,
  type SeenOffset,
  type ShardScan,
  sameItemCondition,
} from './shard.js';

/**
 * EXPIRED_LEASE, block side: the offset's lease expired (so it is already free to
 * the allocator). Repair, once it expired longer ago than the grace period: one
 * transaction removes the offset on condition that the block still holds it with
 * the same expiry and token (no reclaim or renewal happened), deletes the
 * allocation item if it is still the same expired one (or checks that no live one
 * appeared), and decrements the counter on condition it is counted under the same
 * configuration.
 */
export async function expiredLease(
  scope: AuditScope,
  sh: ShardScan,
  seen: SeenOffset,
  itemLive: boolean,
): Promise<void> {
  const expiry = seen.expiry ?? 0;
  const ip = ipText(sh, seen.value);
  if (itemLive) {
    scope.findings.add(
      {
        type: FindingType.EXPIRED_LEASE,
        subnetId: sh.subnet.id,
        ip,
        detail:
          `The block's lease expired at ${isoSeconds(expiry)}, but the allocation item is ` +
          `live until ${String(seen.item?.expiresAt)}; left for a human to judge.`,
      },
      NotRepaired.REPORT_ONLY,
    );
    countAside(sh, seen, false);
    return;
  }
  const finding = {
    type: FindingType.EXPIRED_LEASE,
    subnetId: sh.subnet.id,
    ip,
    detail:
      `The lease expired at ${isoSeconds(expiry)} but its block still holds the address` +
      `${seen.item === undefined ? '' : ' and its allocation item is still stored'}.`,
  };
  let outcome: Outcome;
  if (!scope.settings.repair || misplaced(sh, seen.value)) outcome = NotRepaired.REPORT_ONLY;
  else if (!sh.current) outcome = NotRepaired.COUNTER_NOT_CURRENT;
  else if (expiry > graceCutoffSeconds(scope)) outcome = NotRepaired.GRACE_PERIOD;
  else outcome = await freeOffset(scope, sh, seen, false);
  if (outcome !== true) countAside(sh, seen, false);
  scope.findings.add(finding, outcome);
}

/**
 * BLOCK_WITHOUT_ALLOCATION: a taken offset that no live allocation item and no
 * pending request names — an address nobody holds and nobody can get. Every
 * writer puts the block offset and the allocation item in one transaction, or (a
 * multi-step request) behind a pending record, so this state is never a step of
 * live work. Still, the block carries no age: it is freed only when an earlier
 * audit saw the very same state (offset, token, lease) longer ago than the grace
 * period, by a transaction that re-checks all of it — the block unchanged, no live
 * allocation item, no pending record of its token — and decrements the counter.
 */
export async function blockWithoutAllocation(
  scope: AuditScope,
  sh: ShardScan,
  seen: SeenOffset,
): Promise<void> {
  if (seen.token !== undefined && sh.pending.has(seen.token)) return; // in flight
  const { ctx } = scope;
  // Read again, as one snapshot: the two queries are not one, and neither are
  // separate reads (a release between them would look exactly like this).
  const pos = positionOf(sh.g, seen.value);
  const [block, item, pendingRecord] = await scope.io.snapshot([
    keys.block(sh.subnet.id, pos.shard, seen.block),
    itemKey(sh, seen.value),
    ...(seen.token === undefined ? [] : [keys.pending(sh.subnet.id, seen.token)]),
  ]);
  const state = blockFromItem(seen.block, block);
  if (
    !state.used.has(seen.offset) ||
    block?.[tokenAttribute(seen.offset)] !== seen.token ||
    state.leases.get(seen.offset) !== seen.expiry
  ) {
    return;
  }
  // Judged at one instant: a lease that expired meanwhile is EXPIRED_LEASE, next time.
  const nowSeconds = Math.floor(ctx.now() / 1000);
  if (seen.expiry !== undefined && seen.expiry <= nowSeconds) return;
  if (item !== undefined && isLive(item as unknown as AllocationItem, nowSeconds)) return;
  if (pendingRecord !== undefined && seen.token !== undefined) {
    sh.pending.add(seen.token);
    return;
  }
  const fresh: SeenOffset = { ...seen, item: item as unknown as AllocationItem | undefined };
  const what = `BWA#${keys.blockSort(seen.block)}#${seen.offset}`;
  const sighting = await sight(
    ctx,
    scope.meter,
    scope.auditId,
    sh.subnet.id,
    what,
    `${seen.token ?? '-'}|${seen.expiry ?? '-'}|${item?.reqToken ?? '-'}`,
  );
  const finding = {
    type: FindingType.BLOCK_WITHOUT_ALLOCATION,
    subnetId: sh.subnet.id,
    ip: ipText(sh, seen.value),
    detail:
      'The block holds the address, but no live allocation item ' +
      `${item === undefined ? '' : '(only an expired one) '}and no pending request name it, ` +
      `so nobody holds it and nobody can get it (first seen ${new Date(sighting.firstSeenMs).toISOString()}).`,
  };
  let outcome: Outcome;
  if (!scope.settings.repair || misplaced(sh, seen.value)) outcome = NotRepaired.REPORT_ONLY;
  else if (!sh.current) outcome = NotRepaired.COUNTER_NOT_CURRENT;
  else if (!seenLongEnough(scope, sighting)) outcome = NotRepaired.GRACE_PERIOD;
  else outcome = await freeOffset(scope, sh, fresh, true);
  if (outcome === true) await forgetSighting(ctx, scope.meter, sh.subnet.id, what);
  scope.findings.add(finding, outcome);
}

/** Frees a taken offset exactly as seen (see expiredLease and blockWithoutAllocation). */
async function freeOffset(
  scope: AuditScope,
  sh: ShardScan,
  seen: SeenOffset,
  checkPending: boolean,
): Promise<Outcome> {
  const tableName = scope.ctx.tableName;
  const lease = leaseAttribute(seen.offset);
  const token = tokenAttribute(seen.offset);
  const values: Record<string, unknown> = {
    ':o': seen.offset,
    ':offset': new Set([seen.offset]),
  };
  const conditions = ['contains(u, :o)'];
  if (seen.expiry === undefined) conditions.push(`attribute_not_exists(${lease})`);
  else {
    conditions.push(`${lease} = :x`);
    values[':x'] = seen.expiry;
  }
  if (seen.token === undefined) conditions.push(`attribute_not_exists(${token})`);
  else {
    conditions.push(`${token} = :t`);
    values[':t'] = seen.token;
  }
  const writes: TransactItem[] = [
    {
      Update: {
        TableName: tableName,
        Key: keys.block(sh.subnet.id, sh.shard, seen.block),
        UpdateExpression: `DELETE u :offset REMOVE ${lease}, ${token}, ${coolingAttribute(seen.offset)}`,
        ConditionExpression: conditions.join(' AND '),
        ExpressionAttributeValues: values,
      },
    },
    noLiveItem(scope, sh, seen),
  ];
  if (checkPending && seen.token !== undefined) {
    writes.push({
      ConditionCheck: {
        TableName: tableName,
        Key: keys.pending(sh.subnet.id, seen.token),
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
  }
  const delta = { n: -1, p: seen.inPool ? -1 : 0, l: seen.expiry === undefined ? 0 : -1 };
  writes.push(counterDelta(scope, sh, delta));
  if (!(await scope.io.transact(writes))) return NotRepaired.CHANGED;
  countRepair(sh, delta);
  return true;
}

/** Deletes the expired allocation item seen (if still the same), else checks none is live. */
function noLiveItem(scope: AuditScope, sh: ShardScan, seen: SeenOffset): TransactItem {
  const key = seen.item === undefined ? itemKey(sh, seen.value) : itemKeyOf(seen.item);
  if (seen.item !== undefined) {
    return {
      Delete: {
        TableName: scope.ctx.tableName,
        Key: key,
        ...sameItemCondition(seen.item),
      },
    };
  }
  return {
    ConditionCheck: {
      TableName: scope.ctx.tableName,
      Key: key,
      ...notLiveCondition(scope.ctx.now()),
    },
  };
}
