import { beforeAll, describe, expect, it } from 'vitest';
import { Allocator } from '../../shared/allocator/index.js';
import { getLatestAudit, runScheduledAudit } from '../../shared/audit/index.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});

describe('runScheduledAudit', () => {
  it('continues an audit that stopped at its deadline on the next run', async () => {
    const allocator = new Allocator(db.ctx);
    for (const third of [1, 2, 3]) {
      const subnet = await createSubnet(db.ctx, { cidr: `10.8.${third}.0/24`, space: 'scheduled' });
      await allocator.allocate(subnet.id, { count: 3 });
    }
    const first = await runScheduledAudit(db.ctx, {
      repair: false,
      pageSize: 1,
      deadline: () => true,
    });
    expect(first.status).toBe('running');
    let last = first;
    for (let run = 0; run < 200 && last.status === 'running'; run++) {
      last = await runScheduledAudit(db.ctx, { repair: false, pageSize: 1, deadline: () => true });
      expect(last.id).toBe(first.id);
    }
    expect(last).toMatchObject({ status: 'complete', scanned: { subnets: 3, allocations: 9 } });
    expect((await getLatestAudit(db.ctx)).id).toBe(first.id);
    // The next run starts a new audit.
    const next = await runScheduledAudit(db.ctx, { repair: false });
    expect(next.id).not.toBe(first.id);
    expect(next.status).toBe('complete');
  });
});
