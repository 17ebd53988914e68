/**
 * Orphans: items of a subnet that no longer exists — shard items, pending records,
 * lasting address-map summaries (ORPHAN_ALLOCATION) and space entries
 * (ORPHAN_SPACE_ENTRY), found as the scan
 * meets them. Each is deleted on condition that its subnet is still gone, once an
 * earlier audit saw the subnet gone longer ago than the grace period.
 */
import { releaseNoteWrite } from '../allocator/index.js';
import { keys } from '../store/keys.js';
import type { TransactItem } from '../store/transactions.js';
import { type Sighting, sight } from './auditStore.js';
import type { Item } from './io.js';
import { FindingType, NotRepaired, type Outcome } from './report.js';
import { type AuditScope, auditWho, seenLongEnough } from './scope.js';

interface DeleteCondition {
  ConditionExpression: string;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/** One run's orphan handling; remembers when each subnet's absence was first seen. */
export class Orphans {
  private readonly sightings = new Map<string, Sighting>();

  /** `subnetExists`: a consistent answer, cached by the caller for the run. */
  constructor(
    private readonly scope: AuditScope,
    private readonly subnetExists: (subnetId: string) => Promise<boolean>,
  ) {}

  /**
   * An item of a shard partition (`SUBNET#<id>#S#<k>`) as the scan meets it: nothing
   * to do while the subnet exists (its audit reads the shard), else an orphan.
   */
  async shardItem(
    subnetId: string,
    item: Item,
    what: 'allocation' | 'block' | 'hint' | 'other',
    sk: string,
  ): Promise<void> {
    if (await this.subnetExists(subnetId)) return; // audited with its subnet
    if (what === 'allocation') {
      this.scope.part.scanned.allocations += 1;
      const ip = typeof item.ip === 'string' ? item.ip : undefined;
      // Deleted on the audit's own account: its release note names it for the history.
      const note =
        typeof item.reqToken === 'string'
          ? releaseNoteWrite(this.scope.ctx, subnetId, sk, item.reqToken, auditWho(this.scope))
          : undefined;
      await this.orphan(subnetId, item, `allocation ${ip ?? sk}`, ip, note);
    } else if (what === 'block') {
      await this.orphan(subnetId, item, `address block ${sk}`);
    } else if (what === 'hint') {
      // A deleted subnet's hints empty out and go by their TTL (shared/hints/apply.ts);
      // one still holding offsets outlived its items.
      if (item.ttl === undefined) await this.orphan(subnetId, item, `block hint ${sk}`);
    } else {
      await this.orphan(subnetId, item, `${sk.toLowerCase()} item of ${String(item.pk)}`);
    }
  }

  /**
   * An address-map summary without a `ttl` (`MAP#<id>#…`): an orphan when its subnet
   * is gone. A deleted subnet's summaries empty out and get a TTL when the stream
   * processor sees its blocks emptied; these are the ones it never saw (no processor
   * ran, or it could not tell the subnet's CIDR any more).
   */
  async mapSummary(subnetId: string, item: Item): Promise<void> {
    if (await this.subnetExists(subnetId)) return; // checked with its blocks
    await this.orphan(subnetId, item, `address-map summary ${String(item.pk)} ${String(item.sk)}`);
  }

  /** A pending record (`SUBNET#<id>` / `PENDING#…`): an orphan when its subnet is gone. */
  async pendingRecord(subnetId: string, item: Item): Promise<void> {
    if (await this.subnetExists(subnetId)) return; // audited with its subnet
    await this.orphan(subnetId, item, 'pending record of a multi-step request');
  }

  /** A space entry (`SPACE#<space>` / `NET#…`) naming a subnet that may be gone. */
  async spaceEntry(space: string, item: Item): Promise<void> {
    const subnetId = item.subnetId;
    if (typeof subnetId !== 'string' || (await this.subnetExists(subnetId))) return;
    const finding = {
      type: FindingType.ORPHAN_SPACE_ENTRY,
      subnetId,
      detail:
        `Space ${space} still lists ${String(item.cidr)} for subnet ${subnetId}, which no longer ` +
        'exists; the entry keeps overlapping subnets from being created there.',
    };
    const outcome = await this.deleteOrphan(subnetId, item, {
      ConditionExpression: 'subnetId = :subnet',
      ExpressionAttributeValues: { ':subnet': subnetId },
    });
    this.scope.findings.add(finding, outcome);
  }

  private async orphan(
    subnetId: string,
    item: Item,
    what: string,
    ip?: string,
    note?: TransactItem,
  ): Promise<void> {
    const finding = {
      type: FindingType.ORPHAN_ALLOCATION,
      subnetId,
      ...(ip === undefined ? {} : { ip }),
      detail: `The ${what} belongs to subnet ${subnetId}, which no longer exists.`,
    };
    const outcome = await this.deleteOrphan(
      subnetId,
      item,
      { ConditionExpression: 'attribute_exists(pk)' },
      note,
    );
    this.scope.findings.add(finding, outcome);
  }

  /**
   * Deletes an item of a vanished subnet, on condition that the subnet is still
   * gone; `note` (an allocation's release note) is written in the same transaction.
   */
  private deleteOrphan(
    subnetId: string,
    item: Item,
    condition: DeleteCondition,
    note?: TransactItem,
  ) {
    const { ctx, io } = this.scope;
    return this.repairOrphan(subnetId, async () =>
      io.transact([
        subnetGone(ctx.tableName, subnetId),
        { Delete: { TableName: ctx.tableName, Key: { pk: item.pk, sk: item.sk }, ...condition } },
        ...(note === undefined ? [] : [note]),
      ]),
    );
  }

  /**
   * Orphans carry no age of their own: they are deleted once an earlier audit saw
   * their subnet gone and that is longer ago than the grace period. Subnet ids are
   * never reused and nothing can be confirmed in a deleted subnet (every
   * reservation checks its counter, deleted with the subnet), so this is safe.
   */
  private async repairOrphan(subnetId: string, repair: () => Promise<boolean>): Promise<Outcome> {
    const { ctx, meter, auditId, settings } = this.scope;
    let sighting = this.sightings.get(subnetId);
    if (sighting === undefined) {
      sighting = await sight(ctx, meter, auditId, subnetId, 'ORPHAN', 'subnet-missing');
      this.sightings.set(subnetId, sighting);
    }
    if (!settings.repair) return NotRepaired.REPORT_ONLY;
    if (!seenLongEnough(this.scope, sighting)) return NotRepaired.GRACE_PERIOD;
    return (await repair()) ? true : NotRepaired.CHANGED;
  }
}

function subnetGone(tableName: string, subnetId: string): TransactItem {
  return {
    ConditionCheck: {
      TableName: tableName,
      Key: keys.subnet(subnetId),
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}
