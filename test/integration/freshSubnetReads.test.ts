/**
 * The first reads after `POST /subnets`, on a DynamoDB that serves eventually
 * consistent reads from before the create ("not there yet", test/support/realism.ts):
 * a GET or a random allocation right after the create must find the subnet.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { createSubnet, getSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { applyRealism, type Realism } from '../support/realism.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;

beforeAll(async () => {
  db = await createTestDb();
});

/** Every eventually consistent read answers as of up to 60 s ago: before the create. */
function stale(seed: number): { ctx: IpamContext; realism: Realism } {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  const realism = applyRealism(client, db.ctx.doc, {
    seed,
    staleReads: { probability: 1, maxAgeMs: 60_000 },
  });
  return { ctx: { ...db.ctx, doc: createDocumentClient(client) }, realism };
}

const staleServed = (realism: Realism) =>
  realism.counters.staleGets + realism.counters.staleQueries + realism.counters.staleBatchGets;

describe('reads right after a subnet is created, on eventually consistent reads', () => {
  it('GET finds the subnet with its usage', async () => {
    const { ctx, realism } = stale(21);
    const created = await createSubnet(ctx, { cidr: '10.80.0.0/16', space: 'fresh1' });
    const fetched = await getSubnet(ctx, created.id);
    expect(fetched).toMatchObject({ id: created.id, usage: { allocated: 0, total: 65533 } });
    expect(staleServed(realism)).toBeGreaterThan(0);
  });

  it('a random allocation finds the subnet', async () => {
    const { ctx, realism } = stale(22);
    const created = await createSubnet(ctx, { cidr: '10.81.0.0/24', space: 'fresh2' });
    const [allocation] = await new TextAllocator(ctx).allocate(created.id, { owner: 'first' });
    expect(allocation).toMatchObject({ subnetId: created.id, owner: 'first' });
    expect(staleServed(realism)).toBeGreaterThan(0);
  });
});
