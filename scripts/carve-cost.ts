/**
 * Requests per carve with N subnets already carved, counted by an SDK middleware.
 * Run from the project root: npx tsx scripts/carve-cost.ts [counts...] [--race N]
 */
import { randomBytes } from 'node:crypto';
import { startLocalDynamoDb } from '../local/dynamoDbLocal.js';
import { ensureTable, tableDefinition } from '../local/tables.js';
import {
  carveSubnet,
  createPool,
  onSubnetDeleted,
  previewNextCidr,
} from '../shared/pools/index.js';
import { createDocumentClient, createDynamoClient } from '../shared/store/client.js';
import type { IpamContext } from '../shared/store/context.js';
import { TTL_ATTRIBUTE } from '../shared/store/table.js';
import { deleteSubnet } from '../shared/subnets/subnets.js';

const args = process.argv.slice(2);
const raceAt = args.indexOf('--race');
const race = raceAt >= 0 ? Number(args[raceAt + 1]) : 0;
const checkpoints = args
  .filter((_, i) => raceAt < 0 || (i !== raceAt && i !== raceAt + 1))
  .map(Number);

const dynamo = await startLocalDynamoDb();
const client = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
const tableName = `ipam-measure-${randomBytes(4).toString('hex')}`;
await ensureTable(client, tableDefinition(tableName), TTL_ATTRIBUTE);
const calls = new Map<string, number>();
client.middlewareStack.add(
  (next, context) => async (input) => {
    const name = String(context.commandName);
    calls.set(name, (calls.get(name) ?? 0) + 1);
    return next(input);
  },
  { step: 'initialize', name: 'countRequests' },
);
const ctx: IpamContext = { doc: createDocumentClient(client), tableName, now: Date.now };
const total = () => [...calls.values()].reduce((sum, n) => sum + n, 0);
try {
  if (race > 0) {
    const pool = await createPool(ctx, { prefixes: ['10.0.0.0/16'], space: 'race' });
    calls.clear();
    const started = Date.now();
    const lengths = Array.from({ length: race }, (_, i) => [24, 26, 28, 22][i % 4]!);
    await Promise.all(lengths.map((prefixLength) => carveSubnet(ctx, pool.id, { prefixLength })));
    console.log(
      `${race} racing carves: ${Date.now() - started} ms, ${total()} requests`,
      Object.fromEntries(calls),
    );
  }
  if (checkpoints.length > 0) {
    const pool = await createPool(ctx, { prefixes: ['10.0.0.0/8'], space: 'cost' });
    const max = Math.max(...checkpoints);
    const started = Date.now();
    for (let carved = 0; carved <= max; carved++) {
      if (checkpoints.includes(carved)) {
        calls.clear();
        const preview = await previewNextCidr(ctx, pool.id, 28);
        const previewCost = total();
        calls.clear();
        const subnet = await carveSubnet(ctx, pool.id, { prefixLength: 28 });
        console.log(
          `${carved} carved before: carve ${subnet.cidr} = ${total()} requests`,
          Object.fromEntries(calls),
          `| preview ${preview.cidr} = ${previewCost} requests`,
        );
        calls.clear();
        // onSubnetDeleted returns the carved block to its pool, as DELETE /subnets/{id} does.
        await deleteSubnet(ctx, subnet.id, onSubnetDeleted);
        console.log(
          `  delete (block back to the pool) = ${total()} requests`,
          Object.fromEntries(calls),
        );
        calls.clear();
        const explicit = await carveSubnet(ctx, pool.id, { cidr: subnet.cidr });
        console.log(
          `  explicit carve of ${explicit.cidr} = ${total()} requests`,
          Object.fromEntries(calls),
        );
      } else {
        // Mixed sizes, so the free structure holds many blocks of many sizes.
        await carveSubnet(ctx, pool.id, { prefixLength: [28, 24, 26, 30, 22][carved % 5]! });
      }
    }
    console.log(`(${max + 1} carves in ${Date.now() - started} ms)`);
  }
} finally {
  client.destroy();
  await dynamo.stop();
}
