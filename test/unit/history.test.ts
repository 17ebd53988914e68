/**
 * The history checker against hand-written histories: linearizable ones it must
 * accept and non-linearizable ones it must reject, including the classic concurrent
 * cases (overlapping writes, stale reads, ambiguous writes, lease expiry).
 */
import { describe, expect, it } from 'vitest';
import {
  type ApiInput,
  type ApiOperation,
  checkHistory,
  checkLinearizable,
  describeAnomalies,
  type Model,
  type Outcome,
  type SubnetStart,
} from '../support/history/index.js';

const SUBNET: SubnetStart = {
  id: 'sub_a',
  cidr: '10.0.0.0/29',
  gatewayIp: '10.0.0.1',
  allocationPools: [{ start: '10.0.0.2', end: '10.0.0.6' }],
};
/** Wall clock of the history's start (ms since the epoch). */
const T0 = Date.parse('2026-12-01T00:00:00.000Z');

type In = ApiInput extends infer T ? (T extends unknown ? Omit<T, 'subnetId'> : never) : never;

/** Builds a history from [client, input, output, call, return] rows (return `null`: ambiguous). */
function history(rows: [string, In, Outcome, number, number | null][]): ApiOperation[] {
  return rows.map(([client, input, output, call, ret], id) => ({
    id,
    client,
    input: { ...input, subnetId: SUBNET.id } as ApiInput,
    output,
    call,
    return: ret === null ? Number.POSITIVE_INFINITY : ret,
    wallCall: T0 + call,
    wallReturn: ret === null ? T0 + call : T0 + ret,
  }));
}

const view = (
  ip: string,
  owner: string | null,
  extra: { expiresAt?: string; tags?: Record<string, string> } = {},
) => ({
  subnetId: SUBNET.id,
  ip,
  owner,
  description: null,
  tags: extra.tags ?? {},
  macAddress: null,
  createdAt: new Date(T0).toISOString(),
  expiresAt: extra.expiresAt ?? null,
});
const ok = (value?: unknown): Outcome => ({ status: 'ok', value });
const err = (code: string, details: Record<string, unknown> = {}): Outcome => ({
  status: 'error',
  code,
  details,
});
const unknown: Outcome = { status: 'ambiguous', reason: 'timeout' };
const X = '10.0.0.5';

function verdict(rows: [string, In, Outcome, number, number | null][], subnets = [SUBNET]) {
  const report = checkHistory(history(rows), subnets);
  return { ok: report.anomalies.length === 0, report, text: describeAnomalies(report) };
}

describe('the generic Wing–Gong search', () => {
  // A register: write(v) / read → v.
  type RIn = { op: 'w' | 'r'; v: number };
  const register: Model<number, RIn, number> = {
    key: (s) => String(s),
    step: (s, input, output) =>
      input.op === 'w'
        ? { ok: true, states: [input.v] }
        : output === s
          ? { ok: true, states: [s] }
          : { ok: false, reason: `read ${output}, register holds ${s}` },
  };
  const op = (id: number, input: RIn, output: number, call: number, ret: number) => ({
    id,
    client: `c${id}`,
    input,
    output,
    call,
    return: ret,
  });

  it('accepts a read concurrent with a write that sees either value', () => {
    const ops = [
      op(0, { op: 'w', v: 1 }, 0, 0, 10),
      op(1, { op: 'r', v: 0 }, 0, 1, 2),
      op(2, { op: 'r', v: 0 }, 1, 3, 4),
    ];
    expect(checkLinearizable(register, 0, ops).verdict).toBe('linearizable');
  });

  it('rejects a read that goes back in time (new value, then old)', () => {
    const ops = [
      op(0, { op: 'w', v: 1 }, 0, 0, 10),
      op(1, { op: 'r', v: 0 }, 1, 1, 2),
      op(2, { op: 'r', v: 0 }, 0, 3, 4),
    ];
    expect(checkLinearizable(register, 0, ops).verdict).toBe('illegal');
  });

  it('gives up (unknown) past its step budget rather than guessing', () => {
    const ops = Array.from({ length: 12 }, (_, i) => op(i, { op: 'w', v: i }, 0, 0, 100));
    ops.push(op(12, { op: 'r', v: 0 }, 99, 101, 102));
    expect(checkLinearizable(register, 0, ops, { maxSteps: 50 }).verdict).toBe('unknown');
    expect(checkLinearizable(register, 0, ops).verdict).toBe('illegal');
  });
});

describe('checkHistory: allocations of one address', () => {
  it('accepts allocate, read, guarded release, read in sequence', () => {
    const result = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      ['b', { kind: 'get', ip: X }, ok(view(X, 'alice')), 2, 3],
      ['a', { kind: 'release', ip: X, owner: 'alice' }, ok(), 4, 5],
      ['b', { kind: 'get', ip: X }, err('ALLOCATION_NOT_FOUND'), 6, 7],
    ]);
    expect(result.ok, result.text).toBe(true);
  });

  it('rejects two overlapping allocations of one address that both succeed', () => {
    const result = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 10],
      ['b', { kind: 'allocate', ip: X, owner: 'bob' }, ok([view(X, 'bob')]), 1, 9],
    ]);
    expect(result.ok).toBe(false);
    expect(result.report.anomalies[0]?.kind).toBe('not-linearizable');
  });

  it('accepts one winner and a 409 that names it; rejects a 409 that names someone else', () => {
    const winner = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 10],
      [
        'b',
        { kind: 'allocate', ip: X, owner: 'bob' },
        err('IP_ALREADY_ALLOCATED', { ip: X, owner: 'alice' }),
        1,
        9,
      ],
    ]);
    expect(winner.ok, winner.text).toBe(true);
    const wrongOwner = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 10],
      [
        'b',
        { kind: 'allocate', ip: X, owner: 'bob' },
        err('IP_ALREADY_ALLOCATED', { ip: X, owner: 'carol' }),
        1,
        9,
      ],
    ]);
    expect(wrongOwner.ok).toBe(false);
  });

  it("rejects issue 14's race: a guarded release and an owner PATCH both succeed", () => {
    const result = verdict([
      ['setup', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      ['r', { kind: 'release', ip: X, owner: 'alice' }, ok(), 2, 6],
      ['p', { kind: 'update', ip: X, patch: { owner: 'bob' } }, ok(view(X, 'bob')), 2, 6],
      ['check', { kind: 'get', ip: X }, err('ALLOCATION_NOT_FOUND'), 7, 8],
    ]);
    expect(result.ok).toBe(false);
    expect(result.text).toMatch(
      /release \?owner=alice succeeded while held by "bob"|PATCH succeeded while free/,
    );
  });

  it('accepts the outcomes of that race that some order explains', () => {
    // PATCH first: the guarded release sees bob.
    const patchFirst = verdict([
      ['setup', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      [
        'r',
        { kind: 'release', ip: X, owner: 'alice' },
        err('OWNER_MISMATCH', { ip: X, expectedOwner: 'alice', owner: 'bob' }),
        2,
        6,
      ],
      ['p', { kind: 'update', ip: X, patch: { owner: 'bob' } }, ok(view(X, 'bob')), 2, 6],
      ['check', { kind: 'get', ip: X }, ok(view(X, 'bob')), 7, 8],
    ]);
    expect(patchFirst.ok, patchFirst.text).toBe(true);
    // Release first: the PATCH finds nothing.
    const releaseFirst = verdict([
      ['setup', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      ['r', { kind: 'release', ip: X, owner: 'alice' }, ok(), 2, 6],
      ['p', { kind: 'update', ip: X, patch: { owner: 'bob' } }, err('ALLOCATION_NOT_FOUND'), 2, 6],
      ['check', { kind: 'get', ip: X }, err('ALLOCATION_NOT_FOUND'), 7, 8],
    ]);
    expect(releaseFirst.ok, releaseFirst.text).toBe(true);
  });

  it('rejects a stale read after the release returned; accepts one overlapping it', () => {
    const stale = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      ['a', { kind: 'release', ip: X }, ok(), 2, 3],
      ['b', { kind: 'get', ip: X }, ok(view(X, 'alice')), 4, 5],
    ]);
    expect(stale.ok).toBe(false);
    const overlapping = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      ['a', { kind: 'release', ip: X }, ok(), 2, 5],
      ['b', { kind: 'get', ip: X }, ok(view(X, 'alice')), 3, 4],
    ]);
    expect(overlapping.ok, overlapping.text).toBe(true);
  });

  it('lets an ambiguous allocation have happened, late, or not at all', () => {
    const late = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, unknown, 0, null],
      ['b', { kind: 'get', ip: X }, err('ALLOCATION_NOT_FOUND'), 5, 6],
      ['b', { kind: 'get', ip: X }, ok(view(X, 'alice')), 7, 8],
    ]);
    expect(late.ok, late.text).toBe(true);
    const never = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, unknown, 0, null],
      ['b', { kind: 'allocate', ip: X, owner: 'bob' }, ok([view(X, 'bob')]), 5, 6],
    ]);
    expect(never.ok, never.text).toBe(true);
    // But it cannot explain an owner it did not ask for.
    const impossible = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, unknown, 0, null],
      ['b', { kind: 'get', ip: X }, ok(view(X, 'carol')), 5, 6],
    ]);
    expect(impossible.ok).toBe(false);
  });

  it('places an ambiguous random allocation on the address where its owner shows up', () => {
    const result = verdict([
      ['a', { kind: 'allocate', owner: 'alice-1' }, unknown, 0, null],
      [
        'b',
        { kind: 'allocate', ip: X, owner: 'bob' },
        err('IP_ALREADY_ALLOCATED', { ip: X, owner: 'alice-1' }),
        5,
        6,
      ],
    ]);
    expect(result.ok, result.text).toBe(true);
  });

  it('treats a lease as free from its expiry, and never earlier', () => {
    const expiresAt = new Date(T0 + 60_000).toISOString();
    const reused = verdict([
      [
        'a',
        { kind: 'allocate', ip: X, owner: 'alice', ttlSeconds: 60 },
        ok([view(X, 'alice', { expiresAt })]),
        0,
        1,
      ],
      ['b', { kind: 'allocate', ip: X, owner: 'bob' }, ok([view(X, 'bob')]), 60_500, 60_600],
    ]);
    expect(reused.ok, reused.text).toBe(true);
    const early = verdict([
      [
        'a',
        { kind: 'allocate', ip: X, owner: 'alice', ttlSeconds: 60 },
        ok([view(X, 'alice', { expiresAt })]),
        0,
        1,
      ],
      ['b', { kind: 'allocate', ip: X, owner: 'bob' }, ok([view(X, 'bob')]), 30_000, 30_100],
    ]);
    expect(early.ok).toBe(false);
    const readAfterExpiry = verdict([
      [
        'a',
        { kind: 'allocate', ip: X, owner: 'alice', ttlSeconds: 60 },
        ok([view(X, 'alice', { expiresAt })]),
        0,
        1,
      ],
      ['b', { kind: 'get', ip: X }, ok(view(X, 'alice', { expiresAt })), 61_000, 61_100],
    ]);
    expect(readAfterExpiry.ok).toBe(false);
  });

  it('checks that a PATCH answers the state it made, and a renewal a plausible expiry', () => {
    const good = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      [
        'a',
        { kind: 'update', ip: X, patch: { tags: { k: 'v' }, ttlSeconds: 120 } },
        ok(view(X, 'alice', { tags: { k: 'v' }, expiresAt: new Date(T0 + 122_000).toISOString() })),
        2000,
        2100,
      ],
    ]);
    expect(good.ok, good.text).toBe(true);
    const lostTags = verdict([
      [
        'a',
        { kind: 'allocate', ip: X, owner: 'alice', tags: { k: 'v' } },
        ok([view(X, 'alice', { tags: { k: 'v' } })]),
        0,
        1,
      ],
      ['b', { kind: 'update', ip: X, patch: { owner: 'bob' } }, ok(view(X, 'bob')), 2, 3],
    ]);
    expect(lostTags.ok).toBe(false);
  });
});

describe('checkHistory: subnet operations and cross-address claims', () => {
  it('rejects a picked address that is the gateway or outside the pools', () => {
    expect(
      verdict([['a', { kind: 'allocate', owner: 'a' }, ok([view('10.0.0.1', 'a')]), 0, 1]]).ok,
    ).toBe(false);
    const narrowed = { ...SUBNET, allocationPools: [{ start: '10.0.0.2', end: '10.0.0.3' }] };
    expect(
      verdict([['a', { kind: 'allocate', owner: 'a' }, ok([view(X, 'a')]), 0, 1]], [narrowed]).ok,
    ).toBe(false);
    expect(
      verdict(
        [['a', { kind: 'allocate', ip: X, owner: 'a' }, ok([view(X, 'a')]), 0, 1]],
        [narrowed],
      ).ok,
    ).toBe(true);
  });

  it('rejects a gateway moved onto a held address; accepts it onto a free one', () => {
    const held = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      [
        's',
        { kind: 'updateSubnet', patch: { gatewayIp: X } },
        ok({ ...SUBNET, gatewayIp: X }),
        2,
        3,
      ],
    ]);
    expect(held.ok).toBe(false);
    const free = verdict([
      [
        's',
        {
          kind: 'updateSubnet',
          patch: { gatewayIp: X, allocationPools: [{ start: '10.0.0.2', end: '10.0.0.4' }] },
        },
        ok({ ...SUBNET, gatewayIp: X, allocationPools: [{ start: '10.0.0.2', end: '10.0.0.4' }] }),
        0,
        1,
      ],
      [
        'a',
        { kind: 'allocate', ip: X, owner: 'alice' },
        err('IP_RESERVED', { reason: 'GATEWAY' }),
        2,
        3,
      ],
      [
        'a',
        { kind: 'allocate', ip: '10.0.0.1', owner: 'alice' },
        ok([view('10.0.0.1', 'alice')]),
        4,
        5,
      ],
    ]);
    expect(free.ok, free.text).toBe(true);
  });

  it('rejects a subnet delete while an address is held, and anything but 404 after it', () => {
    const inUse = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      ['s', { kind: 'deleteSubnet' }, ok(), 2, 3],
    ]);
    expect(inUse.ok).toBe(false);
    const afterwards = verdict([
      ['a', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      ['a', { kind: 'release', ip: X }, ok(), 2, 3],
      ['s', { kind: 'deleteSubnet' }, ok(), 4, 5],
      ['b', { kind: 'get', ip: X }, err('SUBNET_NOT_FOUND'), 6, 7],
    ]);
    expect(afterwards.ok, afterwards.text).toBe(true);
    const resurrected = verdict([
      ['s', { kind: 'deleteSubnet' }, ok(), 0, 1],
      ['b', { kind: 'allocate', ip: X, owner: 'bob' }, ok([view(X, 'bob')]), 2, 3],
    ]);
    expect(resurrected.ok).toBe(false);
  });

  it('flags SUBNET_EXHAUSTED while pool addresses were surely free; accepts it when full', () => {
    const falseFull = verdict([
      ['a', { kind: 'allocate', owner: 'a' }, ok([view('10.0.0.2', 'a')]), 0, 1],
      [
        'b',
        { kind: 'allocate', owner: 'b' },
        err('SUBNET_EXHAUSTED', { total: 5, allocated: 5, requested: 1 }),
        2,
        3,
      ],
    ]);
    expect(falseFull.report.anomalies.map((a) => a.kind)).toEqual(['exhausted-while-free']);
    const full = verdict([
      [
        'a',
        { kind: 'allocate', owner: 'a', count: 5 },
        ok(['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'].map((ip) => view(ip, 'a'))),
        0,
        1,
      ],
      [
        'b',
        { kind: 'allocate', owner: 'b' },
        err('SUBNET_EXHAUSTED', { total: 5, allocated: 5, requested: 1 }),
        2,
        3,
      ],
    ]);
    expect(full.ok, full.text).toBe(true);
  });

  it('flags a count answer that is not all of what was asked', () => {
    const result = verdict([
      [
        'a',
        { kind: 'allocate', owner: 'a', count: 3 },
        ok([view('10.0.0.2', 'a'), view('10.0.0.2', 'a'), view('10.0.0.3', 'a')]),
        0,
        1,
      ],
    ]);
    expect(result.report.anomalies.map((a) => a.kind)).toContain('all-or-nothing');
  });

  it('reports a short counter-example: the shortest failing prefix, with the reason', () => {
    const rows: [string, In, Outcome, number, number | null][] = [
      ['setup', { kind: 'allocate', ip: X, owner: 'alice' }, ok([view(X, 'alice')]), 0, 1],
      ['r', { kind: 'release', ip: X, owner: 'alice' }, ok(), 2, 6],
      ['p', { kind: 'update', ip: X, patch: { owner: 'bob' } }, ok(view(X, 'bob')), 3, 7],
    ];
    for (let i = 0; i < 20; i++)
      rows.push(['g', { kind: 'get', ip: X }, err('ALLOCATION_NOT_FOUND'), 10 + 2 * i, 11 + 2 * i]);
    const result = verdict(rows);
    const anomaly = result.report.anomalies[0];
    expect(anomaly?.kind).toBe('not-linearizable');
    // The cut falls at the first call after the PATCH answered: setup, release, PATCH, one read.
    expect(anomaly?.operations.length).toBe(4);
    expect(result.text).toContain('#2 p');
  });
});
