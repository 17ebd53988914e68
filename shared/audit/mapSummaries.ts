/**
 * The address map's block summaries (shared/map/summaries.ts) against the blocks the
 * shard audit reads (MAP_SUMMARY_STALE): a summary missing (a block written before
 * the map existed, or while no stream processor ran) or wrong (a record lost);
 * or lapsed (MAP_SUMMARY_LAPSED: a lease expired or a cool-down began or ended
 * since it was written, so every view over it reads below it — by design, until a
 * write to the block or this rebuild) — judged against what refresh.ts would write
 * from the block now.
 *
 * **What it reads.** The shard's blocks come in address order; those of one summary
 * partition (256 blocks, `block >> 8`) are compared with one eventually consistent
 * Query of their summaries' range. The summaries live in their own partitions,
 * which the Scan meets in another page or segment, so this Query is the cheapest
 * way to meet a block and its summary together: nothing is held across partitions
 * or segments, and a shard whose summaries agree costs that Query per summary
 * partition it touches (a /16's shard: one; a /8's: four) and nothing per block.
 *
 * **What it repairs.** A block that seems to disagree is read again, its summary
 * first and then the block, both consistently: the block is then at least as new as
 * any image the summary was made from. Still stale, it is a finding; a repair audit
 * puts the block's summary on condition that the item is still as read (refresh.ts
 * `rebuildBlockSummary`: a record processed meanwhile wins, later ones still can),
 * then recomputes the sums above the partition's rebuilt blocks with the
 * processor's own code (`recomputeSums`). Derived data, rebuilt from what the block
 * holds now: no grace period applies. Subnets under 2^16 addresses keep no
 * summaries, and are not read for them.
 */

import {
  type MapTally,
  rebuildBlockSummary,
  recomputeSums,
  SummaryContentionError,
} from '../map/refresh.js';
import { blockSummary, holdsAt, isEmpty, type Summary, summaryFromItem } from '../map/summaries.js';
import { hasSummaries } from '../map/tree.js';
import { formatCidr } from '../net/address.js';
import { keys, mapKeys, parseBlockSort } from '../store/keys.js';
import { type BlockState, blockFromItem } from '../subnets/blocks.js';
import { addressAt, type Geometry, geometryOf, shardOfBlock } from '../subnets/geometry.js';
import type { Subnet } from '../subnets/subnet.js';
import type { Item } from './io.js';
import type { AuditReader } from './reader.js';
import { FindingType, type NewFinding, NotRepaired, type Outcome } from './report.js';
import type { AuditScope } from './scope.js';
import { isoSeconds } from './shard.js';

/** One shard's blocks against their map summaries, a summary partition at a time. */
export class MapSummaryCheck {
  private readonly g: Geometry;
  private readonly active: boolean;
  /** The blocks of one summary partition, as read, waiting for their summaries. */
  private group: BlockState[] = [];

  constructor(
    private readonly scope: AuditScope,
    private readonly reader: AuditReader,
    private readonly subnet: Subnet,
  ) {
    this.g = geometryOf(subnet.cidr);
    this.active = hasSummaries(subnet.cidr);
  }

  /**
   * Passes the shard's block items through, in order, noting each; a partition's
   * blocks are checked once the join asks for a block of the next (so after the
   * join's own repairs of them). Call {@link finish} after the join.
   */
  async *watch(blocks: AsyncIterable<Item>): AsyncGenerator<Item> {
    for await (const item of blocks) {
      yield item;
      if (!this.active) continue;
      const block = blockFromItem(parseBlockSort(String(item.sk)), item);
      const open = this.group[0];
      if (open !== undefined && open.block >> 8n !== block.block >> 8n) await this.flush();
      this.group.push(block);
    }
  }

  /** Checks the blocks noted last. */
  async finish(): Promise<void> {
    await this.flush();
  }

  private async flush(): Promise<void> {
    const blocks = this.group;
    this.group = [];
    const first = blocks[0]?.block;
    const last = blocks[blocks.length - 1]?.block;
    if (first === undefined || last === undefined) return;
    const stored = await this.reader.blockSummaries(this.subnet.id, first, last);
    const now = nowSeconds(this.scope);
    const found: { finding: NewFinding; outcome: Outcome; block: bigint }[] = [];
    for (const block of blocks) {
      if (agrees(stored.get(block.block), blockSummary(block, now), now)) continue;
      const judged = await this.recheck(block.block);
      if (judged !== undefined) found.push({ ...judged, block: block.block });
    }
    const rebuilt = found.filter(({ outcome }) => outcome === true).map(({ block }) => block);
    let sums: Outcome = true;
    if (rebuilt.length > 0) sums = await this.recomputeSums(rebuilt);
    for (const { finding, outcome } of found) {
      this.scope.findings.add(finding, outcome === true ? sums : outcome);
    }
  }

  /** Reads summary, then block, consistently; the finding and its repair, if still stale. */
  private async recheck(
    block: bigint,
  ): Promise<{ finding: NewFinding; outcome: Outcome } | undefined> {
    const { io, settings } = this.scope;
    const read = await io.get(mapKeys.summary(this.subnet.id, 0, block));
    const item = await io.get(keys.block(this.subnet.id, shardOfBlock(this.g, block), block));
    const now = nowSeconds(this.scope);
    const state = blockFromItem(block, item);
    const truth = blockSummary(state, now);
    const stored = read === undefined ? undefined : summaryFromItem(read, block);
    if (agrees(stored, truth, now)) return undefined; // the scanned copy was behind
    const finding: NewFinding = {
      type: lapsed(stored, now) ? FindingType.MAP_SUMMARY_LAPSED : FindingType.MAP_SUMMARY_STALE,
      subnetId: this.subnet.id,
      detail: describe(this.blockCidr(block), stored, truth, now),
    };
    if (!settings.repair) return { finding, outcome: NotRepaired.REPORT_ONLY };
    const tally: MapTally = { read: 0, write: 0 };
    const written = await rebuildBlockSummary(
      this.scope.ctx,
      this.subnet.id,
      state,
      read,
      now,
      tally,
    );
    this.count(tally);
    return { finding, outcome: written ? true : NotRepaired.CHANGED };
  }

  /** The sums above rebuilt blocks; CHANGED when they kept changing under the recompute. */
  private async recomputeSums(blocks: readonly bigint[]): Promise<Outcome> {
    const tally: MapTally = { read: 0, write: 0 };
    try {
      const { ctx } = this.scope;
      await recomputeSums(
        ctx,
        this.subnet.id,
        this.subnet.cidr,
        blocks,
        nowSeconds(this.scope),
        tally,
      );
      return true;
    } catch (error) {
      if (!(error instanceof SummaryContentionError)) throw error;
      // Processors kept writing them: each of those recomputes from the children.
      return NotRepaired.CHANGED;
    } finally {
      this.count(tally);
    }
  }

  private count(tally: MapTally): void {
    this.scope.meter.readUnits += tally.read;
    this.scope.meter.writeUnits += tally.write;
  }

  private blockCidr(block: bigint): string {
    const { version } = this.subnet.cidr;
    const prefixLength = (version === 4 ? 32 : 128) - 8;
    return formatCidr({ version, network: addressAt(this.g, block, 0), prefixLength });
  }
}

/** A stored summary (undefined: none, which reads as empty) says what the block holds now. */
function agrees(stored: Summary | undefined, truth: Summary, now: number): boolean {
  if (stored === undefined) return isEmpty(truth);
  return (
    holdsAt(stored, now) &&
    stored.a === truth.a &&
    stored.l === truth.l &&
    stored.q === truth.q &&
    stored.next === truth.next
  );
}

/** A summary past its `next`: a lease or cool-down in it changed state since it was written. */
function lapsed(stored: Summary | undefined, now: number): stored is Summary & { next: number } {
  return stored?.next !== undefined && stored.next <= now;
}

function describe(block: string, stored: Summary | undefined, truth: Summary, now: number): string {
  const holds = `${truth.a} allocated, ${truth.l} leased, ${truth.q} quarantined`;
  if (stored === undefined) {
    return `The address map has no summary of ${block}, which holds ${holds}: its map cells undercount it.`;
  }
  if (lapsed(stored, now)) {
    return (
      `The address map's summary of ${block} lapsed at ${isoSeconds(stored.next)} (a lease ` +
      'expired or a cool-down began or ended since it was written): every view over it ' +
      'reads below it.'
    );
  }
  return (
    `The address map's summary of ${block} says ${stored.a} allocated, ${stored.l} leased, ` +
    `${stored.q} quarantined; the block holds ${holds}.`
  );
}

function nowSeconds(scope: AuditScope): number {
  return Math.floor(scope.ctx.now() / 1000);
}
