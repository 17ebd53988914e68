/**
 * One Scan segment of an audit job, read once, a page at a time: items are
 * gathered by partition key and each partition is audited when the scan moves on
 * to the next one (DynamoDB Scan returns a partition's items together, and in
 * sort-key order, in practice; it documents no order, so nothing here is *safe*
 * only because of it — see shardAudit.ts):
 *
 * - a shard partition `SUBNET#<id>#S#<k>`: the block↔allocation join and the
 *   counter's settlement (shardAudit.ts), its counts kept for the merge's
 *   utilisation; the shard's subnet comes from one consistent read per subnet and
 *   invocation (its `META` may be in another segment), and when it is gone, each
 *   item is an orphan;
 * - a subnet's own partition `SUBNET#<id>`: its pending records (STALE_PENDING,
 *   or orphans when the subnet is gone);
 * - a space partition: its entries, orphans when their subnet is gone;
 * - an address-map summary partition `MAP#<id>#…`: its summaries without a `ttl`,
 *   orphans when their subnet is gone (the blocks' side checks the rest:
 *   mapSummaries.ts, from the shard partitions);
 * - the audit's own items, history entries, release notes and everything else:
 *   skipped.
 *
 * Memory holds one partition at a time (a shard: its blocks and allocation items)
 * plus the segment's findings and per-subnet counts. The checkpoint (checkpoint.ts)
 * is written every `checkpointEveryMs`, when the deadline says stop, and at the end.
 */
import {
  keys,
  PREFIX,
  parseItemKey,
  parseMapPartition,
  parseShardPartition,
} from '../store/keys.js';
import { TTL_ATTRIBUTE } from '../store/table.js';
import type { Subnet } from '../subnets/subnet.js';
import type { CapacityMeter } from './auditStore.js';
import {
  type DeadlineGate,
  type Key,
  type SegmentState,
  type SubnetTally,
  shardTally,
} from './checkpoint.js';
import type { Item } from './io.js';
import { Orphans } from './orphans.js';
import { auditPending } from './pending.js';
import type { AuditReader } from './reader.js';
import { type AuditScope, parseSubnet } from './scope.js';
import { auditScannedShard } from './shardAudit.js';

const MAX_CACHED_SUBNETS = 50_000;

/** The subnets of one invocation, each read once (consistently) when first needed. */
export class SubnetCache {
  private readonly subnets = new Map<string, Subnet | null>();

  constructor(private readonly scope: AuditScope) {}

  /** The subnet as it is now; null when it does not exist (or cannot be read). */
  async get(subnetId: string): Promise<Subnet | null> {
    const known = this.subnets.get(subnetId);
    if (known !== undefined) return known;
    const item = await this.scope.io.get(keys.subnet(subnetId));
    const subnet = item === undefined ? null : (parseSubnet(item) ?? null);
    if (this.subnets.size >= MAX_CACHED_SUBNETS) this.subnets.clear();
    this.subnets.set(subnetId, subnet);
    return subnet;
  }

  /** Whether the subnet's `META` item exists (an unreadable one counts as existing). */
  async exists(subnetId: string): Promise<boolean> {
    if ((await this.get(subnetId)) !== null) return true;
    return (await this.scope.io.get(keys.subnet(subnetId))) !== undefined;
  }
}

export interface SegmentRun {
  readonly segment: number;
  readonly totalSegments: number;
  readonly state: SegmentState;
  readonly gate: DeadlineGate;
  readonly meter: CapacityMeter;
  readonly checkpointEveryMs: number;
  /** Saves `state` (the capacity used so far is already added to it). */
  readonly checkpoint: () => Promise<void>;
}

export class SegmentScan {
  private readonly subnets: SubnetCache;
  private readonly orphans: Orphans;

  constructor(
    private readonly scope: AuditScope,
    private readonly reader: AuditReader,
  ) {
    this.subnets = new SubnetCache(scope);
    this.orphans = new Orphans(scope, (subnetId) => this.subnets.exists(subnetId));
  }

  /** Runs the segment until its end (state.done) or the gate says stop; checkpoints as it goes. */
  async run(run: SegmentRun): Promise<void> {
    const { state, gate } = run;
    let open: { pk: string; items: Item[] } | undefined;
    /** The key of the last item of the last finished partition: where a resume starts. */
    let finishedKey: Key | undefined = state.startKey;
    let lastSaved = Date.now();
    const save = async () => {
      state.startKey = finishedKey;
      state.part.consumedReadCapacity += run.meter.readUnits;
      state.part.consumedWriteCapacity += run.meter.writeUnits;
      run.meter.readUnits = 0;
      run.meter.writeUnits = 0;
      await run.checkpoint();
      lastSaved = Date.now();
    };
    if (state.done) return;
    for await (const page of this.reader.segment(run.segment, run.totalSegments, state.startKey)) {
      for (const item of page.items) {
        const pk = String(item.pk ?? '');
        if (open !== undefined && open.pk !== pk) {
          await this.finishPartition(open.pk, open.items, state);
          const last = open.items[open.items.length - 1];
          finishedKey = { pk: last?.pk, sk: last?.sk };
          gate.progress();
          open = undefined;
        }
        if (open === undefined) open = { pk, items: [] };
        open.items.push(item);
      }
      if (page.lastKey === undefined) {
        if (open !== undefined) await this.finishPartition(open.pk, open.items, state);
        state.done = true;
        await save();
        return;
      }
      if (gate.shouldStop()) {
        await save();
        return;
      }
      if (Date.now() - lastSaved >= run.checkpointEveryMs && finishedKey !== state.startKey) {
        await save();
      }
    }
  }

  /** Audits the items of one partition key, and counts them. */
  private async finishPartition(pk: string, items: readonly Item[], state: SegmentState) {
    // Address-map summaries are checked from their blocks' side (one Query per
    // summary partition a shard touches: mapSummaries.ts); here only those that
    // outlived their subnet without a TTL.
    if (pk.startsWith(PREFIX.map)) {
      await this.mapPartition(pk, items);
      return;
    }
    // The audit's own items, history entries (derived from the stream, not audited)
    // and release notes (kept for the history, removed by their TTL).
    if (
      pk.startsWith(PREFIX.audit) ||
      pk.startsWith(PREFIX.history) ||
      pk.startsWith(PREFIX.releaseNote)
    )
      return;
    state.part.scanned.items += items.length;
    const first = items[0];
    if (first === undefined) return;
    const key = parseItemKey(pk, String(first.sk ?? ''));
    if (key.kind === 'shardItem') {
      await this.shardPartition(key.subnetId, parseShardPartition(pk), items, state);
      return;
    }
    for (const item of items) {
      const sk = String(item.sk ?? '');
      const itemKey = parseItemKey(pk, sk);
      if (itemKey.kind === 'pending') continue; // below, all of the subnet's at once
      if (itemKey.kind === 'spaceEntry') await this.orphans.spaceEntry(itemKey.space, item);
    }
    const pending = items.filter((item) => parseItemKey(pk, String(item.sk)).kind === 'pending');
    if (pending.length === 0 || !pk.startsWith(PREFIX.subnet)) return;
    const subnetId = pk.slice(PREFIX.subnet.length);
    const subnet = await this.subnets.get(subnetId);
    if (subnet === null) {
      for (const record of pending) await this.orphans.pendingRecord(subnetId, record);
      return;
    }
    await auditPending(this.scope, subnet, each(pending), true);
  }

  /** A summary partition: its lasting summaries are orphans when their subnet is gone. */
  private async mapPartition(pk: string, items: readonly Item[]): Promise<void> {
    const lasting = items.filter((item) => item[TTL_ATTRIBUTE] === undefined);
    if (lasting.length === 0) return; // empty summaries go by their TTL
    const subnetId = parseMapPartition(pk);
    for (const item of lasting) await this.orphans.mapSummary(subnetId, item);
  }

  private async shardPartition(
    subnetId: string,
    shard: number,
    items: readonly Item[],
    state: SegmentState,
  ): Promise<void> {
    const subnet = await this.subnets.get(subnetId);
    if (subnet === null) {
      for (const item of items) {
        const sk = String(item.sk ?? '');
        const key = parseItemKey(String(item.pk), sk);
        if (key.kind === 'shardItem') await this.orphans.shardItem(subnetId, item, key.what, sk);
      }
      return;
    }
    const tally: SubnetTally = state.subnets[subnetId] ?? {
      shards: {},
      outside: 0,
      outsideSample: [],
    };
    state.subnets[subnetId] = tally;
    const counted = await auditScannedShard(this.scope, this.reader, subnet, shard, items, tally);
    tally.shards[String(shard)] = shardTally(counted);
  }
}

async function* each(items: readonly Item[]): AsyncGenerator<Item> {
  yield* items;
}
