/**
 * The store's transactions and reads against DynamoDB Local, with a small SDK
 * middleware that makes chosen calls fail the ways DynamoDB Local never does: lost
 * answers over a broken connection, and transactions cancelled for capacity.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { Allocator } from '../../shared/allocator/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { isRetryableAwsError, retryRead } from '../../shared/store/retry.js';
import { wasAmbiguous, writeTransaction } from '../../shared/store/transactions.js';
import { createSubnet, getSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, storedIps, type TestDb } from '../support/dynamo.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});

/** How a chosen call fails: before it reaches DynamoDB, or after (the write stands). */
interface Injection {
  readonly command: string;
  /** 1-based call numbers of `command` to fail. */
  readonly calls: (call: number) => boolean;
  readonly error: () => Error;
  readonly afterSend?: boolean;
}

/** Sits above the SDK's own retries, as if they had run out. */
function inject(client: DynamoDBClient, injection: Injection): { tokens: unknown[] } {
  const tokens: unknown[] = [];
  let calls = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== injection.command) return next(args);
      tokens.push((args.input as { ClientRequestToken?: unknown }).ClientRequestToken);
      calls++;
      if (!injection.calls(calls)) return next(args);
      if (injection.afterSend) await next(args);
      throw injection.error();
    },
    { step: 'initialize', name: 'storeTransactionsInjection' },
  );
  return { tokens };
}

function contextWith(injection: Injection): { ctx: IpamContext; tokens: unknown[] } {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  const { tokens } = inject(client, injection);
  return { ctx: { ...db.ctx, doc: createDocumentClient(client) }, tokens };
}

/** Errors of a connection that broke or timed out, as Node and the SDK's handler raise them. */
const NETWORK_ERRORS: ReadonlyArray<readonly [string, () => Error]> = [
  ['ECONNRESET', () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ['an aborted response', () => Object.assign(new Error('aborted'), { code: 'ECONNRESET' })],
  ['EPIPE', () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })],
  ['ETIMEDOUT', () => Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' })],
  [
    'a request time-out',
    () =>
      Object.assign(new Error('a request has exceeded the configured 3000 ms requestTimeout.'), {
        name: 'TimeoutError',
        code: 'ETIMEDOUT',
      }),
  ],
  [
    'a socket time-out',
    () =>
      Object.assign(new Error('the request socket timed out after 3000 ms of inactivity'), {
        name: 'TimeoutError',
      }),
  ],
  [
    'RequestTimeout',
    () => Object.assign(new Error('Request timed out'), { name: 'RequestTimeout' }),
  ],
];

/** A TransactionCanceledException as DynamoDB sends it, with these reasons. */
function canceled(...codes: string[]): Error {
  return Object.assign(new Error(`Transaction cancelled, please refer cancellation reasons`), {
    name: 'TransactionCanceledException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

/** One item put, and a second put beside it (two reasons, as in the allocator's writes). */
function twoPuts(ctx: IpamContext, id: string) {
  return [
    { Put: { TableName: ctx.tableName, Item: { pk: `TEST#${id}`, sk: 'A' } } },
    { Put: { TableName: ctx.tableName, Item: { pk: `TEST#${id}`, sk: 'B' } } },
  ];
}

async function stored(id: string, sk = 'A'): Promise<boolean> {
  const got = await db.ctx.doc.send(
    new GetCommand({
      TableName: db.ctx.tableName,
      Key: { pk: `TEST#${id}`, sk },
      ConsistentRead: true,
    }),
  );
  return got.Item !== undefined;
}

describe('writeTransaction when the answer is lost to the network', () => {
  it.each(NETWORK_ERRORS)(
    'retries a committed transaction whose answer was lost to %s, under its token, and reports it ambiguous',
    async (_name, error) => {
      const { ctx, tokens } = contextWith({
        command: 'TransactWriteItemsCommand',
        calls: (call) => call === 1,
        error,
        afterSend: true,
      });
      const id = randomUUID();
      const outcome = await writeTransaction(ctx, twoPuts(ctx, id));
      expect(outcome).toEqual({ ambiguous: true });
      expect(await stored(id)).toBe(true);
      expect(tokens).toHaveLength(2);
      expect(tokens[1]).toBe(tokens[0]);
    },
  );

  it('marks the error ambiguous when the network fails every attempt', async () => {
    const { ctx } = contextWith({
      command: 'TransactWriteItemsCommand',
      calls: () => true,
      error: () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      afterSend: true,
    });
    const id = randomUUID();
    const failure = await writeTransaction(ctx, twoPuts(ctx, id)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(wasAmbiguous(failure)).toBe(true);
    expect(isRetryableAwsError(failure)).toBe(true);
    // It did land: exactly why the caller must re-read rather than answer 500.
    expect(await stored(id)).toBe(true);
  });
});

describe('reads when the network fails', () => {
  it.each(NETWORK_ERRORS)('retryRead retries a read that failed with %s', async (_name, error) => {
    const { ctx } = contextWith({ command: 'GetItemCommand', calls: (call) => call <= 2, error });
    const id = randomUUID();
    await writeTransaction(db.ctx, twoPuts(db.ctx, id));
    const got = await retryRead(() =>
      ctx.doc.send(
        new GetCommand({ TableName: ctx.tableName, Key: { pk: `TEST#${id}`, sk: 'A' } }),
      ),
    );
    expect(got.Item).toEqual({ pk: `TEST#${id}`, sk: 'A' });
  });
});

describe('writeTransaction when DynamoDB cancels for capacity', () => {
  it.each([['ThrottlingError'], ['ProvisionedThroughputExceeded'], ['TransactionConflict']])(
    'retries a transaction cancelled with %s under the same token',
    async (code) => {
      const { ctx, tokens } = contextWith({
        command: 'TransactWriteItemsCommand',
        calls: (call) => call <= 2,
        error: () => canceled('None', code),
      });
      const id = randomUUID();
      const outcome = await writeTransaction(ctx, twoPuts(ctx, id));
      // The cancelled attempts applied nothing, so the write is not ambiguous.
      expect(outcome).toEqual({ ambiguous: false });
      expect([await stored(id, 'A'), await stored(id, 'B')]).toEqual([true, true]);
      expect(tokens).toHaveLength(3);
      expect(new Set(tokens).size).toBe(1);
    },
  );

  it('throws a retryable TransactionThrottledError when every attempt is cancelled for capacity', async () => {
    const { ctx } = contextWith({
      command: 'TransactWriteItemsCommand',
      calls: () => true,
      error: () => canceled('ThrottlingError', 'ProvisionedThroughputExceeded'),
    });
    const id = randomUUID();
    const failure = await writeTransaction(ctx, twoPuts(ctx, id)).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect((failure as Error | undefined)?.name).toBe('TransactionThrottledError');
    expect(isRetryableAwsError(failure)).toBe(true);
    expect(wasAmbiguous(failure)).toBe(false);
    expect(await stored(id)).toBe(false);
  });

  it('hands a failed condition back at once, even beside a capacity reason', async () => {
    const { ctx, tokens } = contextWith({
      command: 'TransactWriteItemsCommand',
      calls: () => true,
      error: () => canceled('ConditionalCheckFailed', 'ThrottlingError'),
    });
    const outcome = await writeTransaction(ctx, twoPuts(ctx, randomUUID()));
    expect(outcome.canceled?.CancellationReasons?.map((reason) => reason.Code)).toEqual([
      'ConditionalCheckFailed',
      'ThrottlingError',
    ]);
    expect(tokens).toHaveLength(1);
  });
});

describe('the allocator over these faults', () => {
  function allocatorWith(injection: Injection): Allocator {
    return new Allocator(contextWith(injection).ctx);
  }

  it('answers an allocation whose commit answer was lost to ECONNRESET, and leaks nothing', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.1.0.0/28', space: 'store-reset' });
    const allocator = allocatorWith({
      command: 'TransactWriteItemsCommand',
      calls: (call) => call === 1,
      error: () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      afterSend: true,
    });
    const [allocation] = await allocator.allocate(subnet.id, { owner: 'reset' });
    expect(await storedIps(db.ctx, subnet.id)).toEqual([allocation?.ip]);
    expect((await getSubnet(db.ctx, subnet.id)).usage.allocated).toBe(1);
  });

  it('allocates through transactions cancelled for capacity', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.2.0.0/28', space: 'store-capacity' });
    const allocator = allocatorWith({
      command: 'TransactWriteItemsCommand',
      calls: (call) => call <= 2,
      error: () => canceled('None', 'ProvisionedThroughputExceeded', 'None'),
    });
    const [allocation] = await allocator.allocate(subnet.id, { owner: 'capacity' });
    expect(await storedIps(db.ctx, subnet.id)).toEqual([allocation?.ip]);
  });

  it('fails retryably (503, not 500) when capacity cancellations outlast the retries', async () => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.3.0.0/28', space: 'store-throttled' });
    const allocator = allocatorWith({
      command: 'TransactWriteItemsCommand',
      calls: () => true,
      error: () => canceled('ThrottlingError', 'None', 'None'),
    });
    const failure = await allocator.allocate(subnet.id, { owner: 'throttled' }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isRetryableAwsError(failure), String(failure)).toBe(true);
    expect(await storedIps(db.ctx, subnet.id)).toEqual([]);
  });
});
