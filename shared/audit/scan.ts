/**
 * The walk: a Scan (optionally in parallel segments) visits every item once. A
 * subnet's `META` item starts that subnet's audit — its pending records, then each
 * shard: the counter, the block↔allocation join, the counter's settlement. Items
 * of shard partitions, pending records and space entries whose subnet is gone are
 * orphans, found by the Scan itself. After every segment, the overlap pass.
 *
 * The walk keeps the checkpoint up to date as it goes (the last item finished, the
 * next shard of a subnet begun) and stops when the deadline gate says so; the
 * smallest unit of work is one shard.
 */
import { keys, PREFIX, parseItemKey } from '../store/keys.js';
import { type Geometry, geometryOf } from '../subnets/geometry.js';
import type { Subnet } from '../subnets/subnet.js';
import {
  type Checkpoint,
  type DeadlineGate,
  newSubnetProgress,
  type SegmentState,
  type SubnetProgress,
} from './checkpoint.js';
import type { Item, Tally } from './io.js';
import { joinShard } from './join.js';
import { Orphans } from './orphans.js';
import { findOverlaps } from './overlaps.js';
import { auditPending } from './pending.js';
import type { AuditReader } from './reader.js';
import { type AuditScope, parseSubnet } from './scope.js';
import { readCounter, settleCounter } from './settlement.js';
import type { ShardScan } from './shard.js';
import { finishSubnet } from './utilization.js';

export class TableScan {
  private readonly orphans: Orphans;

  constructor(
    private readonly scope: AuditScope,
    private readonly reader: AuditReader,
    private readonly gate: DeadlineGate,
    private readonly checkpoint: Checkpoint,
  ) {
    this.orphans = new Orphans(scope);
  }

  /** Runs until done (true) or told to stop (false). */
  async execute(): Promise<boolean> {
    const results = await Promise.allSettled(
      this.checkpoint.segments.map((state, index) => this.runSegment(index, state)),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure !== undefined) throw (failure as PromiseRejectedResult).reason;
    if (this.checkpoint.segments.some((state) => !state.done)) return false;
    await findOverlaps(this.scope, this.gate, this.checkpoint.overlap, (startKey) =>
      this.reader.subnetList(startKey),
    );
    return this.checkpoint.overlap.done;
  }

  private async runSegment(index: number, state: SegmentState): Promise<void> {
    const total = this.checkpoint.segments.length;
    try {
      if (state.done || this.gate.shouldStop()) return;
      for await (const page of this.reader.segment(index, total, state.startKey)) {
        for (const item of page.items) {
          if (!(await this.visit(item, state))) return;
          if (!String(item.pk).startsWith(PREFIX.audit)) {
            this.scope.report.scanned.items += 1;
          }
          state.startKey = { pk: item.pk, sk: item.sk };
        }
        this.gate.progress();
        if (page.lastKey === undefined) {
          state.done = true;
          return;
        }
        state.startKey = page.lastKey;
        if (this.gate.shouldStop()) return;
      }
    } catch (error) {
      this.gate.stop();
      throw error;
    }
  }

  /** Handles one scanned item; false when told to stop inside a subnet. */
  private async visit(item: Item, state: SegmentState): Promise<boolean> {
    const pk = String(item.pk ?? '');
    const sk = String(item.sk ?? '');
    const key = parseItemKey(pk, sk);
    switch (key.kind) {
      case 'subnet':
        return this.auditSubnet(key.subnetId, state);
      case 'shardItem':
        await this.orphans.shardItem(key.subnetId, item, key.what, sk);
        return true;
      case 'pending':
        await this.orphans.pendingRecord(key.subnetId, item);
        return true;
      case 'spaceEntry':
        await this.orphans.spaceEntry(key.space, item);
        return true;
      default:
        return true;
    }
  }

  private async auditSubnet(subnetId: string, state: SegmentState): Promise<boolean> {
    // Re-read consistently: the Scan's copy may predate a pool change.
    const item = await this.scope.io.get(keys.subnet(subnetId));
    if (item === undefined) return true; // deleted meanwhile; leftovers are orphans
    const subnet = parseSubnet(item);
    if (subnet === undefined) return true;
    const g = geometryOf(subnet.cidr);
    const resumed = state.subnets?.[subnet.id];
    const progress = resumed ?? newSubnetProgress(subnet.id);
    const pending = await auditPending(
      this.scope,
      subnet,
      this.reader.pendingRecords(subnet.id),
      resumed === undefined,
    );
    // Kept in the checkpoint as shards finish, so a resume (after a deadline or an
    // error) continues at the next shard.
    state.subnets = { ...state.subnets, [subnet.id]: progress };
    for (; progress.nextShard < g.shardCount; progress.nextShard++) {
      if (this.gate.shouldStop()) return false;
      const counted = await this.auditShard(subnet, g, progress.nextShard, pending, progress);
      progress.all = (BigInt(progress.all) + BigInt(counted.n)).toString();
      progress.inPools = (BigInt(progress.inPools) + BigInt(counted.p)).toString();
      this.gate.progress();
    }
    const { [subnet.id]: _finished, ...unfinished } = state.subnets;
    state.subnets = Object.keys(unfinished).length > 0 ? unfinished : undefined;
    finishSubnet(this.scope, subnet, progress);
    return true;
  }

  /** Audits one shard partition; returns the counts its counter holds after the audit. */
  private async auditShard(
    subnet: Subnet,
    g: Geometry,
    shard: number,
    pending: Set<string>,
    progress: SubnetProgress,
  ): Promise<Tally> {
    const before = await readCounter(this.scope, subnet.id, shard);
    const sh: ShardScan = {
      subnet,
      g,
      shard,
      pending,
      progress,
      current: before !== undefined && before.pv === subnet.configVersion,
      nowSeconds: Math.floor(this.scope.ctx.now() / 1000),
      truth: { n: 0, p: 0, l: 0 },
      ours: { n: 0, p: 0, l: 0 },
      writes: 0,
    };
    await joinShard(this.scope, sh, this.reader.shard(subnet.id, shard));
    return settleCounter(this.scope, sh, before);
  }
}
