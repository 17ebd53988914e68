/** The DynamoDB-realism layer (test/support/realism.ts) against DynamoDB Local. */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { applyRealism, type RealismOptions } from '../support/realism.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});

function layered(options: RealismOptions) {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  const realism = applyRealism(client, db.ctx.doc, options);
  return { doc: createDocumentClient(client), realism };
}
const errorOf = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as Error & { CancellationReasons?: { Code?: string }[] },
  );

describe('eventually consistent reads', () => {
  it('GetItem without ConsistentRead may answer an older version or "not there yet"; a consistent read never', async () => {
    const { doc, realism } = layered({ seed: 7, staleReads: { probability: 1, maxAgeMs: 10_000 } });
    const Key = { pk: 'stale#get', sk: 'A' };
    await doc.send(new PutCommand({ TableName: db.ctx.tableName, Item: { ...Key, v: 1 } }));
    await doc.send(new PutCommand({ TableName: db.ctx.tableName, Item: { ...Key, v: 2 } }));
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const result = await doc.send(new GetCommand({ TableName: db.ctx.tableName, Key }));
      seen.add(String(result.Item?.v ?? 'absent'));
      const fresh = await doc.send(
        new GetCommand({ TableName: db.ctx.tableName, Key, ConsistentRead: true }),
      );
      expect(fresh.Item?.v).toBe(2);
    }
    expect([...seen].every((v) => ['absent', '1', '2'].includes(v))).toBe(true);
    expect(seen.has('absent')).toBe(true);
    expect(realism.counters.staleGets).toBeGreaterThan(0);
  });

  it('a Query (base table and GSI) may miss new items and show deleted ones; a BatchGetItem likewise', async () => {
    // The layer's clock, driven by the test: A and B written at 1000, B deleted and C written at 2000.
    let now = 1000;
    const { doc, realism } = layered({
      seed: 3,
      staleReads: { probability: 1, maxAgeMs: 150 },
      clock: () => now,
    });
    const table = db.ctx.tableName;
    const item = (sk: string) => ({ pk: 'stale#q', sk, gsi1pk: 'STALE', gsi1sk: sk });
    await doc.send(new PutCommand({ TableName: table, Item: item('A') }));
    await doc.send(new PutCommand({ TableName: table, Item: item('B') }));
    now = 2000;
    await doc.send(new DeleteCommand({ TableName: table, Key: { pk: 'stale#q', sk: 'B' } }));
    await doc.send(new PutCommand({ TableName: table, Item: item('C') }));
    now = 2100;
    const base = new Set<string>();
    const index = new Set<string>();
    const batch = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const q = await doc.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'stale#q' },
        }),
      );
      base.add((q.Items ?? []).map((x) => x.sk).join(''));
      const g = await doc.send(
        new QueryCommand({
          TableName: table,
          IndexName: 'gsi1',
          KeyConditionExpression: 'gsi1pk = :p AND gsi1sk >= :s',
          ExpressionAttributeValues: { ':p': 'STALE', ':s': 'A' },
        }),
      );
      index.add((g.Items ?? []).map((x) => x.sk).join(''));
      const b = await doc.send(
        new BatchGetCommand({
          RequestItems: { [table]: { Keys: ['A', 'B', 'C'].map((sk) => ({ pk: 'stale#q', sk })) } },
        }),
      );
      batch.add(
        (b.Responses?.[table] ?? [])
          .map((x) => x.sk)
          .sort()
          .join(''),
      );
    }
    for (const seen of [base, index, batch]) {
      // Now: AC. Before the delete and put: AB. In between (delete seen, put not yet): A.
      expect(
        [...seen].every((s) => ['AB', 'A', 'AC'].includes(s)),
        [...seen].join(','),
      ).toBe(true);
      expect(seen.has('AB')).toBe(true);
    }
    expect(realism.counters.staleQueries).toBeGreaterThan(0);
    expect(realism.counters.staleBatchGets).toBeGreaterThan(0);
    const consistent = await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'stale#q' },
        ConsistentRead: true,
      }),
    );
    expect((consistent.Items ?? []).map((x) => x.sk).join('')).toBe('AC');
  });
  it('still answers "not there yet" right after a write when its own image reads and the read are slow', async () => {
    // A loaded machine, on the layer's clock: every request takes 300 ms, longer
    // than the 250 ms window. What counts is the age the caller sees: from the
    // write's answer to the read's send.
    let now = 0;
    const slow = (client: DynamoDBClient) =>
      client.middlewareStack.add(
        (next) => async (args) => {
          const result = await next(args);
          now += 300;
          return result;
        },
        { step: 'build', name: 'slowMachine' },
      );
    const rawClient = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
    slow(rawClient);
    const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
    const realism = applyRealism(client, createDocumentClient(rawClient), {
      seed: 9,
      staleReads: { probability: 1, maxAgeMs: 250 },
      clock: () => now,
    });
    slow(client);
    const doc = createDocumentClient(client);
    const table = db.ctx.tableName;
    const written = async (sk: string) => {
      const Key = { pk: 'stale#slow', sk };
      await doc.send(new PutCommand({ TableName: table, Item: Key }));
      return Key;
    };
    const get = await doc.send(new GetCommand({ TableName: table, Key: await written('G') }));
    expect(get.Item).toBeUndefined();
    const queried = await written('Q');
    const query = await doc.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': queried.pk, ':sk': queried.sk },
      }),
    );
    expect(query.Items).toEqual([]);
    const batch = await doc.send(
      new BatchGetCommand({ RequestItems: { [table]: { Keys: [await written('B')] } } }),
    );
    expect(batch.Responses?.[table]).toEqual([]);
    expect(realism.counters).toMatchObject({ staleGets: 1, staleQueries: 1, staleBatchGets: 1 });
  });

  it('tells apart versions of an item that differ only in the members of a set', async () => {
    let now = 1000;
    const { doc, realism } = layered({
      seed: 4,
      staleReads: { probability: 1, maxAgeMs: 150 },
      clock: () => now,
    });
    const Key = { pk: 'stale#set', sk: 'A' };
    await doc.send(
      new PutCommand({ TableName: db.ctx.tableName, Item: { ...Key, u: new Set([1]) } }),
    );
    now = 2000;
    await doc.send(
      new PutCommand({ TableName: db.ctx.tableName, Item: { ...Key, u: new Set([2]) } }),
    );
    now = 2100;
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const result = await doc.send(new GetCommand({ TableName: db.ctx.tableName, Key }));
      seen.add([...((result.Item?.u as Set<number> | undefined) ?? [])].join(','));
    }
    expect([...seen].sort()).toEqual(['1', '2']);
    expect(realism.counters.staleGets).toBeGreaterThan(0);
  });
});

describe('transaction conflicts and cancellations', () => {
  const put = (sk: string, v: number) => ({
    Put: { TableName: db.ctx.tableName, Item: { pk: 'tx', sk, v } },
  });

  it('refuses, before sending, a transaction or write touching an item of one in flight', async () => {
    const { doc, realism } = layered({ seed: 1, conflicts: { windowMs: 0 } });
    const [first, second, single] = await Promise.all([
      errorOf(doc.send(new TransactWriteCommand({ TransactItems: [put('X', 1), put('Y', 1)] }))),
      errorOf(doc.send(new TransactWriteCommand({ TransactItems: [put('Z', 2), put('Y', 2)] }))),
      errorOf(
        doc.send(
          new PutCommand({ TableName: db.ctx.tableName, Item: { pk: 'tx', sk: 'X', v: 3 } }),
        ),
      ),
    ]);
    expect(first).toBeUndefined();
    expect(second?.name).toBe('TransactionCanceledException');
    expect(second?.CancellationReasons?.map((r) => r.Code)).toEqual([
      'None',
      'TransactionConflict',
    ]);
    expect(single?.name).toBe('TransactionConflictException');
    const read = (sk: string) =>
      db.ctx.doc.send(
        new GetCommand({
          TableName: db.ctx.tableName,
          Key: { pk: 'tx', sk },
          ConsistentRead: true,
        }),
      );
    expect((await read('Y')).Item?.v).toBe(1);
    expect((await read('X')).Item?.v).toBe(1);
    expect((await read('Z')).Item).toBeUndefined();
    expect(realism.counters).toMatchObject({ transactionConflicts: 1, writeConflicts: 1 });
    // Once the first is answered (window 0), the item is free to write.
    expect(
      await errorOf(doc.send(new TransactWriteCommand({ TransactItems: [put('Y', 4)] }))),
    ).toBeUndefined();
  });

  it('cancels transactions for capacity (ThrottlingError / ProvisionedThroughputExceeded), unapplied', async () => {
    const { doc, realism } = layered({ seed: 5, capacityCancellations: { rate: 1 } });
    const codes = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const error = await errorOf(
        doc.send(new TransactWriteCommand({ TransactItems: [put('cap1', i), put('cap2', i)] })),
      );
      expect(error?.name).toBe('TransactionCanceledException');
      const reasons = (error?.CancellationReasons ?? []).map((r) => r.Code ?? '');
      expect(reasons.filter((c) => c === 'None')).toHaveLength(1);
      for (const code of reasons) codes.add(code);
    }
    expect([...codes].sort()).toEqual(['None', 'ProvisionedThroughputExceeded', 'ThrottlingError']);
    expect(realism.counters.capacityCancellations).toBe(8);
    const stored = await db.ctx.doc.send(
      new GetCommand({
        TableName: db.ctx.tableName,
        Key: { pk: 'tx', sk: 'cap1' },
        ConsistentRead: true,
      }),
    );
    expect(stored.Item).toBeUndefined();
  });

  it('injects the faults of faults.ts at its rate; a lost response still committed', async () => {
    const { doc, realism } = layered({ seed: 11, faults: { rate: 1 } });
    let committedButFailed = 0;
    for (let i = 0; i < 12; i++) {
      const error = await errorOf(
        doc.send(
          new PutCommand({ TableName: db.ctx.tableName, Item: { pk: 'fault', sk: String(i) } }),
        ),
      );
      expect(error?.name).toMatch(
        /ProvisionedThroughputExceededException|ThrottlingException|InternalServerError|TimeoutError/,
      );
      const stored = await db.ctx.doc.send(
        new GetCommand({
          TableName: db.ctx.tableName,
          Key: { pk: 'fault', sk: String(i) },
          ConsistentRead: true,
        }),
      );
      expect(stored.Item !== undefined).toBe(error?.name === 'TimeoutError');
      if (stored.Item !== undefined) committedButFailed++;
    }
    const counts = Object.values(realism.counters.faults).reduce((a, b) => a + b, 0);
    expect(counts).toBe(12);
    expect(realism.counters.faults.TimeoutError ?? 0).toBe(committedButFailed);
  });

  it('replays: the same seed injects the same sequence', async () => {
    const run = async () => {
      const { doc } = layered({ seed: 42, capacityCancellations: { rate: 0.5 } });
      const outcomes: string[] = [];
      for (let i = 0; i < 10; i++) {
        const error = await errorOf(
          doc.send(new TransactWriteCommand({ TransactItems: [put(`replay${i}`, i)] })),
        );
        outcomes.push(error?.CancellationReasons?.[0]?.Code ?? 'ok');
      }
      return outcomes;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(new Set(first).size).toBeGreaterThan(1);
  });
});
