/**
 * How the audit reads the table in bulk, a page at a time (bounded memory), each
 * page metered: the Scan segments, a subnet's pending records, a shard's blocks
 * and allocation items (consistent Queries, in address order), the address map's
 * summaries of a run of blocks, and the subnet list for the overlap pass. The checks (join.ts, settlement.ts, …) take what
 * this yields and never read in bulk themselves, so a different reader (one
 * parallel Scan feeding every shard) changes this module and scan.ts only.
 */
import { paginateQuery, paginateScan } from '@aws-sdk/lib-dynamodb';
import { readSummaries, type StoredSummary } from '../map/summaries.js';
import type { IpamContext } from '../store/context.js';
import { keys, PREFIX } from '../store/keys.js';
import { LIST_INDEX } from '../store/table.js';
import type { CapacityMeter } from './auditStore.js';
import type { Key } from './checkpoint.js';
import type { Item } from './io.js';
import type { ShardItems } from './shard.js';

/** One page and the key to continue after it (undefined: the last page). */
export interface Page {
  readonly items: readonly Item[];
  readonly lastKey: Key | undefined;
}

export class AuditReader {
  constructor(
    private readonly ctx: IpamContext,
    private readonly meter: CapacityMeter,
    private readonly pageSize: number,
  ) {}

  /** The pages of one Scan segment (of `total`), from after `startKey`. */
  async *segment(index: number, total: number, startKey: Key | undefined): AsyncGenerator<Page> {
    const pages = paginateScan(
      { client: this.ctx.doc, pageSize: this.pageSize, startingToken: startKey },
      {
        TableName: this.ctx.tableName,
        ReturnConsumedCapacity: 'TOTAL',
        ...(total > 1 ? { Segment: index, TotalSegments: total } : {}),
      },
    );
    for await (const page of pages) {
      this.meter.read(page.ConsumedCapacity);
      yield { items: page.Items ?? [], lastKey: page.LastEvaluatedKey };
    }
  }

  /** The pages of the subnet list (gsi1: by space, IP version and network), from after `startKey`. */
  async *subnetList(startKey: Key | undefined): AsyncGenerator<Page> {
    const pages = paginateQuery(
      { client: this.ctx.doc, pageSize: this.pageSize, startingToken: startKey },
      {
        TableName: this.ctx.tableName,
        IndexName: LIST_INDEX.name,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': LIST_INDEX.partition },
        ExpressionAttributeValues: { ':pk': keys.allSubnets },
        ReturnConsumedCapacity: 'TOTAL',
      },
    );
    for await (const page of pages) {
      this.meter.read(page.ConsumedCapacity);
      yield { items: page.Items ?? [], lastKey: page.LastEvaluatedKey };
    }
  }

  /** The subnet's pending records (`PENDING#<token>`). */
  pendingRecords(subnetId: string): AsyncIterable<Item> {
    return this.partition(keys.subnet(subnetId).pk, PREFIX.pending);
  }

  /** The shard's blocks and allocation items; each stream is read only as it is consumed. */
  shard(subnetId: string, shard: number): ShardItems {
    const pk = keys.shardPartition(subnetId, shard);
    return {
      blocks: this.partition(pk, PREFIX.block),
      allocations: this.partition(pk, PREFIX.allocation),
    };
  }

  /** A shard's blocks' hints (shared/hints/), consistently. */
  async shardHints(subnetId: string, shard: number): Promise<Item[]> {
    const hints: Item[] = [];
    for await (const hint of this.partition(keys.shardPartition(subnetId, shard), PREFIX.hint)) {
      hints.push(hint);
    }
    return hints;
  }

  /**
   * The stored map summaries of blocks `first` to `last` (one summary partition:
   * the same `first >> 8`), by block; eventually consistent — they only suggest
   * (mapSummaries.ts re-reads what disagrees).
   */
  async blockSummaries(
    subnetId: string,
    first: bigint,
    last: bigint,
  ): Promise<Map<bigint, StoredSummary>> {
    const tally = { read: 0 };
    const found = await readSummaries(this.ctx, subnetId, 0, first, last, false, tally);
    this.meter.readUnits += tally.read;
    return found;
  }

  /** Consistent, paged Query of one partition's items whose sort key starts with `prefix`. */
  private async *partition(pk: string, prefix: string): AsyncGenerator<Item> {
    const pages = paginateQuery(
      { client: this.ctx.doc, pageSize: this.pageSize },
      {
        TableName: this.ctx.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': prefix },
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      },
    );
    for await (const page of pages) {
      this.meter.read(page.ConsumedCapacity);
      yield* page.Items ?? [];
    }
  }
}
