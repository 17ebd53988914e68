/**
 * What the address map costs, on DynamoDB Local (capacity as it reports it with
 * ReturnConsumedCapacity):
 *   npx tsx scripts/map-cost.ts [allocations]
 * 1. The stream processor's map writes per allocation: `allocations` single random
 *    allocations in a /16, a /8 and a /64, each one's block record applied as a
 *    batch of its own (no coalescing: the worst case), through refreshSummaries.
 * 2. What views cost: requests and read capacity of the top view and a zoom, for a
 *    /24, /16, /8 and /64 holding those allocations.
 */
import { startLocalDynamoDb } from '../local/dynamoDbLocal.js';
import { readStreamFromStart } from '../local/streamPoller.js';
import { ensureTable, tableDefinition } from '../local/tables.js';
import { Allocator } from '../shared/allocator/index.js';
import { type StreamRecordInput, toChangeRecord } from '../shared/history/index.js';
import { type BlockImage, refreshSummaries, subnetMap } from '../shared/map/index.js';
import { parseCidr } from '../shared/net/address.js';
import { createDocumentClient, createDynamoClient } from '../shared/store/client.js';
import type { IpamContext } from '../shared/store/context.js';
import { parseBlockSort, parseItemKey } from '../shared/store/keys.js';
import { TTL_ATTRIBUTE } from '../shared/store/table.js';
import { createSubnet } from '../shared/subnets/subnets.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const allocations = Number(process.argv[2] ?? 200);
const dynamo = await startLocalDynamoDb();
try {
  const client = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
  const tableName = 'ipam-map-cost';
  await ensureTable(client, tableDefinition(tableName, { stream: true }), TTL_ATTRIBUTE);
  const ctx: IpamContext = { doc: createDocumentClient(client), tableName, now: () => Date.now() };
  const allocator = new Allocator(ctx);
  const cidrs = ['10.1.0.0/24', '10.2.0.0/16', '11.0.0.0/8', '2001:db8:0:1::/64'];
  const ids = new Map<string, string>();
  for (const [i, cidr] of cidrs.entries()) {
    ids.set(cidr, (await createSubnet(ctx, { cidr, space: `cost-${i}` })).id);
  }
  const cidrOf = new Map([...ids].map(([cidr, id]) => [id, parseCidr(cidr)]));
  let seen = 0;
  for (const cidr of cidrs) {
    const id = ids.get(cidr) as string;
    for (let i = 0; i < allocations; i++) await allocator.allocate(id, { owner: `o${i}` });
    const records = (await readStreamFromStart(dynamo.endpoint, client, tableName)).slice(seen);
    seen += records.length;
    const tally = { read: 0, write: 0 };
    let blockRecords = 0;
    for (const input of records as StreamRecordInput[]) {
      const record = toChangeRecord(input);
      const key = parseItemKey(record.pk, record.sk);
      if (key.kind !== 'shardItem' || key.what !== 'block') continue;
      blockRecords++;
      const image: BlockImage = {
        subnetId: key.subnetId,
        block: parseBlockSort(record.sk),
        sequenceNumber: record.sequenceNumber,
        image: record.newImage,
      };
      await refreshSummaries(ctx, [image], { cidrOf: async (s) => cidrOf.get(s), tally });
    }
    console.log(
      `${cidr}: ${allocations} allocations, ${blockRecords} block records → map writes ${(tally.write / allocations).toFixed(2)} WCU, reads ${(tally.read / allocations).toFixed(2)} RCU per allocation`,
    );
  }

  // Views: every request's capacity, counted by a middleware.
  const counted = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
  const cost = { requests: 0, rcu: 0 };
  counted.middlewareStack.add(
    (next) => async (args) => {
      cost.requests++;
      (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const used = (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      for (const one of Array.isArray(used) ? used : [used]) {
        cost.rcu += (one as { CapacityUnits?: number } | undefined)?.CapacityUnits ?? 0;
      }
      return result;
    },
    { step: 'initialize', name: 'capacity' },
  );
  const viewCtx: IpamContext = { ...ctx, doc: createDocumentClient(counted) };
  for (const cidr of cidrs) {
    const id = ids.get(cidr) as string;
    const top = await subnetMap(viewCtx, id);
    const busiest = top.cells.reduce((best, cell) =>
      Number(cell.allocated) > Number(best.allocated) ? cell : best,
    );
    for (const path of [undefined, String(busiest.index)]) {
      cost.requests = 0;
      cost.rcu = 0;
      try {
        const view = await subnetMap(viewCtx, id, path);
        console.log(
          `${cidr} view ${path ?? 'top'} (${view.cells.length} cells of ${view.cellSize}): ${cost.requests} requests, ${cost.rcu} RCU`,
        );
      } catch (error) {
        console.log(`${cidr} view ${path}: ${(error as Error).message}`);
      }
    }
  }
} finally {
  await dynamo.stop();
}
