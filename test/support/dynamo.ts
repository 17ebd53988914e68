/**
 * A fresh table on the shared DynamoDB Local for each test file (or test), and a
 * stream poller for history tests. Only tables asked for with `{ stream: true }` get
 * the change stream (local/tables.ts): DynamoDB Local's writes to a table with a
 * stream slow down with the stream records the other tables hold, deleted or not
 * (scripts/stream-slowdown.ts: the same writes took 6 s into a table that held its
 * own 10k records, 61 s into a new one beside it), and the suite shares one JVM.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { _Record as StreamRecord } from '@aws-sdk/client-dynamodb-streams';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { readStreamFromStart, StreamPoller } from '../../local/streamPoller.js';
import type { StreamRealism } from '../../local/streamRealism.js';
import { ensureTable, tableDefinition } from '../../local/tables.js';
import { type EventPublisher, noopPublisher } from '../../shared/events/index.js';
import type { ProcessOptions } from '../../shared/history/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { TTL_ATTRIBUTE } from '../../shared/store/table.js';

export interface TestDb {
  readonly ctx: IpamContext;
  readonly client: DynamoDBClient;
  readonly endpoint: string;
  /** Moves the context's clock (to expire leases without waiting). */
  advance(ms: number): void;
}

export async function createTestDb(options: { stream?: boolean } = {}): Promise<TestDb> {
  const endpoint = inject('dynamoEndpoint');
  const client = createDynamoClient({ endpoint, region: 'local' });
  const tableName = `ipam-test-${randomBytes(6).toString('hex')}`;
  await ensureTable(
    client,
    tableDefinition(tableName, { stream: options.stream === true }),
    TTL_ATTRIBUTE,
  );
  let offset = 0;
  const ctx: IpamContext = {
    doc: createDocumentClient(client),
    tableName,
    now: () => Date.now() + offset,
  };
  return {
    ctx,
    client,
    endpoint,
    advance(ms: number) {
      offset += ms;
    },
  };
}

/**
 * Every item of one `type` ('allocation', 'pending', …) of a subnet — or of every
 * subnet, without `subnetId` — read straight from the table.
 */
export async function storedItems(
  ctx: IpamContext,
  type: string,
  subnetId?: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ctx.doc.send(
      new ScanCommand({
        TableName: ctx.tableName,
        FilterExpression:
          subnetId === undefined ? '#type = :type' : '#type = :type AND subnetId = :subnet',
        ExpressionAttributeNames: { '#type': 'type' },
        ExpressionAttributeValues:
          subnetId === undefined ? { ':type': type } : { ':type': type, ':subnet': subnetId },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** The addresses a subnet's allocation items hold, sorted. */
export async function storedIps(ctx: IpamContext, subnetId: string): Promise<string[]> {
  return (await storedItems(ctx, 'allocation', subnetId)).map((item) => String(item.ip)).sort();
}

/**
 * A stream poller over a test table made with `{ stream: true }`, not started: tests call `drain()` to process everything committed so far.
 * `realism` delivers as AWS may (local/streamRealism.ts).
 */
export function historyPoller(
  db: TestDb,
  publisher: EventPublisher = noopPublisher,
  options: {
    processOptions?: ProcessOptions;
    log?: (message: string) => void;
    realism?: StreamRealism;
  } = {},
): StreamPoller & { drain(): Promise<number> } {
  const poller = new StreamPoller({
    ctx: db.ctx,
    client: db.client,
    endpoint: db.endpoint,
    region: 'local',
    publisher,
    ...(options.processOptions === undefined ? {} : { processOptions: options.processOptions }),
    ...(options.realism === undefined ? {} : { realism: options.realism }),
    log: options.log ?? (() => undefined),
  });
  return Object.assign(poller, {
    /** Polls until a pass finds nothing new (bounded: 50 passes). */
    async drain(): Promise<number> {
      let total = 0;
      for (let pass = 0; pass < 50; pass++) {
        const processed = await poller.pollOnce();
        total += processed;
        if (processed === 0) return total;
      }
      throw new Error('the stream kept yielding records for 50 passes');
    },
  });
}

/** Every record of the test table's stream so far, every shard from TRIM_HORIZON. */
export function streamRecords(db: TestDb): Promise<StreamRecord[]> {
  return readStreamFromStart(db.endpoint, db.client, db.ctx.tableName);
}
