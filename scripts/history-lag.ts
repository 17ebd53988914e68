/**
 * Stream lag and the processor's write cost, on the local server:
 *   npx tsx scripts/history-lag.ts [count]
 * Starts DynamoDB Local and `local/start.ts` (its stream poller polls every 250 ms,
 * IPAM_EVENTS=log), then for `count` sequential allocations times commit (the POST's
 * 201) → the ALLOCATED entry visible on GET …/history (polled every 5 ms): p50/p99.
 * Then replays the table's stream through processStreamRecords into a scratch table
 * (events on, then off) and divides the write capacity it reports
 * (ReturnConsumedCapacity) by the allocations. Last, the blocks' hints alone
 * (shared/hints/, issue 17's derived index) from the same records, in batches of 1
 * (the worst case: every allocation its own batch) and of 100 (the event source
 * mapping's batch size), each into a scratch table of its own.
 */
import { spawn } from 'node:child_process';
import { startLocalDynamoDb } from '../local/dynamoDbLocal.js';
import { readStreamFromStart } from '../local/streamPoller.js';
import { ensureTable, tableDefinition } from '../local/tables.js';
import { memoryPublisher, noopPublisher } from '../shared/events/index.js';
import { applyHints } from '../shared/hints/index.js';
import {
  processStreamRecords,
  type StreamRecordInput,
  toChangeRecord,
} from '../shared/history/index.js';
import { parseCidr } from '../shared/net/address.js';
import { createDocumentClient, createDynamoClient } from '../shared/store/client.js';
import { createContext } from '../shared/store/context.js';
import { TTL_ATTRIBUTE } from '../shared/store/table.js';
import { geometryOf } from '../shared/subnets/geometry.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const count = Number(process.argv[2] ?? 200);
const dynamo = await startLocalDynamoDb();
const tableName = 'ipam-lag';
const server = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
  env: {
    ...process.env,
    PORT: '0',
    IPAM_DYNAMODB_ENDPOINT: dynamo.endpoint,
    IPAM_TABLE_NAME: tableName,
    IPAM_EVENTS: 'log',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  },
  stdio: ['ignore', 'pipe', 'ignore'],
});
try {
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const json = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await response.json()) as Record<string, unknown>;
  };
  const subnet = await json('POST', '/subnets', { cidr: '10.210.0.0/16', space: 'lag' });
  const subnetId = String(subnet.id);
  const lags: number[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await json('POST', `/subnets/${subnetId}/allocations`, { owner: `lag-${i}` });
    const committed = performance.now();
    const ip = String((answer.allocations as { ip: string }[])[0]?.ip);
    for (let tries = 0; ; tries++) {
      const page = await json('GET', `/subnets/${subnetId}/allocations/${ip}/history`);
      if ((page.items as unknown[]).length > 0) break;
      if (tries > 2000) throw new Error(`no history for ${ip} after 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    lags.push(performance.now() - committed);
  }
  lags.sort((a, b) => a - b);
  const at = (q: number) =>
    lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]?.toFixed(0);
  console.log(
    `${count} allocations: commit → history visible p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms (poller every 250 ms)`,
  );

  // The processor's write cost: replay the stream into a scratch table.
  const client = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
  const records = await readStreamFromStart(dynamo.endpoint, client, tableName);
  // The allocations and their subnet's creation (which gives the processor the
  // subnet's cidr/space, as in the table it would otherwise read them from).
  const allocationRecords = records.filter((r) => {
    const sk = r.dynamodb?.Keys?.sk?.S ?? '';
    return sk.startsWith('IP#') || sk === 'META';
  });
  for (const [label, publisher] of [
    ['events on (put + published mark)', memoryPublisher()],
    ['events off (put only)', noopPublisher],
  ] as const) {
    const scratch = `ipam-lag-scratch-${label.length}`;
    await ensureTable(client, tableDefinition(scratch), TTL_ATTRIBUTE);
    const ctx = createContext(createDocumentClient(client), scratch);
    const result = await processStreamRecords(
      ctx,
      allocationRecords as StreamRecordInput[],
      publisher,
    );
    console.log(
      `processor, ${label}: ${(result.capacity.write / count).toFixed(2)} WCU and ${(result.capacity.read / count).toFixed(3)} RCU per allocation (${result.entriesWritten} entries, one of them the subnet's)`,
    );
  }
  // The derived index alone: one hint read and put per block per batch.
  const changes = allocationRecords.flatMap((record) => {
    const sk = record.dynamodb?.Keys?.sk?.S ?? '';
    if (!sk.startsWith('IP#')) return [];
    const change = toChangeRecord(record as StreamRecordInput);
    return [{ ...change, subnetId }];
  });
  const g = geometryOf(parseCidr('10.210.0.0/16'));
  for (const batch of [1, 100]) {
    const scratch = `ipam-lag-hints-${batch}`;
    await ensureTable(client, tableDefinition(scratch), TTL_ATTRIBUTE);
    const ctx = createContext(createDocumentClient(client), scratch);
    const tally = { read: 0, write: 0 };
    for (let i = 0; i < changes.length; i += batch) {
      await applyHints(ctx, changes.slice(i, i + batch), { geometryOf: async () => g, tally });
    }
    console.log(
      `derived hints, batches of ${batch}: ${(tally.write / count).toFixed(3)} WCU and ${(tally.read / count).toFixed(3)} RCU per allocation`,
    );
  }
  client.destroy();
} finally {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await dynamo.stop();
}
