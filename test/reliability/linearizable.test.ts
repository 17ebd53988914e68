/**
 * Checked histories (test/support/history): concurrent clients — in-process
 * allocators and HTTP clients against the local server — record every operation,
 * and the checker must find a linearization against the API's sequential model.
 *
 * 1. Issue 14's guarded-release race: allocate X for alice, then at once
 *    `DELETE …/X?owner=alice` and `PATCH …/X {"owner":"bob"}`. Both succeeding
 *    (and X ending free) has no linearization.
 * 2. A short mixed history, all operation kinds, with the DynamoDB-realism layer
 *    (stale reads, transaction conflicts, capacity cancellations, faults) on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Allocator } from '../../shared/allocator/index.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import {
  describeAnomalies,
  HistoryRecorder,
  httpClient,
  inProcessClient,
  type RecordingClient,
} from '../support/history/index.js';
import { runWorkload } from '../support/history/workload.js';
import { Realism, seededRandom } from '../support/realism.js';
import { type RunningServer, startServer } from '../support/server.js';

let db: TestDb;
let server: RunningServer;
beforeAll(async () => {
  db = await createTestDb();
  // The server shares the test's table, so in-process and HTTP clients race on the same items.
  server = await startServer({ tableName: db.ctx.tableName });
});
afterAll(async () => {
  await server?.stop();
});

/** Races per run: 5 waves of 8 concurrent races, each on its own address. */
const WAVES = 5;
const PARALLEL = 8;

/** Runs the race on 40 fresh addresses of a /24 and checks the history. */
async function guardedReleaseRace(
  space: string,
  clients: (recorder: HistoryRecorder) => [RecordingClient, RecordingClient, RecordingClient],
) {
  const subnet = await createSubnet(db.ctx, { cidr: '10.40.0.0/24', space });
  const recorder = new HistoryRecorder(db.ctx.now);
  recorder.track(subnet);
  const [setup, releaser, patcher] = clients(recorder);
  let bothSucceeded = 0;
  for (let wave = 0; wave < WAVES; wave++) {
    await Promise.all(
      Array.from({ length: PARALLEL }, async (_, lane) => {
        const ip = `10.40.0.${10 + wave * PARALLEL + lane}`;
        expect((await setup.allocate(subnet.id, { ip, owner: 'alice' })).status).toBe('ok');
        const [released, patched] = await Promise.all([
          releaser.release(subnet.id, ip, 'alice'),
          patcher.update(subnet.id, ip, { owner: 'bob' }),
        ]);
        if (released.status === 'ok' && patched.status === 'ok') bothSucceeded++;
        await setup.get(subnet.id, ip);
      }),
    );
  }
  return { report: recorder.check(), bothSucceeded };
}

describe('guarded release racing an owner PATCH', () => {
  it('in-process allocators: every history is linearizable', { timeout: 180_000 }, async () => {
    const { report, bothSucceeded } = await guardedReleaseRace('race-inproc', (recorder) => {
      const client = (name: string, ctx: IpamContext = db.ctx) =>
        inProcessClient(recorder, name, new Allocator(ctx), ctx);
      // DynamoDB's latency (not Local's): the release's write leaves 150 ms after its read.
      const slow = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      new Realism(db.ctx.doc, { writeLatencyMs: 150 }).apply(slow);
      return [
        client('setup'),
        client('releaser', { ...db.ctx, doc: createDocumentClient(slow) }),
        client('patcher'),
      ];
    });
    expect(
      report.anomalies,
      `${bothSucceeded} rounds where both succeeded:\n${describeAnomalies(report)}`,
    ).toEqual([]);
  });

  it('HTTP clients against the local server: every history is linearizable', {
    timeout: 180_000,
  }, async () => {
    const { report, bothSucceeded } = await guardedReleaseRace('race-http', (recorder) => [
      httpClient(recorder, 'setup', server.url),
      httpClient(recorder, 'releaser', server.url),
      httpClient(recorder, 'patcher', server.url),
    ]);
    expect(
      report.anomalies,
      `${bothSucceeded} rounds where both succeeded:\n${describeAnomalies(report)}`,
    ).toEqual([]);
  });
});

describe('mixed concurrent history with the realism layer on', () => {
  it('all operation kinds, in-process and HTTP clients: linearizable, no cross-address anomaly', {
    timeout: 180_000,
  }, async () => {
    const seed = 14;
    const realism = new Realism(db.ctx.doc, {
      seed,
      staleReads: { probability: 0.1, maxAgeMs: 200 },
      conflicts: { windowMs: 5 },
      capacityCancellations: { rate: 0.02 },
      faults: { rate: 0.05 },
    });
    const layeredContext = (): IpamContext => {
      const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
      realism.apply(client);
      return { ...db.ctx, doc: createDocumentClient(client) };
    };
    const hot = await createSubnet(db.ctx, { cidr: '10.41.0.0/28', space: 'mixed' });
    const churn = await createSubnet(db.ctx, { cidr: '10.41.1.0/26', space: 'mixed' });
    const recorder = new HistoryRecorder(db.ctx.now);
    recorder.track(hot);
    recorder.track(churn);
    const clients: RecordingClient[] = [];
    for (let i = 0; i < 5; i++) {
      const ctx = layeredContext();
      clients.push(inProcessClient(recorder, `p${i}`, new Allocator(ctx), ctx));
    }
    for (let i = 0; i < 2; i++) clients.push(httpClient(recorder, `h${i}`, server.url));
    const { operations } = await runWorkload({
      subnets: [hot, churn].map((view) => ({
        ...view,
        allocationPools: [...view.allocationPools],
      })),
      churn: {
        subnetId: churn.id,
        patches: [
          { allocationPools: [{ start: '10.41.1.2', end: '10.41.1.40' }] },
          { allocationPools: [{ start: '10.41.1.10', end: '10.41.1.62' }] },
          // Gateway moves onto addresses the workload allocates (specific picks start at .2).
          { gatewayIp: '10.41.1.5', allocationPools: [{ start: '10.41.1.10', end: '10.41.1.62' }] },
          { gatewayIp: '10.41.1.3', allocationPools: [{ start: '10.41.1.10', end: '10.41.1.62' }] },
          { gatewayIp: '10.41.1.1', allocationPools: [{ start: '10.41.1.2', end: '10.41.1.40' }] },
        ],
      },
      clients,
      finalReader: inProcessClient(recorder, 'final', new Allocator(db.ctx), db.ctx),
      operations: 20,
      random: seededRandom(seed),
    });
    const report = recorder.check();
    expect(operations).toBe(140);
    expect(
      report.anomalies,
      `${report.operations} operations, ${report.ambiguous} ambiguous, injected ${JSON.stringify(realism.counters)}:\n${describeAnomalies(report)}`,
    ).toEqual([]);
    expect(report.undecided).toEqual([]);
  });
});
