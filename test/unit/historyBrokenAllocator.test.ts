/**
 * The checker against real histories from DynamoDB Local: the real allocator's
 * history is accepted; a deliberately broken allocator, whose guarded release
 * ignores `?owner=`, is caught.
 *
 * Four clients each allocate two addresses at once (random strategy), then each,
 * concurrently with its neighbour's reads, releases the neighbour's first address
 * "guarded" by its own name. The real allocator answers OWNER_MISMATCH; the broken
 * one frees the neighbour's allocation — every time, so the test is deterministic.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Allocator } from '../../shared/allocator/index.js';
import type { IpAddress } from '../../shared/net/address.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import {
  type AllocationFields,
  describeAnomalies,
  HistoryRecorder,
  inProcessClient,
} from '../support/history/index.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});

/** The bug under test: a release that drops the owner guard. */
class OwnerBlindAllocator extends Allocator {
  override release(subnetId: string, ip: IpAddress, _owner?: string): Promise<void> {
    return super.release(subnetId, ip);
  }
}

async function scenario(make: () => Allocator, space: string) {
  const subnet = await createSubnet(db.ctx, { cidr: '10.20.0.0/28', space });
  const recorder = new HistoryRecorder(db.ctx.now);
  recorder.track(subnet);
  const clients = Array.from({ length: 4 }, (_, i) =>
    inProcessClient(recorder, `c${i}`, make(), db.ctx),
  );
  const held = await Promise.all(
    clients.map(async (client, i) => {
      const outcome = await client.allocate(subnet.id, { owner: `owner-${i}`, count: 2 });
      expect(outcome.status).toBe('ok');
      return (outcome.status === 'ok' ? (outcome.value as AllocationFields[]) : []).map(
        (v) => v.ip,
      );
    }),
  );
  await Promise.all(
    clients.map(async (client, i) => {
      const neighbour = (i + 1) % clients.length;
      const target = held[neighbour]?.[0] as string;
      await Promise.all([
        client.release(subnet.id, target, `owner-${i}`),
        clients[neighbour]?.get(subnet.id, target),
      ]);
    }),
  );
  // Final reads: the state every address ended in.
  for (const ip of held.flat()) await clients[0]?.get(subnet.id, ip);
  return recorder.check();
}

describe('history checker on real DynamoDB Local histories', () => {
  it('accepts the history of the real allocator', async () => {
    const report = await scenario(() => new Allocator(db.ctx), 'real');
    expect(report.operations).toBe(4 + 8 + 8);
    expect(report.anomalies, describeAnomalies(report)).toEqual([]);
  });

  it('rejects the history of an allocator whose guarded release ignores the owner', async () => {
    const report = await scenario(() => new OwnerBlindAllocator(db.ctx), 'broken');
    // One anomaly per address a foreign guarded release freed.
    expect(report.anomalies.length, describeAnomalies(report)).toBe(4);
    expect(describeAnomalies(report)).toMatch(
      /release \?owner=owner-\d succeeded while held by "owner-\d"/,
    );
  });
});
