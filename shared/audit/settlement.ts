/**
 * Counter settlement (USAGE_DRIFT): after a shard's blocks were joined, its usage
 * counter is compared with what the blocks held plus this audit's own repairs, and
 * recounted when that is known to be safe. A counter still fenced for the recount of
 * a configuration change (COUNTER_AWAITING_RECOUNT) is a state the service repairs
 * by itself, not drift.
 */
import { AllocationContentionError } from '../errors.js';
import { keys } from '../store/keys.js';
import type { TransactItem } from '../store/transactions.js';
import {
  fencedVersion,
  newCounterItem,
  recountShard,
  StaleSubnetError,
} from '../subnets/counters.js';
import type { Item, Tally } from './io.js';
import { FindingType, NotRepaired, type Outcome } from './report.js';
import type { AuditScope } from './scope.js';
import type { ShardScan } from './shard.js';

/** A shard counter as stored: its counts, `ver` (bumped by every write) and `pv` (its configVersion). */
export interface StoredCounter extends Tally {
  ver: number;
  pv: number;
}

export function counterOf(item: Item | undefined): StoredCounter | undefined {
  if (item === undefined) return undefined;
  return {
    n: Number(item.n ?? 0),
    p: Number(item.p ?? 0),
    l: Number(item.l ?? 0),
    ver: Number(item.ver ?? 0),
    pv: Number(item.pv ?? 0),
  };
}

/** The shard counter as it is now (a consistent read). */
export async function readCounter(
  scope: AuditScope,
  subnetId: string,
  shard: number,
): Promise<StoredCounter | undefined> {
  return counterOf(await scope.io.get(keys.counter(subnetId, shard)));
}

/** The transaction item that moves the shard counter with a repair, if still counted under the same pools. */
export function counterDelta(scope: AuditScope, sh: ShardScan, delta: Tally): TransactItem {
  return {
    Update: {
      TableName: scope.ctx.tableName,
      Key: keys.counter(sh.subnet.id, sh.shard),
      UpdateExpression: 'ADD n :n, p :p, l :l, ver :one',
      ConditionExpression: 'pv = :pv',
      ExpressionAttributeValues: {
        ':n': delta.n,
        ':p': delta.p,
        ':l': delta.l,
        ':one': 1,
        ':pv': sh.subnet.configVersion,
      },
    },
  };
}

/**
 * USAGE_DRIFT: compares the counter with the blocks. The comparison only counts
 * when the counter's `ver` moved by exactly this audit's own writes between the
 * reads before and after the blocks (every allocator write to a block moves it in
 * the same transaction), so the blocks read are a snapshot as of the counter.
 * The recount is then written on condition `ver` and `pv` are still those — and
 * only when no pending record exists (checked after the blocks were read): a
 * multi-step request may write blocks in one transaction and its counter in the
 * next. Counters of an older configVersion are recounted by counters.ts.
 * Returns the counts the counter holds afterwards (for utilisation).
 */
export async function settleCounter(
  scope: AuditScope,
  sh: ShardScan,
  before: StoredCounter | undefined,
): Promise<Tally> {
  const { io, settings } = scope;
  const key = keys.counter(sh.subnet.id, sh.shard);
  const after = counterOf(await io.get(key));
  const expected = {
    n: sh.truth.n + sh.ours.n,
    p: sh.truth.p + sh.ours.p,
    l: sh.truth.l + sh.ours.l,
  };
  const configVersion = sh.subnet.configVersion;
  const finding = (detail: string) => ({
    type: FindingType.USAGE_DRIFT,
    subnetId: sh.subnet.id,
    detail: `Shard ${sh.shard}: ${detail}`,
  });
  if (before === undefined && after === undefined) {
    // Deleted meanwhile (the subnet and its counters go in one transaction)?
    if ((await io.get(keys.subnet(sh.subnet.id))) === undefined) return expected;
    let outcome: Outcome = NotRepaired.REPORT_ONLY;
    if (settings.repair) {
      if (await io.hasPending(sh.subnet.id)) outcome = NotRepaired.IN_FLIGHT;
      else {
        const created = await io.transact([
          {
            ConditionCheck: {
              TableName: scope.ctx.tableName,
              Key: keys.subnet(sh.subnet.id),
              ConditionExpression: 'configVersion = :cv',
              ExpressionAttributeValues: { ':cv': configVersion },
            },
          },
          {
            Put: {
              TableName: scope.ctx.tableName,
              Item: { ...newCounterItem(sh.subnet.id, sh.shard, configVersion), ...expected },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ]);
        outcome = created ? true : NotRepaired.CHANGED;
      }
    }
    scope.findings.add(
      finding(
        `the usage counter is missing, so every allocation in the shard fails; the blocks hold ${tallyText(expected)}.`,
      ),
      outcome,
    );
    return expected;
  }
  if (before === undefined || after === undefined) {
    scope.part.unstableShards += 1;
    return after ?? expected;
  }
  if (after.pv < configVersion && before.pv === after.pv) {
    let outcome: Outcome = NotRepaired.REPORT_ONLY;
    let counted: Tally = expected;
    if (settings.repair) {
      try {
        counted = await recountShard(scope.ctx, sh.subnet, sh.shard);
        outcome = true;
      } catch (error) {
        if (!(error instanceof StaleSubnetError || error instanceof AllocationContentionError)) {
          throw error;
        }
        outcome = NotRepaired.CHANGED;
      }
    }
    // configFence leaves exactly this `pv` on a shard it fences: no write can match it
    // and the next readCounters recounts it (counters.ts), so its counts are never
    // used as they stand. An older one predates the fence: that stays drift.
    const fenced = after.pv === fencedVersion(configVersion);
    scope.findings.add(
      fenced
        ? {
            type: FindingType.COUNTER_AWAITING_RECOUNT,
            subnetId: sh.subnet.id,
            detail:
              `Shard ${sh.shard}: fenced for the recount of configuration ${configVersion} (a pool ` +
              `or gateway change whose recount did not finish); the next read of the counters ` +
              `recounts it from its blocks, which hold ${tallyText(expected)}.`,
          }
        : finding(
            `the counter was counted under configuration ${after.pv}, the subnet is at ` +
              `${configVersion} (a pool change that did not finish its recount).`,
          ),
      outcome,
    );
    return counted;
  }
  if (after.pv !== configVersion || after.ver !== before.ver + sh.writes) {
    scope.part.unstableShards += 1;
    return after;
  }
  if (after.n === expected.n && after.p === expected.p && after.l === expected.l) return after;
  let outcome: Outcome = NotRepaired.REPORT_ONLY;
  if (settings.repair) {
    if (await io.hasPending(sh.subnet.id)) outcome = NotRepaired.IN_FLIGHT;
    else {
      const written = await io.setCounter(key, expected, after.ver, configVersion);
      outcome = written ? true : NotRepaired.CHANGED;
    }
  }
  scope.findings.add(
    finding(`the counter says ${tallyText(after)}, the blocks hold ${tallyText(expected)}.`),
    outcome,
  );
  return outcome === true ? expected : after;
}

function tallyText(tally: Tally): string {
  return `${tally.n} allocated (${tally.p} in the pools, ${tally.l} leases)`;
}
