/**
 * The raw-write ceiling: conditional PutItem of fresh keys from 32 clients at once,
 * measured once DynamoDB Local's JVM has warmed up (it runs about twice as fast
 * warm). For diagnosis, also the rate of bare 3-item transactions shaped like one
 * allocation (block update, allocation put, counter update), on fresh keys.
 */
import { randomBytes } from 'node:crypto';
import { PutCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { type BenchEnv, progress, runWorkers } from './env.js';
import { median, round } from './metrics.js';

export interface CeilingResult {
  /** Median of the measured rounds. */
  putsPerSec: number;
  warmupRounds: number[];
  measuredRounds: number[];
  measureSeconds: number;
  /** 3-item transactions of fresh keys per second (what one allocation writes). */
  transactionsPerSec: number;
}

const CONCURRENCY = 32;

/** A payload the size of an allocation item, so a put carries what an allocation writes. */
export function payload(subnetId = `sub_${randomBytes(16).toString('base64url')}`) {
  return {
    type: 'ceiling',
    subnetId,
    ip: '10.123.45.67',
    owner: null,
    description: null,
    tags: {},
    macAddress: null,
    createdAt: new Date().toISOString(),
    expiresAt: null,
    reqToken: randomBytes(12).toString('base64url'),
  };
}

async function rate(
  env: BenchEnv,
  ms: number,
  send: (doc: ReturnType<BenchEnv['rawClient']>['doc'], key: string) => Promise<unknown>,
): Promise<number> {
  const run = randomBytes(4).toString('hex');
  const clients = Array.from({ length: CONCURRENCY }, () => env.rawClient());
  let done = 0;
  const started = Date.now();
  const end = started + ms;
  await runWorkers(CONCURRENCY, async (worker) => {
    const { doc } = clients[worker]!;
    for (let i = 0; Date.now() < end; i++) {
      await send(doc, `CEILING#${run}#${worker}#${i}`);
      done++;
    }
  });
  const elapsed = Date.now() - started;
  env.retire(clients);
  return done / (elapsed / 1000);
}

export async function measureCeiling(
  env: BenchEnv,
  options: {
    roundMs: number;
    maxWarmupRounds: number;
    measureRounds: number;
    measureMs: number;
    transactionMs: number;
  },
): Promise<CeilingResult> {
  const put = (doc: ReturnType<BenchEnv['rawClient']>['doc'], key: string) =>
    doc.send(
      new PutCommand({
        TableName: env.tableName,
        Item: { pk: key, sk: 'PUT', ...payload() },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  // Warm up until two rounds agree within 10 % (the JVM's JIT has settled).
  const warmupRounds: number[] = [];
  for (let i = 0; i < options.maxWarmupRounds; i++) {
    const value = await rate(env, options.roundMs, put);
    warmupRounds.push(round(value, 0));
    progress(`  ceiling warm-up round ${i + 1}: ${round(value, 0)} puts/s`);
    const previous = warmupRounds[warmupRounds.length - 2];
    if (previous !== undefined && Math.abs(value - previous) / previous < 0.1) break;
  }
  // Then the median of a few rounds: other processes on the machine make single rounds noisy.
  const measuredRounds: number[] = [];
  for (let i = 0; i < options.measureRounds; i++) {
    measuredRounds.push(round(await rate(env, options.measureMs, put), 1));
  }
  const putsPerSec = median(measuredRounds);
  const transact = (doc: ReturnType<BenchEnv['rawClient']>['doc'], key: string) =>
    doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: env.tableName,
              Key: { pk: key, sk: 'BLOCK' },
              UpdateExpression: 'SET t1 = :token ADD u :added',
              ConditionExpression: 'NOT contains(u, :o)',
              ExpressionAttributeValues: { ':token': 'x', ':added': new Set([1]), ':o': 1 },
            },
          },
          {
            Put: {
              TableName: env.tableName,
              Item: { pk: key, sk: 'ITEM', ...payload() },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
          {
            Update: {
              TableName: env.tableName,
              Key: { pk: key, sk: 'COUNT' },
              UpdateExpression: 'ADD n :one',
              ExpressionAttributeValues: { ':one': 1 },
            },
          },
        ],
      }),
    );
  await rate(env, Math.min(options.roundMs, options.transactionMs), transact);
  const transactionsPerSec = await rate(env, options.transactionMs, transact);
  return {
    putsPerSec: round(putsPerSec, 1),
    warmupRounds,
    measuredRounds,
    measureSeconds: (options.measureRounds * options.measureMs) / 1000,
    transactionsPerSec: round(transactionsPerSec, 1),
  };
}
