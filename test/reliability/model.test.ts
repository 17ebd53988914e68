/**
 * Model test: random sequences of subnet create/delete, allocate (specific,
 * sequential, random, count, leased), release, renew and clock moves run against
 * the real DynamoDB Local and against a plain in-memory model; every step must
 * agree (result or error code, addresses, usage).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { IpamError } from '../../shared/errors.js';
import { onSubnetDeleted } from '../../shared/pools/index.js';
import { createSubnet, deleteSubnet, getSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, type TestDb } from '../support/dynamo.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});

/** 10.9.<n>.0/29: network .0, gateway .1, pool .2–.6, broadcast .7. */
const POOL = [2, 3, 4, 5, 6];
const ip = (subnet: number, host: number) => `10.9.${subnet}.${host}`;
/** How long past a lease's end the model stays clear of it, and how far before. */
const LAPSE_MS = 3_000;
const AHEAD_MS = 10_000;

interface ModelSubnet {
  id: string;
  /** host → lease expiry (ms) or null; an expired entry is free (and uncounted) at once. */
  held: Map<number, number | null>;
}

type Step =
  | { kind: 'create'; subnet: number }
  | { kind: 'delete'; subnet: number }
  | { kind: 'specific'; subnet: number; host: number; ttl: boolean }
  | { kind: 'sequential'; subnet: number }
  | { kind: 'random'; subnet: number; count: number }
  | { kind: 'release'; subnet: number; host: number }
  | { kind: 'renew'; subnet: number; host: number }
  | { kind: 'advance'; seconds: number };

const subnetArb = fc.integer({ min: 0, max: 2 });
const hostArb = fc.integer({ min: 0, max: 7 });
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: subnetArb.map((subnet) => ({ kind: 'create' as const, subnet })) },
  { weight: 1, arbitrary: subnetArb.map((subnet) => ({ kind: 'delete' as const, subnet })) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('specific' as const),
      subnet: subnetArb,
      host: hostArb,
      ttl: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: subnetArb.map((subnet) => ({ kind: 'sequential' as const, subnet })) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('random' as const),
      subnet: subnetArb,
      count: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      subnet: subnetArb,
      host: hostArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('renew' as const), subnet: subnetArb, host: hostArb }),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: 200 })
      .map((seconds) => ({ kind: 'advance' as const, seconds })),
  },
);

async function outcome<T>(run: () => Promise<T>): Promise<{ ok: T } | { code: string }> {
  try {
    return { ok: await run() };
  } catch (error) {
    if (error instanceof IpamError) return { code: error.code };
    throw error;
  }
}

describe('allocator against an in-memory model', () => {
  it('agrees at every step of random operation sequences', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 25 }), async (steps) => {
        run++;
        const space = `model-${run}-${Date.now()}`;
        const allocator = new TextAllocator(db.ctx, { cacheMs: 0 });
        const model = new Map<number, ModelSubnet>();
        let clockShift = 0;
        const now = () => db.ctx.now();
        const live = (entry: number | null | undefined) =>
          entry !== undefined && (entry === null || entry > now());
        const leaseEnds = () =>
          [...model.values()].flatMap((entry) =>
            [...entry.held.values()].filter((end): end is number => end !== null),
          );
        try {
          for (const step of steps) {
            const subnet = 'subnet' in step ? model.get(step.subnet) : undefined;
            const label = JSON.stringify(step);
            switch (step.kind) {
              case 'create': {
                const result = await outcome(() =>
                  createSubnet(db.ctx, { cidr: `10.9.${step.subnet}.0/29`, space }),
                );
                if (subnet === undefined) {
                  expect('ok' in result, label).toBe(true);
                  if ('ok' in result) model.set(step.subnet, { id: result.ok.id, held: new Map() });
                } else {
                  expect(result, label).toEqual({ code: 'SUBNET_OVERLAP' });
                }
                break;
              }
              case 'delete': {
                if (subnet === undefined) break;
                const result = await outcome(() =>
                  deleteSubnet(db.ctx, subnet.id, onSubnetDeleted),
                );
                if ([...subnet.held.values()].some(live))
                  expect(result, label).toEqual({ code: 'SUBNET_IN_USE' });
                else {
                  expect('ok' in result, label).toBe(true);
                  model.delete(step.subnet);
                }
                break;
              }
              case 'specific': {
                if (subnet === undefined) break;
                const ttlSeconds = step.ttl ? 60 : undefined;
                const result = await outcome(() =>
                  allocator.allocate(subnet.id, {
                    ip: ip(step.subnet, step.host),
                    ...(ttlSeconds ? { ttlSeconds } : {}),
                  }),
                );
                const expected =
                  step.host === 0 || step.host === 7
                    ? 'IP_NOT_IN_SUBNET'
                    : step.host === 1
                      ? 'IP_RESERVED'
                      : live(subnet.held.get(step.host))
                        ? 'IP_ALREADY_ALLOCATED'
                        : undefined;
                if (expected !== undefined) expect(result, label).toEqual({ code: expected });
                else {
                  expect('ok' in result, label).toBe(true);
                  subnet.held.set(step.host, ttlSeconds ? now() + ttlSeconds * 1000 : null);
                }
                break;
              }
              case 'sequential': {
                if (subnet === undefined) break;
                const result = await outcome(() =>
                  allocator.allocate(subnet.id, { strategy: 'sequential' }),
                );
                const lowest = POOL.find((host) => !live(subnet.held.get(host)));
                if (lowest === undefined)
                  expect(result, label).toEqual({ code: 'SUBNET_EXHAUSTED' });
                else {
                  expect(result, label).toMatchObject({ ok: [{ ip: ip(step.subnet, lowest) }] });
                  subnet.held.set(lowest, null);
                }
                break;
              }
              case 'random': {
                if (subnet === undefined) break;
                const result = await outcome(() =>
                  allocator.allocate(subnet.id, { count: step.count }),
                );
                const free = POOL.filter((host) => !live(subnet.held.get(host)));
                if (free.length < step.count)
                  expect(result, label).toEqual({ code: 'SUBNET_EXHAUSTED' });
                else {
                  expect('ok' in result, label).toBe(true);
                  if (!('ok' in result)) break;
                  const hosts = result.ok.map((allocation) => Number(allocation.ip.split('.')[3]));
                  expect(new Set(hosts).size, label).toBe(step.count);
                  for (const host of hosts) {
                    expect(free, label).toContain(host);
                    subnet.held.set(host, null);
                  }
                }
                break;
              }
              case 'release': {
                if (subnet === undefined) break;
                const result = await outcome(() =>
                  allocator.release(subnet.id, ip(step.subnet, step.host)),
                );
                if (live(subnet.held.get(step.host))) {
                  expect('ok' in result, label).toBe(true);
                  subnet.held.delete(step.host);
                } else expect(result, label).toEqual({ code: 'ALLOCATION_NOT_FOUND' });
                break;
              }
              case 'renew': {
                if (subnet === undefined) break;
                const result = await outcome(() =>
                  allocator.update(subnet.id, ip(step.subnet, step.host), { ttlSeconds: 120 }),
                );
                if (live(subnet.held.get(step.host))) {
                  expect('ok' in result, label).toBe(true);
                  subnet.held.set(step.host, now() + 120_000);
                } else expect(result, label).toEqual({ code: 'ALLOCATION_NOT_FOUND' });
                break;
              }
              case 'advance': {
                // A lease that ended without a cool-down is taken over only after the
                // takeover margin, counted in DynamoDB's whole TTL seconds (up to ~2.5 s
                // past its end: subnets/holding.ts). The model has no such
                // window, so a move never lands near an end, nor just before one that
                // the next steps' own run time could cross.
                let shift = step.seconds * 1000;
                for (const ends = leaseEnds(); ; ) {
                  const at = now() + shift;
                  const near = ends.find((end) => end > at - LAPSE_MS && end < at + AHEAD_MS);
                  if (near === undefined) break;
                  shift = near + LAPSE_MS - now();
                }
                db.advance(shift);
                clockShift += shift;
                break;
              }
            }
            // Usage counts the live entries: an expired lease is free at once, swept or not.
            for (const [number, entry] of model) {
              const usage = (await getSubnet(db.ctx, entry.id)).usage;
              expect(usage.allocated, `${label} usage of subnet ${number}`).toBe(
                [...entry.held.values()].filter(live).length,
              );
            }
          }
        } finally {
          db.advance(-clockShift);
        }
      }),
      { numRuns: Number(process.env.IPAM_MODEL_RUNS ?? 25) },
    );
  });
});
