/**
 * One shard partition under audit, fed by the scan: the items the segment read of
 * `SUBNET#<id>#S#<k>` (its counter, blocks and allocation items, in any order) go
 * through the same block↔allocation join as ever (join.ts, blockOffsets.ts,
 * loneItems.ts), and its counter is settled.
 *
 * **Why a scanned copy is enough.** The scan's copy is not a snapshot: a
 * transaction may commit between the reads of a block and of the counter. So the
 * scanned copy only ever *suggests*: every repair re-reads what it changes
 * (consistent snapshots, conditional writes), and a counter that seems to drift is
 * judged only after a consistent re-read of the shard — counter, blocks, counter —
 * exactly as settlement.ts always did. A shard that agrees with its counter costs
 * no read beyond the scan. The same holds if a shard's items ever arrive split
 * (DynamoDB documents no order for Scan): the join then sees part of the shard,
 * and each of its suspicions is checked by a consistent read before it is reported.
 *
 * Its blocks also pass the address map's check (mapSummaries.ts): each summary
 * partition's blocks against one Query of their summaries, after the join; and its
 * blocks' hints, where there are any (or the deployment keeps them), are checked
 * against its items (hints.ts), on either path.
 *
 * The shard audits that need every item of a shard (a subnet created during the
 * scan, a shard whose partition the scan never met) use {@link auditShardByQuery}.
 */
import { keys, PREFIX, parseAllocationSort, parseBlockSort } from '../store/keys.js';
import { blockFromItem } from '../subnets/blocks.js';
import { addressAt, type Geometry, geometryOf } from '../subnets/geometry.js';
import { inPools } from '../subnets/rules.js';
import type { Subnet } from '../subnets/subnet.js';
import type { OutsidePools } from './checkpoint.js';
import { checkHints } from './hints.js';
import type { Item, Tally } from './io.js';
import { joinShard } from './join.js';
import { MapSummaryCheck } from './mapSummaries.js';
import type { AuditReader } from './reader.js';
import type { AuditScope } from './scope.js';
import { counterOf, readCounter, type StoredCounter, settleCounter } from './settlement.js';
import type { Aside, ShardScan } from './shard.js';

/** A shard's counts after its audit: its counter's, and what of them nobody holds. */
export interface ShardCount extends Tally {
  readonly aside: Aside;
}

/** Audits a shard from its scanned items; returns the counts its counter holds afterwards. */
export async function auditScannedShard(
  scope: AuditScope,
  reader: AuditReader,
  subnet: Subnet,
  shard: number,
  items: readonly Item[],
  outside: OutsidePools,
): Promise<ShardCount> {
  const blocks: Item[] = [];
  const allocations: Item[] = [];
  const hints: Item[] = [];
  let counterItem: Item | undefined;
  for (const item of items) {
    const sk = String(item.sk);
    if (sk.startsWith(PREFIX.block)) blocks.push(item);
    else if (sk.startsWith(PREFIX.allocation)) allocations.push(item);
    else if (sk.startsWith(PREFIX.hint)) hints.push(item);
    else if (sk === keys.counter(subnet.id, shard).sk) counterItem = item;
  }
  // The join walks both streams in address order.
  blocks.sort((a, b) => compare(parseBlockSort(String(a.sk)), parseBlockSort(String(b.sk))));
  allocations.sort((a, b) =>
    compare(parseAllocationSort(String(a.sk)), parseAllocationSort(String(b.sk))),
  );
  const scanned = counterOf(counterItem);
  const sh = newShardScan(scope, subnet, shard, scanned, outside);
  const map = new MapSummaryCheck(scope, reader, subnet);
  await joinShard(scope, sh, { blocks: map.watch(each(blocks)), allocations: each(allocations) });
  await map.finish();
  await checkHints(scope, subnet, hints, allocations);
  if (
    scanned !== undefined &&
    scanned.pv === subnet.configVersion &&
    scanned.n === sh.truth.n &&
    scanned.p === sh.truth.p &&
    scanned.l === sh.truth.l
  ) {
    // Agrees with its blocks as scanned: what it holds now is that plus our repairs.
    const n = scanned.n + sh.ours.n;
    return { n, p: scanned.p + sh.ours.p, l: scanned.l + sh.ours.l, aside: sh.aside };
  }
  return { ...(await recheckCounter(scope, reader, sh)), aside: sh.aside };
}

/**
 * Audits a shard the scan did not feed, by consistent Queries of its blocks and
 * allocation items between two reads of its counter (the whole join).
 */
export async function auditShardByQuery(
  scope: AuditScope,
  reader: AuditReader,
  subnet: Subnet,
  shard: number,
  outside: OutsidePools,
): Promise<ShardCount> {
  const before = await readCounter(scope, subnet.id, shard);
  const sh = newShardScan(scope, subnet, shard, before, outside);
  const map = new MapSummaryCheck(scope, reader, subnet);
  const items = reader.shard(subnet.id, shard);
  const hints = await reader.shardHints(subnet.id, shard);
  // The items are kept for the hints' check only where there is one to make.
  const kept: Item[] | undefined =
    hints.length > 0 || scope.settings.expectHints === true ? [] : undefined;
  await joinShard(scope, sh, {
    blocks: map.watch(items.blocks),
    allocations: kept === undefined ? items.allocations : keeping(items.allocations, kept),
  });
  await map.finish();
  if (kept !== undefined) await checkHints(scope, subnet, hints, kept);
  return { ...(await settleCounter(scope, sh, before)), aside: sh.aside };
}

/**
 * The counter seemed to drift from the scanned blocks: re-read counter, blocks and
 * counter consistently (the join's own repairs are in the blocks by now) and let
 * settlement.ts judge and repair from that snapshot.
 */
async function recheckCounter(
  scope: AuditScope,
  reader: AuditReader,
  scannedShard: ShardScan,
): Promise<Tally> {
  const { subnet, shard } = scannedShard;
  const before = await readCounter(scope, subnet.id, shard);
  const sh = newShardScan(scope, subnet, shard, before, scannedShard.progress);
  for await (const blockItem of reader.shard(subnet.id, shard).blocks) {
    countBlock(sh, sh.g, blockItem);
  }
  return settleCounter(scope, sh, before);
}

function countBlock(sh: ShardScan, g: Geometry, blockItem: Item): void {
  const block = parseBlockSort(String(blockItem.sk));
  const state = blockFromItem(block, blockItem);
  for (const offset of state.used) {
    sh.truth.n += 1;
    if (inPools(sh.subnet.pools, addressAt(g, block, offset))) sh.truth.p += 1;
    if (state.leases.get(offset) !== undefined) sh.truth.l += 1;
  }
}

function newShardScan(
  scope: AuditScope,
  subnet: Subnet,
  shard: number,
  counter: StoredCounter | undefined,
  outside: OutsidePools,
): ShardScan {
  return {
    subnet,
    g: geometryOf(subnet.cidr),
    shard,
    // Pending tokens live in the subnet's own partition, maybe in another segment:
    // each suspicious offset re-reads its pending record (blockOffsets.ts).
    pending: new Set(),
    progress: outside,
    current: counter !== undefined && counter.pv === subnet.configVersion,
    nowSeconds: Math.floor(scope.ctx.now() / 1000),
    truth: { n: 0, p: 0, l: 0 },
    ours: { n: 0, p: 0, l: 0 },
    writes: 0,
    aside: { n: 0, p: 0, q: 0 },
  };
}

async function* each(items: readonly Item[]): AsyncGenerator<Item> {
  yield* items;
}

/** `items` passed on, each also kept in `into`. */
async function* keeping(items: AsyncIterable<Item>, into: Item[]): AsyncGenerator<Item> {
  for await (const item of items) {
    into.push(item);
    yield item;
  }
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
