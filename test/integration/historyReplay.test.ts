/**
 * History against a recorded concurrent run: the workload of the linearizability
 * checks ([K], test/support/history) runs on a table with its stream, each client
 * writing as its own actor; then the stream poller writes the history, and every
 * entry is matched to the call that made it. Exactly one entry per committed change,
 * none for a refused call, and each entry names the caller that made the change.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Allocator } from '../../shared/allocator/index.js';
import { addressHistory, type HistoryEntryView } from '../../shared/history/index.js';
import { parseIp } from '../../shared/net/address.js';
import { withWho } from '../../shared/store/context.js';
import { createSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, historyPoller, type TestDb } from '../support/dynamo.js';
import {
  type ApiOperation,
  describeAnomalies,
  HistoryRecorder,
  inProcessClient,
  type RecordingClient,
} from '../support/history/index.js';
import { allocationViews } from '../support/history/projection.js';
import { runWorkload } from '../support/history/workload.js';
import { seededRandom } from '../support/realism.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb({ stream: true });
});

/**
 * An allocation view as text with sorted keys, without `createdBy`/`updatedBy` (an
 * entry's views leave them out: its `actor` says who): the same view, the same text.
 */
function canonical(value: unknown): string {
  const {
    createdBy: _created,
    updatedBy: _updated,
    ...view
  } = (value ?? {}) as Record<string, unknown>;
  return JSON.stringify(value === null ? null : view, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => a.localeCompare(b)))
      : inner,
  );
}

async function entriesOf(subnetId: string, ip: string): Promise<HistoryEntryView[]> {
  const entries: HistoryEntryView[] = [];
  let cursor: string | undefined;
  do {
    const page = await addressHistory(db.ctx, subnetId, parseIp(ip), {
      limit: 100,
      ...(cursor === undefined ? {} : { cursor }),
    });
    entries.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return entries;
}

/** `subnetId ip` of the address a call names or was answered with. */
function addressesOf(op: ApiOperation): string[] {
  const { input } = op;
  if (input.kind === 'allocate') {
    const answered = allocationViews(op.output).map((view) => `${input.subnetId} ${view.ip}`);
    return input.ip === undefined ? answered : [`${input.subnetId} ${input.ip}`, ...answered];
  }
  if (input.kind === 'release' || input.kind === 'update' || input.kind === 'get')
    return [`${input.subnetId} ${input.ip}`];
  return [];
}

describe('history of a recorded concurrent run', () => {
  it('has exactly one entry per committed change, none for refused calls, each by its caller', {
    timeout: 180_000,
  }, async () => {
    const hot = await createSubnet(db.ctx, { cidr: '10.42.0.0/28', space: 'replay' });
    const wide = await createSubnet(db.ctx, { cidr: '10.42.1.0/26', space: 'replay' });
    const recorder = new HistoryRecorder(db.ctx.now);
    recorder.track(hot);
    recorder.track(wide);
    const clients: RecordingClient[] = [];
    for (let i = 0; i < 6; i++) {
      const name = `c${i}`;
      const ctx = withWho(db.ctx, { actor: `actor-${name}`, requestId: `req-${name}` });
      clients.push(inProcessClient(recorder, name, new Allocator(ctx), ctx));
    }
    await runWorkload({
      subnets: [hot, wide].map((view) => ({ ...view, allocationPools: [...view.allocationPools] })),
      clients,
      finalReader: inProcessClient(recorder, 'final', new Allocator(db.ctx), db.ctx),
      operations: 25,
      random: seededRandom(16),
    });
    const report = recorder.check();
    expect(report.anomalies, describeAnomalies(report)).toEqual([]);
    await historyPoller(db).drain();

    const operations = recorder.operations;
    const committed = operations.filter((op) => op.output.status === 'ok');
    const maybe = operations.filter((op) => op.output.status === 'ambiguous');
    const addresses = new Set(operations.flatMap(addressesOf));
    const entries = (
      await Promise.all(
        [...addresses].map(async (address) => {
          const [subnetId, ip] = address.split(' ') as [string, string];
          return (await entriesOf(subnetId, ip)).map((entry) => ({ address, entry }));
        }),
      )
    ).flat();
    const actorOf = (op: ApiOperation) => `actor-${op.client}`;

    // ALLOCATED: one per allocation answered, its `after` that very view, by its caller;
    // an ambiguous allocate may have committed (its owner is its own), a refused one not.
    const allocatedViews = committed.flatMap((op) =>
      op.input.kind === 'allocate'
        ? allocationViews(op.output).map((view) => ({ view: canonical(view), actor: actorOf(op) }))
        : [],
    );
    const ambiguousOwners = new Map(
      maybe.flatMap((op) =>
        op.input.kind === 'allocate' && typeof op.input.owner === 'string'
          ? [[op.input.owner, actorOf(op)] as const]
          : [],
      ),
    );
    const allocated = entries.filter(({ entry }) => entry.action === 'ALLOCATED');
    const unmatched = [...allocatedViews];
    for (const { entry } of allocated) {
      const index = unmatched.findIndex((expected) => expected.view === canonical(entry.after));
      if (index >= 0) {
        expect(entry.actor).toBe(unmatched[index]?.actor);
        unmatched.splice(index, 1);
      } else {
        // Not an answered allocation: only an ambiguous call may have made it.
        expect(ambiguousOwners.get(entry.owner ?? ''), canonical(entry)).toBe(entry.actor);
      }
    }
    expect(unmatched, 'answered allocations without an ALLOCATED entry').toEqual([]);

    // UPDATED / RENEWED: each entry's `after` is a committed PATCH's answer, by its
    // caller; each committed PATCH's answer is some entry's `after` (a PATCH that
    // changed nothing makes none).
    const patchAnswers = committed.flatMap((op) =>
      op.input.kind === 'update'
        ? [
            {
              view: canonical(op.output.status === 'ok' ? op.output.value : null),
              actor: actorOf(op),
            },
          ]
        : [],
    );
    const ambiguousPatches = maybe.filter((op) => op.input.kind === 'update').length;
    const changes = entries.filter(({ entry }) => ['UPDATED', 'RENEWED'].includes(entry.action));
    let fromAmbiguous = 0;
    for (const { entry } of changes) {
      const matches = patchAnswers.filter((answer) => answer.view === canonical(entry.after));
      if (matches.length === 0) fromAmbiguous++;
      else expect(matches.map((match) => match.actor)).toContain(entry.actor);
    }
    expect(fromAmbiguous).toBeLessThanOrEqual(ambiguousPatches);
    const afters = new Set(entries.map(({ entry }) => canonical(entry.after)));
    for (const answer of patchAnswers) expect(afters.has(answer.view), answer.view).toBe(true);

    // RELEASED: per address, as many as committed releases (plus ambiguous ones that
    // may have committed), each by one of the callers that released it.
    for (const address of addresses) {
      const releases = committed.filter(
        (op) => op.input.kind === 'release' && addressesOf(op)[0] === address,
      );
      const maybeReleases = maybe.filter(
        (op) => op.input.kind === 'release' && addressesOf(op)[0] === address,
      );
      const released = entries.filter(
        (found) => found.address === address && found.entry.action === 'RELEASED',
      );
      expect(released.length, address).toBeGreaterThanOrEqual(releases.length);
      expect(released.length, address).toBeLessThanOrEqual(releases.length + maybeReleases.length);
      const releasers = new Set([...releases, ...maybeReleases].map(actorOf));
      for (const { entry } of released) expect(releasers, address).toContain(entry.actor);
    }

    // Nothing else, but the expiry of a lease (60 s and 120 s ones) that a slow run
    // outlived: the system's, dated at the expiry. The workload deletes no subnet.
    for (const { entry } of entries) {
      if (entry.action === 'EXPIRED') {
        expect(entry).toMatchObject({ actor: 'system', requestId: null });
        expect(entry.at).toBe((entry.before as { expiresAt: string }).expiresAt);
      } else {
        expect(['ALLOCATED', 'UPDATED', 'RENEWED', 'RELEASED']).toContain(entry.action);
        // Every change carries its caller's request id.
        expect(entry.requestId).toBe(entry.actor.replace('actor-', 'req-'));
      }
    }
    console.info(
      `replay: ${operations.length} calls (${committed.length} committed, ${maybe.length} ambiguous), ${entries.length} entries`,
    );
  });
});
