/**
 * Blocks' hints (shared/hints/) against the allocation items they are derived from:
 * a hint that says of some offset what no item says — a change the processor has
 * not applied yet, or one it lost (a record sent to the failure destination) — and,
 * where this deployment keeps hints (`expectHints`, IPAM_HINTS), a block with items
 * and no hint at all: its first change lost, or the hint removed (its TTL, the
 * orphan pass) while items came back.
 *
 * **What it reads.** The scan's copy of the shard: its hint items and allocation
 * items. A hint that seems to disagree is read again, the hint first and then its
 * block's items, both consistently: the items are then at least as new as any
 * change the hint was made from. Without `expectHints` only hints that exist are
 * judged (stage 2 of docs/one-write-migration.md: the processor writes them only
 * where it is asked to).
 *
 * **Trailing or lost.** A disagreement still there on the re-read may be a change
 * still in the stream (it lags by a second or so; by hours when the processor is
 * down). So the audit records it, offset by offset (each with its item's identity),
 * as sightings (auditStore.ts `sightEach`) and reports HINT_TRAILING; an audit that
 * meets the very same disagreement of some offset, seen first by an earlier audit
 * longer ago than the grace period, reports HINT_STALE: no lag explains it. Changes
 * in flight at other offsets of the block, each audit different ones, leave an
 * offset's sighting as it is.
 *
 * **What it repairs.** A repair audit rebuilds a HINT_STALE hint from the items as
 * read again, on condition that the hint's `ver` is still the one read and the
 * disagreeing offsets' items are still as read (the processor writes nothing for a
 * change the hint already says, so `ver` alone misses those): a change the processor
 * applied meanwhile wins, and one it applies later still can.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  hintAfter,
  hintItem,
  type OffsetHint,
  offsetDifferences,
  offsetHint,
  sameHint,
} from '../hints/index.js';
import { keys, parseHintSort, parseShardPartition } from '../store/keys.js';
import type { TransactItem } from '../store/transactions.js';
import { addressAt, blockRange, type Geometry, geometryOf } from '../subnets/geometry.js';
import { address, type Subnet } from '../subnets/subnet.js';
import { forgetSighting, sightEach } from './auditStore.js';
import type { Item } from './io.js';
import { FindingType, NotRepaired, type Outcome } from './report.js';
import { type AuditScope, seenLongEnough } from './scope.js';

/**
 * Checks the scanned hints of one shard against its scanned allocation items; with
 * `expectHints`, also each block that has items and no hint.
 */
export async function checkHints(
  scope: AuditScope,
  subnet: Subnet,
  hints: readonly Item[],
  allocations: readonly Item[],
): Promise<void> {
  const expectHints = scope.settings.expectHints === true;
  if (hints.length === 0 && !(expectHints && allocations.length > 0)) return;
  const g = geometryOf(subnet.cidr);
  const byBlock = new Map<bigint, OffsetHint[]>();
  for (const item of allocations) {
    const hint = offsetHint(g, change(item));
    byBlock.set(hint.pos.block, [...(byBlock.get(hint.pos.block) ?? []), hint]);
  }
  const stored = new Map(hints.map((hint) => [parseHintSort(String(hint.sk)), hint]));
  const blocks = [...new Set([...stored.keys(), ...(expectHints ? byBlock.keys() : [])])].sort(
    (a, b) => (a < b ? -1 : 1),
  );
  const shard = parseShardPartition(String((hints[0] ?? allocations[0])?.pk));
  for (const block of blocks) {
    const hint = stored.get(block) ?? NO_HINT;
    if (sameHint(hint, hintAfter(undefined, byBlock.get(block) ?? []))) continue;
    await recheck(scope, subnet, g, shard, block);
  }
}

/** A hint that is not there says nothing is taken. */
const NO_HINT: Item = {};

/** The hint the items say: each item holds its offset (shared/hints/derive.ts). */
function derived(g: Geometry, items: readonly Item[]): Record<string, unknown> {
  return hintAfter(
    undefined,
    items.map((item) => offsetHint(g, change(item))),
  );
}

function change(item: Item) {
  return {
    pk: String(item.pk),
    sk: String(item.sk),
    sequenceNumber: '0',
    newImage: item,
  };
}

async function recheck(
  scope: AuditScope,
  subnet: Subnet,
  g: Geometry,
  shard: number,
  block: bigint,
): Promise<void> {
  const { ctx } = scope;
  const key = keys.hint(subnet.id, shard, block);
  const [read] = await scope.io.snapshot([key]);
  if (read === undefined && scope.settings.expectHints !== true) return;
  const hint = read ?? NO_HINT;
  const range = blockRange(g, block);
  const items: Item[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ctx.doc.send(
      new QueryCommand({
        TableName: ctx.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
        ExpressionAttributeValues: {
          ':pk': key.pk,
          ':first': keys.allocationSort(address(subnet.cidr.version, range.start)),
          ':last': keys.allocationSort(address(subnet.cidr.version, range.end)),
        },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...((page.Items ?? []) as Item[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  const expected = derived(g, items);
  const differences = offsetDifferences(hint, expected);
  if (differences.length === 0) return;
  const says =
    read === undefined
      ? `Block ${block} has no hint where its allocation items say ${describe(expected)}`
      : `The hint of block ${block} says ${describe(hint)} where its allocation items say ${describe(expected)}`;
  // The same disagreement of one offset seen by an earlier audit, past the grace
  // period: no lagging processor explains it any more. Each offset is aged on its own,
  // so changes in flight at other offsets (a busy block) do not restart it; and its
  // item's identity is part of it, so a new allocation's lag is not an old one's.
  const what = `HINT#${shard}#${block}`;
  const fingerprints = new Map(
    differences.map(({ offset, a, b }) => [
      String(offset),
      `${a}>${b}#${identity(itemAt(subnet, g, block, offset, items))}`,
    ]),
  );
  const sightings = [
    ...(await sightEach(ctx, scope.meter, scope.auditId, subnet.id, what, fingerprints)).values(),
  ];
  if (!sightings.some((sighting) => seenLongEnough(scope, sighting))) {
    const firstSeen = Math.min(...sightings.map((sighting) => sighting.firstSeenMs));
    const since = new Date(firstSeen).toISOString();
    scope.findings.add(
      {
        type: FindingType.HINT_TRAILING,
        subnetId: subnet.id,
        detail:
          `${says} (first seen ${since}): the stream processor may not have applied their ` +
          'change yet. An audit that sees the same past the grace period reports HINT_STALE.',
      },
      NotRepaired.GRACE_PERIOD,
    );
    return;
  }
  const finding = { type: FindingType.HINT_STALE, subnetId: subnet.id, detail: `${says}.` };
  // The processor writes nothing for a change the hint already says (apply.ts), so
  // `ver` does not tell that a disagreeing offset's item changed to what the hint
  // says since the Query: its items must still be as read too. (A missing hint has
  // no such gap: the processor always creates it.)
  const unchanged =
    read === undefined
      ? []
      : differences.map(({ offset }) =>
          itemAsRead(ctx.tableName, key.pk, subnet, g, block, offset, items),
        );
  let outcome: Outcome;
  if (!scope.settings.repair || unchanged.length > MAX_CHECKED_OFFSETS) {
    outcome = NotRepaired.REPORT_ONLY;
  } else {
    const put = await scope.io.transact([
      {
        Put: {
          TableName: ctx.tableName,
          Item: hintItem(key, expected, hint, ctx.now()),
          ...(typeof hint.ver === 'number'
            ? { ConditionExpression: 'ver = :ver', ExpressionAttributeValues: { ':ver': hint.ver } }
            : { ConditionExpression: 'attribute_not_exists(ver)' }),
        },
      },
      ...unchanged,
    ]);
    outcome = put ? true : NotRepaired.CHANGED;
  }
  if (outcome === true) await forgetSighting(ctx, scope.meter, subnet.id, what);
  scope.findings.add(finding, outcome);
}

/** A transaction holds 100 items: the hint's put and at most this many checks. */
const MAX_CHECKED_OFFSETS = 99;

/** A check that the allocation item of `offset` still says, to a hint, what it said in `items`. */
function itemAsRead(
  tableName: string,
  pk: string,
  subnet: Subnet,
  g: Geometry,
  block: bigint,
  offset: number,
  items: readonly Item[],
): TransactItem {
  const sk = allocationSortAt(subnet, g, block, offset);
  const item = itemAt(subnet, g, block, offset, items);
  if (item === undefined) {
    return {
      ConditionCheck: {
        TableName: tableName,
        Key: { pk, sk },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const conditions = ['attribute_exists(pk)'];
  for (const [name, attribute] of [
    ['#ttl', 'ttl'],
    ['#coolFrom', 'coolFrom'],
  ] as const) {
    names[name] = attribute;
    const value = item[attribute];
    if (typeof value === 'number') {
      conditions.push(`${name} = :${attribute}`);
      values[`:${attribute}`] = value;
    } else conditions.push(`attribute_not_exists(${name})`);
  }
  return {
    ConditionCheck: {
      TableName: tableName,
      Key: { pk, sk },
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    },
  };
}

function allocationSortAt(subnet: Subnet, g: Geometry, block: bigint, offset: number): string {
  return keys.allocationSort(address(subnet.cidr.version, addressAt(g, block, offset)));
}

/** The allocation item of `offset` among a block's `items`, if any. */
function itemAt(
  subnet: Subnet,
  g: Geometry,
  block: bigint,
  offset: number,
  items: readonly Item[],
): Item | undefined {
  const sk = allocationSortAt(subnet, g, block, offset);
  return items.find((candidate) => String(candidate.sk) === sk);
}

/** Which allocation, and which version of it, an item is ('' for none). */
function identity(item: Item | undefined): string {
  if (item === undefined) return '';
  return [item.reqToken, item.createdAt, item.rev].map((part) => String(part ?? '')).join('|');
}

/** A hint's taken offsets, for a finding's detail. */
function describe(hint: Record<string, unknown>): string {
  const used = hint.u instanceof Set ? [...hint.u].map(Number).sort((a, b) => a - b) : [];
  return used.length === 0 ? 'no offset taken' : `offsets ${used.join(', ')} taken`;
}
