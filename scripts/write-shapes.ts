/**
 * Rate and real DynamoDB price of the write shapes one allocation could take in the
 * "one conditional write per allocation" redesign (issue 17), on a DynamoDB Local of
 * its own (bench/env.ts: its own free port, priced as bench/metrics.ts prices):
 * 32 workers on fresh keys, the JVM warmed up, the sequence run twice and the second
 * pass reported (the first warms up every shape's code path).
 *
 *   npx tsx scripts/write-shapes.ts [--seconds N]   (N seconds per shape, default 8)
 */
import { randomBytes } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { payload } from '../bench/ceiling.js';
import { BenchEnv, progress, runWorkers } from '../bench/env.js';
import { itemSize, Meter, round, Usage } from '../bench/metrics.js';
import { keys } from '../shared/store/keys.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const WORKERS = 32;
/** A /16 subnet's shards: shapes with a counter spread over this many. */
const SHARDS = 64;
/** Offsets in an exact-mode counter's free set. */
const OFFSETS = 128;
const WARM_UP_MS = 3000;
/** The subnet configuration version the counters are counted under. */
const PV = 1;

const secondsAt = process.argv.indexOf('--seconds');
const seconds = secondsAt >= 0 ? Number(process.argv[secondsAt + 1]) : 8;
if (!(seconds > 0)) throw new Error('--seconds takes a positive number');

/** One measurement's keys: a fresh subnet whose `counters` shard counters the operations spread over. */
interface Round {
  readonly table: string;
  readonly subnetId: string;
  readonly counters: number;
}

const counterKey = (r: Round, op: number) => keys.counter(r.subnetId, op % r.counters);

/** Operation `op`'s allocation item: a fresh address in its counter's shard partition. */
function allocationPut(r: Round, op: number) {
  return {
    TableName: r.table,
    Item: {
      pk: counterKey(r, op).pk,
      sk: `IP#${op.toString(16).padStart(8, '0')}`,
      ...payload(r.subnetId),
    },
    ConditionExpression: 'attribute_not_exists(pk)',
  };
}

function counterItem(r: Round, shard: number, exact: boolean): Record<string, unknown> {
  const item = { ...keys.counter(r.subnetId, shard), n: 0, p: 0, l: 0, pv: PV };
  if (!exact) return { ...item, mode: 'count' };
  return { ...item, mode: 'exact', free: new Set(Array.from({ length: OFFSETS }, (_, o) => o)) };
}

/** The count-mode counter update: one more allocation, under the configuration read. */
function counterAdd(r: Round, op: number) {
  return {
    Update: {
      TableName: r.table,
      Key: counterKey(r, op),
      UpdateExpression: 'ADD n :one',
      ConditionExpression: 'pv = :pv',
      ExpressionAttributeValues: { ':one': 1, ':pv': PV },
    },
  };
}

type Doc = DynamoDBDocumentClient;

interface Shape {
  readonly name: string;
  readonly what: string;
  /** Counters to seed; E's depend on how many operations a pass can do (A's rate). */
  counters(rateA: number): number;
  readonly exact?: boolean;
  send(doc: Doc, r: Round, op: number): Promise<unknown>;
}

const transact = (doc: Doc, items: object[]) =>
  doc.send(new TransactWriteCommand({ TransactItems: items as never }));

const SHAPES: Shape[] = [
  {
    name: 'A',
    what: 'conditional PutItem of the allocation item (the ceiling)',
    counters: () => SHARDS,
    send: (doc, r, op) => doc.send(new PutCommand(allocationPut(r, op))),
  },
  {
    name: 'B',
    what: "A, then a consistent GetItem of its shard's counter (write-then-read check)",
    counters: () => SHARDS,
    async send(doc, r, op) {
      await doc.send(new PutCommand(allocationPut(r, op)));
      await doc.send(
        new GetCommand({ TableName: r.table, Key: counterKey(r, op), ConsistentRead: true }),
      );
    },
  },
  {
    name: 'C',
    what: `transaction: A's Put + counter ADD n (pv condition), ${SHARDS} counters`,
    counters: () => SHARDS,
    send: (doc, r, op) => transact(doc, [{ Put: allocationPut(r, op) }, counterAdd(r, op)]),
  },
  {
    name: 'C24',
    what: 'C with every worker on one counter (a /24 is one shard)',
    counters: () => 1,
    send: (doc, r, op) => transact(doc, [{ Put: allocationPut(r, op) }, counterAdd(r, op)]),
  },
  {
    name: 'D',
    what: "today's shape: block ADD u (NOT contains) + A's Put + C's counter update",
    counters: () => SHARDS,
    // As bench/ceiling.ts's transaction (not exported there): a fresh block per
    // allocation, so its item is as small as a block gets (the floor of today's price).
    send: (doc, r, op) =>
      transact(doc, [
        {
          Update: {
            TableName: r.table,
            Key: { pk: counterKey(r, op).pk, sk: keys.blockSort(BigInt(op)) },
            UpdateExpression: 'SET t1 = :token ADD u :added',
            ConditionExpression: 'NOT contains(u, :o)',
            ExpressionAttributeValues: { ':token': 'x', ':added': new Set([1]), ':o': 1 },
          },
        },
        { Put: allocationPut(r, op) },
        counterAdd(r, op),
      ]),
  },
  {
    name: 'E',
    what: `transaction: A's Put + counter DELETE free :o from a set of ${OFFSETS} (exact mode)`,
    // Operation op takes offset floor(op / counters) of counter op % counters, so no
    // offset is taken twice and each set stays over half full: enough counters for
    // twice A's rate (a two-item transaction is slower than one Put).
    counters: (rateA) => Math.max(SHARDS, Math.ceil((4 * rateA * seconds) / OFFSETS)),
    exact: true,
    send(doc, r, op) {
      const offset = Math.floor(op / r.counters);
      if (offset >= OFFSETS) throw new Error('E ran out of seeded offsets: seed more counters');
      return transact(doc, [
        { Put: allocationPut(r, op) },
        {
          Update: {
            TableName: r.table,
            Key: counterKey(r, op),
            // `free` is a reserved word in expressions.
            UpdateExpression: 'DELETE #free :o',
            ConditionExpression: 'contains(#free, :offset)',
            ExpressionAttributeNames: { '#free': 'free' },
            ExpressionAttributeValues: { ':o': new Set([offset]), ':offset': offset },
          },
        },
      ]);
    },
  },
];

interface Result {
  readonly rate: number;
  readonly ops: number;
  readonly usage: Usage;
}

/** Seeds a fresh subnet's counters, then runs `shape` from 32 metered clients for `ms`. */
async function measure(env: BenchEnv, shape: Shape, ms: number, rateA: number): Promise<Result> {
  const r: Round = {
    table: env.tableName,
    subnetId: `sub_${randomBytes(16).toString('base64url')}`,
    counters: shape.counters(rateA),
  };
  await env.batchWrite(
    Array.from({ length: r.counters }, (_, shard) => counterItem(r, shard, shape.exact === true)),
  );
  // One client and meter per worker, as each Lambda container would have.
  const workers = Array.from({ length: WORKERS }, () => {
    const { client, doc } = env.rawClient();
    return { client, doc, meter: new Meter(env.pricing).attach(client) };
  });
  let next = 0;
  const started = Date.now();
  const end = started + ms;
  await runWorkers(WORKERS, async (worker) => {
    const { doc } = workers[worker]!;
    while (Date.now() < end) await shape.send(doc, r, next++);
  });
  const elapsed = (Date.now() - started) / 1000;
  const usage = new Usage();
  for (const { meter } of workers) usage.add(meter.take());
  env.retire(workers);
  return { rate: next / elapsed, ops: next, usage };
}

async function pass(env: BenchEnv, label: string): Promise<Map<string, Result>> {
  const results = new Map<string, Result>();
  for (const shape of SHAPES) {
    const result = await measure(env, shape, seconds * 1000, results.get('A')?.rate ?? 0);
    results.set(shape.name, result);
    progress(`${label} ${shape.name}: ${round(result.rate, 0)} ops/s`);
  }
  return results;
}

function table(results: Map<string, Result>): string {
  const rateA = results.get('A')!.rate;
  const rows = [['shape', 'ops/s', '÷A', 'requests/op', 'WCU/op', 'RCU/op']];
  for (const [name, { rate, ops, usage }] of results) {
    const low = round(usage.wcuLow / ops, 2);
    const high = round(usage.wcuHigh / ops, 2);
    rows.push([
      name,
      String(round(rate, 0)),
      round(rate / rateA, 2).toFixed(2),
      String(round(usage.requests / ops, 2)),
      low === high ? String(low) : `${low}–${high}`,
      String(round(usage.rcu / ops, 2)),
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => cell.padStart(widths[column]!)).join('  '))
    .join('\n');
}

const env = await BenchEnv.start();
try {
  progress(`DynamoDB Local on ${env.dynamo.endpoint}; warming up with ${WARM_UP_MS / 1000} s of A`);
  await measure(env, SHAPES[0]!, WARM_UP_MS, 0);
  await pass(env, 'pass 1');
  const results = await pass(env, 'pass 2');
  const sample: Round = { table: env.tableName, subnetId: `sub_${'x'.repeat(22)}`, counters: 1 };
  console.log(
    `Write shapes on DynamoDB Local: ${WORKERS} workers, ${seconds} s each, second pass\n`,
  );
  console.log(table(results));
  console.log('');
  for (const shape of SHAPES) console.log(`${shape.name.padEnd(4)}${shape.what}`);
  console.log(
    `\nItem sizes (bench/metrics.ts itemSize): allocation ${itemSize(allocationPut(sample, 0).Item)} B, ` +
      `counter ${itemSize(counterItem(sample, 0, false))} B, exact-mode counter ` +
      `${itemSize(counterItem(sample, 0, true))} B (all under 1 KB: 1 WCU, 2 in a transaction).`,
  );
  console.log(
    'WCU/RCU are real DynamoDB prices (bench/metrics.ts transactionPrice; Local under-prices transactions).',
  );
  console.log(
    'Caveat: DynamoDB Local never reports TransactionConflict, so C24 on Local says nothing\n' +
      'about contention on real DynamoDB, where 32 writers on one counter item conflict, and\n' +
      'one item takes at most 1,000 WCU/s (500 transactional updates/s).',
  );
} finally {
  await env.stop();
}
