/**
 * `npm run bench -- --audit`: builds a table of about 100,000 items by batch writes
 * of exactly the items the allocator writes (prefill.ts `fillTo`, checked against a
 * real allocation by `checkShapes`), then audits it as `POST /audits` does locally
 * (the job's segments in this process, then the merge): items/s, read capacity per
 * item (ReturnConsumedCapacity TOTAL on every request, as DynamoDB Local reports
 * it), peak memory (RSS and heap, sampled every 20 ms). Then it plants drift —
 * allocation items deleted (BLOCK_WITHOUT_ALLOCATION), block offsets cleared
 * (ALLOCATION_WITHOUT_BLOCK), counters bumped (USAGE_DRIFT), each in a shard of its
 * own — and audits again: every planted finding must be found, and nothing else.
 */
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { tokenAttribute } from '../shared/allocator/index.js';
import { type AuditReport, FindingType, runAudit } from '../shared/audit/index.js';
import { keys } from '../shared/store/keys.js';
import { addressAt, geometryOf, shardBlocks } from '../shared/subnets/geometry.js';
import { address, type Subnet } from '../shared/subnets/subnet.js';
import { type BenchEnv, progress } from './env.js';
import { fillTo } from './prefill.js';

const TARGET_ITEMS = 100_000;
const FILL = 0.85;
const PLANTED_PER_TYPE = 20;

export interface AuditRun {
  readonly items: number;
  readonly seconds: number;
  readonly itemsPerSecond: number;
  readonly rcu: number;
  readonly rcuPerItem: number;
  readonly wcu: number;
  readonly segments: number;
  readonly peakRssMiB: number;
  readonly peakHeapMiB: number;
  readonly findingCounts: AuditReport['findingCounts'];
}

export interface AuditBench {
  readonly tableItems: number;
  readonly subnets: number;
  readonly fillSeconds: number;
  readonly clean: AuditRun;
  readonly drift: AuditRun & {
    readonly planted: Record<string, number>;
    readonly found: Record<string, number>;
  };
}

/** Runs the audit bench on `env`'s table. */
export async function runAuditBench(env: BenchEnv): Promise<AuditBench> {
  const started = Date.now();
  const subnets: Subnet[] = [];
  let items = 0;
  // /20s (16 shards of one block) at 85 %: ~3,500 allocation items each.
  for (let i = 0; items < TARGET_ITEMS; i++) {
    const view = await env.subnet(`10.${100 + Math.floor(i / 16)}.${(i % 16) * 16}.0/20`, 'audit');
    const filled = await fillTo(env, view.id, FILL);
    subnets.push(filled.subnet);
    // The subnet, its space entry and head, and what the fill wrote.
    items += filled.itemsWritten + 3;
    progress(`  audit table: ${items} items in ${subnets.length} subnets`);
  }
  const fillSeconds = (Date.now() - started) / 1000;
  progress(`audit: clean table of ~${items} items`);
  const clean = await measure(env);
  progress(
    `  ${clean.itemsPerSecond} items/s, ${clean.rcuPerItem} RCU/item, peak RSS ${clean.peakRssMiB} MiB`,
  );
  const planted = await plantDrift(env, subnets);
  progress('audit: the same table with planted drift');
  const drift = await measure(env);
  const found: Record<string, number> = {};
  for (const type of Object.keys(planted)) {
    found[type] = drift.findingCounts[type as FindingType]?.found ?? 0;
  }
  return {
    tableItems: clean.items,
    subnets: subnets.length,
    fillSeconds,
    clean,
    drift: { ...drift, planted, found },
  };
}

async function measure(env: BenchEnv): Promise<AuditRun> {
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const usage = process.memoryUsage();
    peakRss = Math.max(peakRss, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
  };
  sample();
  const sampler = setInterval(sample, 20);
  const started = Date.now();
  let report: AuditReport;
  try {
    report = await runAudit(env.admin, { repair: false });
  } finally {
    clearInterval(sampler);
  }
  sample();
  const seconds = (Date.now() - started) / 1000;
  const scanned = report.scanned.items;
  return {
    items: scanned,
    seconds: round(seconds, 2),
    itemsPerSecond: round(scanned / seconds, 0),
    rcu: round(report.consumedReadCapacity, 1),
    rcuPerItem: round(report.consumedReadCapacity / scanned, 4),
    wcu: round(report.consumedWriteCapacity, 1),
    segments: report.segments ?? 1,
    peakRssMiB: round(peakRss / 2 ** 20, 0),
    peakHeapMiB: round(peakHeap / 2 ** 20, 0),
    findingCounts: report.findingCounts,
  };
}

/** Plants PLANTED_PER_TYPE findings of three types, each in a shard no other plant touches. */
async function plantDrift(
  env: BenchEnv,
  subnets: readonly Subnet[],
): Promise<Record<string, number>> {
  const { doc } = env.rawClient();
  const tableName = env.tableName;
  const shards: { subnet: Subnet; shard: number }[] = [];
  for (const subnet of subnets) {
    for (let shard = 0; shard < geometryOf(subnet.cidr).shardCount; shard++)
      shards.push({ subnet, shard });
  }
  let next = 0;
  const take = () => {
    const picked = shards[next++];
    if (picked === undefined) throw new Error('not enough shards to plant drift in');
    return picked;
  };
  /** A taken address of the shard (the fill takes 85 % of every block). */
  const takenIn = async (subnet: Subnet, shard: number) => {
    const g = geometryOf(subnet.cidr);
    const block = shardBlocks(g, shard).first;
    const item = (
      await env.admin.doc.send(
        new GetCommand({
          TableName: tableName,
          Key: keys.block(subnet.id, shard, block),
          ConsistentRead: true,
        }),
      )
    ).Item;
    const offsets = [...((item?.u as Set<number> | undefined) ?? [])].sort((a, b) => a - b);
    const offset = offsets[1];
    if (offset === undefined) throw new Error('empty block');
    return { g, block, offset, value: addressAt(g, block, offset) };
  };
  for (let i = 0; i < PLANTED_PER_TYPE; i++) {
    // BLOCK_WITHOUT_ALLOCATION: the allocation item goes; its offset stays taken.
    const a = take();
    const lost = await takenIn(a.subnet, a.shard);
    await doc.send(
      new DeleteCommand({
        TableName: tableName,
        Key: keys.allocation(a.subnet.id, a.shard, address(a.subnet.cidr.version, lost.value)),
      }),
    );
    // ALLOCATION_WITHOUT_BLOCK: the offset goes (and the counter with it, as a recount would).
    const b = take();
    const freed = await takenIn(b.subnet, b.shard);
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: keys.block(b.subnet.id, b.shard, freed.block),
        UpdateExpression: `DELETE u :o REMOVE ${tokenAttribute(freed.offset)}`,
        ExpressionAttributeValues: { ':o': new Set([freed.offset]) },
      }),
    );
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: keys.counter(b.subnet.id, b.shard),
        UpdateExpression: 'ADD n :minus, p :minus, ver :one',
        ExpressionAttributeValues: { ':minus': -1, ':one': 1 },
      }),
    );
    // USAGE_DRIFT: the counter says more than its blocks hold.
    const c = take();
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: keys.counter(c.subnet.id, c.shard),
        UpdateExpression: 'ADD n :plus, p :plus, ver :one',
        ExpressionAttributeValues: { ':plus': 2, ':one': 1 },
      }),
    );
  }
  return {
    [FindingType.BLOCK_WITHOUT_ALLOCATION]: PLANTED_PER_TYPE,
    [FindingType.ALLOCATION_WITHOUT_BLOCK]: PLANTED_PER_TYPE,
    [FindingType.USAGE_DRIFT]: PLANTED_PER_TYPE,
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The bench's text output. */
export function auditText(result: AuditBench): string {
  const line = (name: string, run: AuditRun) =>
    `${name.padEnd(8)} ${String(run.items).padStart(7)} items  ${String(run.seconds).padStart(6)} s  ` +
    `${String(run.itemsPerSecond).padStart(6)} items/s  ${String(run.rcuPerItem).padStart(6)} RCU/item ` +
    `(${run.rcu} RCU, ${run.wcu} WCU)  ${run.segments} segment(s)  peak RSS ${run.peakRssMiB} MiB, heap ${run.peakHeapMiB} MiB`;
  const findings = Object.entries(result.drift.planted)
    .map(([type, planted]) => `${type} ${result.drift.found[type]}/${planted}`)
    .join(', ');
  const others = Object.entries(result.drift.findingCounts)
    .filter(([type]) => !(type in result.drift.planted))
    .map(([type, count]) => `${type} ${count?.found}`)
    .join(', ');
  return [
    `Audit bench: ${result.tableItems} items in ${result.subnets} subnets (batch-written in ${round(result.fillSeconds, 1)} s)`,
    line('clean', result.clean),
    line('drift', result.drift),
    `planted found: ${findings}${others === '' ? '' : `; other findings: ${others}`}`,
  ].join('\n');
}
