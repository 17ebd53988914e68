/**
 * What the audit's address-map check costs, on DynamoDB Local (capacity as it
 * reports it with ReturnConsumedCapacity):
 *   npx tsx scripts/map-audit-cost.ts [allocations] [random|sequential]
 * A table without a stream: `allocations` allocations (random: each in a block of
 * its own, the sparse worst case; sequential: dense blocks) in a /16, a /8 and a
 * /64, every tenth a lease of a minute, so no summary exists. Then four audits —
 * report-only (every block missing), repair, report-only again (every summary
 * agrees), and repair after the leases lapsed — each with the map requests (every
 * request on a `MAP#` key) counted apart from the rest of the audit.
 */
import { startLocalDynamoDb } from '../local/dynamoDbLocal.js';
import { ensureTable, tableDefinition } from '../local/tables.js';
import { Allocator } from '../shared/allocator/index.js';
import { type AuditReport, FindingType, runAudit } from '../shared/audit/index.js';
import { createDocumentClient, createDynamoClient } from '../shared/store/client.js';
import type { IpamContext } from '../shared/store/context.js';
import { TTL_ATTRIBUTE } from '../shared/store/table.js';
import { createSubnet } from '../shared/subnets/subnets.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const allocations = Number(process.argv[2] ?? 300);
const strategy = process.argv[3] === 'sequential' ? 'sequential' : 'random';
const dynamo = await startLocalDynamoDb();
try {
  const client = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
  const tableName = 'ipam-map-audit-cost';
  await ensureTable(client, tableDefinition(tableName, { stream: false }), TTL_ATTRIBUTE);
  let offset = 0;
  const ctx: IpamContext = {
    doc: createDocumentClient(client),
    tableName,
    now: () => Date.now() + offset,
  };
  const allocator = new Allocator(ctx);
  for (const [i, cidr] of ['10.2.0.0/16', '11.0.0.0/8', '2001:db8:0:1::/64'].entries()) {
    const { id } = await createSubnet(ctx, { cidr, space: `cost-${i}` });
    for (let n = 0; n < allocations; n++) {
      await allocator.allocate(id, {
        owner: `o${n}`,
        strategy,
        ...(n % 10 === 0 ? { ttlSeconds: 60 } : {}),
      });
    }
  }

  // Every request on a map key, with its capacity, counted by a middleware.
  const counted = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
  const map = { requests: new Map<string, number>(), rcu: 0, wcu: 0 };
  counted.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const result = await next(args);
      const key = (input.Key ?? input.Item ?? input.ExpressionAttributeValues) as
        | Record<string, unknown>
        | undefined;
      const pk = String(key?.pk ?? key?.[':pk'] ?? '');
      if (pk.startsWith('MAP#')) {
        const command = String(context.commandName).replace(/Command$/, '');
        map.requests.set(command, (map.requests.get(command) ?? 0) + 1);
        const used = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
          .ConsumedCapacity?.CapacityUnits;
        if (command === 'PutItem') map.wcu += used ?? 0;
        else map.rcu += used ?? 0;
      }
      return result;
    },
    { step: 'initialize', name: 'mapCapacity' },
  );
  const auditCtx: IpamContext = { ...ctx, doc: createDocumentClient(counted) };

  const audit = async (label: string, repair: boolean) => {
    map.requests.clear();
    map.rcu = 0;
    map.wcu = 0;
    const report: AuditReport = await runAudit(auditCtx, { repair, segments: 1 });
    const stale = report.findingCounts[FindingType.MAP_SUMMARY_STALE] ?? { found: 0, repaired: 0 };
    console.log(
      `${label}: ${report.scanned.items} items; audit ${report.consumedReadCapacity} RCU, ${report.consumedWriteCapacity} WCU; ` +
        `MAP_SUMMARY_STALE ${stale.found} found, ${stale.repaired} repaired; map requests ${JSON.stringify(Object.fromEntries(map.requests))}, ` +
        `${map.rcu} RCU, ${map.wcu} WCU` +
        (stale.found > 0
          ? ` (${(map.rcu / stale.found).toFixed(2)} RCU, ${(map.wcu / stale.found).toFixed(2)} WCU per stale block)`
          : ''),
    );
  };
  await audit('report-only, no summaries', false);
  await audit('repair, no summaries', true);
  await audit('report-only, every summary agrees', false);
  offset += 61_000;
  await audit('repair, the leases lapsed', true);
} finally {
  await dynamo.stop();
}
