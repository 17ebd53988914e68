/**
 * "Full" is never confused with contention, even when every eventually consistent
 * read is stale: a subnet whose pools are all taken answers SUBNET_EXHAUSTED, not
 * ALLOCATION_CONTENTION, to callers whose counter reads lag behind the fills.
 */
import { expect, it } from 'vitest';
import { SubnetExhaustedError } from '../../shared/errors.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb } from '../support/dynamo.js';
import { applyRealism } from '../support/realism.js';
import { TextAllocator } from '../support/textAllocator.js';

it('answers SUBNET_EXHAUSTED to callers that read stale counters of a full subnet', async () => {
  const db = await createTestDb();
  let now = 1000;
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  const realism = applyRealism(client, db.ctx.doc, {
    seed: 3,
    staleReads: { probability: 1, maxAgeMs: 99_000 },
    clock: () => now,
  });
  const ctx = { ...db.ctx, doc: createDocumentClient(client) };
  const subnet = await createSubnet(ctx, {
    cidr: '10.90.0.0/24',
    space: 'full',
    allocationPools: [{ start: '10.90.0.10', end: '10.90.0.13' }],
  });
  now = 100_000;
  for (let i = 10; i <= 13; i++)
    await new TextAllocator(ctx).allocate(subnet.id, { ip: `10.90.0.${i}` });
  now = 100_500;
  const outcomes: string[] = [];
  for (let i = 0; i < 6; i++)
    outcomes.push(
      await new TextAllocator(ctx).allocate(subnet.id, {}).then(
        () => 'allocated',
        (error: Error) => error.name,
      ),
    );
  expect(realism.counters.staleQueries + realism.counters.staleBatchGets).toBeGreaterThan(0);
  expect(outcomes).toEqual(new Array(6).fill(SubnetExhaustedError.name));
});
