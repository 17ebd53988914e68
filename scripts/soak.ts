/**
 * `npm run soak -- --minutes N [--faults 0.1] [--stale 0.1] [--seed 1] [--clients 16] [--http 4]`: N minutes
 * of mixed concurrent operations — in-process allocators with the DynamoDB-realism
 * layer (stale reads, transaction conflicts, capacity cancellations, faults) and
 * HTTP clients against a local server — then the history checker, an audit that
 * must find no drift, and a full table scan for duplicate held addresses.
 * Only 127.0.0.1 traffic: its own DynamoDB Local and server. Exits 1 on any anomaly.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { startLocalDynamoDb } from '../local/dynamoDbLocal.js';
import { ensureTable, tableDefinition } from '../local/tables.js';
import { Allocator } from '../shared/allocator/index.js';
import { runAudit } from '../shared/audit/audit.js';
import { createDocumentClient, createDynamoClient } from '../shared/store/client.js';
import type { IpamContext } from '../shared/store/context.js';
import { TTL_ATTRIBUTE } from '../shared/store/table.js';
import { createSubnet } from '../shared/subnets/subnets.js';
import {
  describeAnomalies,
  HistoryRecorder,
  httpClient,
  inProcessClient,
  type RecordingClient,
} from '../test/support/history/index.js';
import { runWorkload } from '../test/support/history/workload.js';
import { Realism, seededRandom } from '../test/support/realism.js';

/** Audit findings that describe the data, not a fault. */
const INFORMATIONAL = new Set([
  'ALLOCATION_OUTSIDE_POOL',
  'HIGH_UTILIZATION',
  'EXPIRED_LEASE',
  'ALLOCATION_TOKEN_MISMATCH',
]);

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number`);
  return value;
}

async function startServer(
  endpoint: string,
  tableName: string,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    env: {
      ...process.env,
      PORT: '0',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      IPAM_DYNAMODB_ENDPOINT: endpoint,
      IPAM_TABLE_NAME: tableName,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 120_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
  return { url, child };
}

async function main(): Promise<number> {
  const minutes = option('minutes', 1);
  const faults = option('faults', 0.1);
  const stale = option('stale', 0.1);
  const seed = option('seed', 1);
  const inProcessClients = option('clients', 16);
  const httpClients = option('http', 4);
  const dynamo = await startLocalDynamoDb();
  const tableName = `ipam-soak-${randomBytes(4).toString('hex')}`;
  const raw = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
  await ensureTable(raw, tableDefinition(tableName), TTL_ATTRIBUTE);
  const ctx: IpamContext = { doc: createDocumentClient(raw), tableName, now: Date.now };
  const server = await startServer(dynamo.endpoint, tableName);
  try {
    const realism = new Realism(ctx.doc, {
      seed,
      staleReads: { probability: stale, maxAgeMs: 200 },
      conflicts: { windowMs: 5 },
      capacityCancellations: { rate: faults / 5 },
      faults: { rate: faults },
    });
    const layered = (): IpamContext => {
      const client = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
      realism.apply(client);
      return { ...ctx, doc: createDocumentClient(client) };
    };
    const subnets = [
      await createSubnet(ctx, { cidr: '10.60.0.0/28', space: 'soak' }),
      await createSubnet(ctx, { cidr: '10.60.1.0/26', space: 'soak' }),
      await createSubnet(ctx, { cidr: '10.60.2.0/24', space: 'soak' }),
    ];
    const recorder = new HistoryRecorder(ctx.now);
    for (const subnet of subnets) recorder.track(subnet);
    const clients: RecordingClient[] = [];
    for (let i = 0; i < inProcessClients; i++) {
      const layeredCtx = layered();
      clients.push(inProcessClient(recorder, `p${i}`, new Allocator(layeredCtx), layeredCtx));
    }
    for (let i = 0; i < httpClients; i++) clients.push(httpClient(recorder, `h${i}`, server.url));
    const deadline = Date.now() + minutes * 60_000;
    const churn = subnets[1];
    const { operations } = await runWorkload({
      subnets: subnets.map((s) => ({ ...s, allocationPools: [...s.allocationPools] })),
      ...(churn === undefined
        ? {}
        : {
            churn: {
              subnetId: churn.id,
              patches: [
                { allocationPools: [{ start: '10.60.1.2', end: '10.60.1.40' }] },
                { allocationPools: [{ start: '10.60.1.10', end: '10.60.1.62' }] },
                // Gateway moves onto addresses the workload allocates: the fence decides.
                {
                  gatewayIp: '10.60.1.5',
                  allocationPools: [{ start: '10.60.1.10', end: '10.60.1.62' }],
                },
                {
                  gatewayIp: '10.60.1.3',
                  allocationPools: [{ start: '10.60.1.10', end: '10.60.1.62' }],
                },
                {
                  gatewayIp: '10.60.1.1',
                  allocationPools: [{ start: '10.60.1.2', end: '10.60.1.40' }],
                },
              ],
            },
          }),
      clients,
      finalReader: inProcessClient(recorder, 'final', new Allocator(ctx), ctx),
      operations: 1_000_000,
      until: () => Date.now() >= deadline,
      random: seededRandom(seed),
    });
    const report = recorder.check();
    const audit = await runAudit(ctx, { repair: false, gracePeriodMs: 0 });
    const findings = audit.findings.filter((finding) => !INFORMATIONAL.has(finding.type));
    const duplicates = await duplicateHeldAddresses(ctx);
    console.log(
      `soak: ${minutes} min, faults ${faults}, stale ${stale}, seed ${seed}, ${inProcessClients} in-process + ${httpClients} HTTP clients`,
    );
    console.log(
      `operations: ${operations} (+ final reads: ${report.operations - operations} recorded in all)`,
    );
    console.log(`ambiguous outcomes: ${report.ambiguous}`);
    console.log(`injected: ${JSON.stringify(realism.counters)}`);
    console.log(
      `checker: ${report.partitions} addresses, ${report.steps} search steps, ${report.undecided.length} undecided`,
    );
    console.log(`anomalies: ${report.anomalies.length}`);
    if (report.anomalies.length > 0) console.log(describeAnomalies(report));
    console.log(`audit findings (not informational): ${findings.length}`);
    for (const finding of findings)
      console.log(`  ${finding.type} ${finding.subnetId} ${finding.ip ?? ''} ${finding.detail}`);
    console.log(
      `duplicate held addresses: ${duplicates.length}${duplicates.length > 0 ? ` (${duplicates.join(', ')})` : ''}`,
    );
    return report.anomalies.length + findings.length + duplicates.length + report.undecided.length >
      0
      ? 1
      : 0;
  } finally {
    server.child.kill('SIGTERM');
    await dynamo.stop();
  }
}

/** Live allocation items, scanned in full, that name one (subnet, address) more than once. */
async function duplicateHeldAddresses(ctx: IpamContext): Promise<string[]> {
  const seen = new Map<string, number>();
  const nowSeconds = Math.floor(ctx.now() / 1000);
  let startKey: Record<string, unknown> | undefined;
  for (let page = 0; page < 100_000; page++) {
    const result = await ctx.doc.send(
      new ScanCommand({
        TableName: ctx.tableName,
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of result.Items ?? []) {
      if (item.type !== 'allocation') continue;
      if (typeof item.ttl === 'number' && item.ttl <= nowSeconds) continue;
      const key = `${String(item.subnetId)} ${String(item.ip)}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    startKey = result.LastEvaluatedKey;
    if (startKey === undefined) break;
  }
  return [...seen].filter(([, n]) => n > 1).map(([key]) => key);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
