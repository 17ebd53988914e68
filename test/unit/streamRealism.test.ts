/** The stream poller's delivery realism (local/streamRealism.ts), with a stand-in processor. */
import { describe, expect, it } from 'vitest';
import { StreamDelivery, type StreamRealism } from '../../local/streamRealism.js';
import type { ProcessResult, StreamRecordInput } from '../../shared/history/index.js';

/** `count` records over `items` partition keys, in stream order. */
function batch(count: number, items: number, from = 0): StreamRecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    eventName: 'MODIFY',
    dynamodb: {
      Keys: { pk: { S: `ITEM#${(from + i) % items}` }, sk: { S: 'X' } },
      SequenceNumber: String(from + i + 1),
    },
  }));
}

const seq = (record: StreamRecordInput) => Number(record.dynamodb?.SequenceNumber);
const pk = (record: StreamRecordInput) =>
  (record.dynamodb?.Keys as { pk?: { S?: string } } | undefined)?.pk?.S ?? '';

/** A processor that records each delivery and fails the records `failing` names. */
function recorder(failing: (record: StreamRecordInput) => boolean = () => false) {
  const deliveries: StreamRecordInput[][] = [];
  const process = async (records: readonly StreamRecordInput[]): Promise<ProcessResult> => {
    deliveries.push([...records]);
    await new Promise((resolve) => setImmediate(resolve));
    const failures = records
      .filter(failing)
      .map((record) => ({ sequenceNumber: record.dynamodb?.SequenceNumber, error: 'x' }));
    return {
      firstFailure: failures[0],
      failures,
      entriesWritten: records.length,
      eventsPublished: 0,
      capacity: { read: 0, write: records.length },
    };
  };
  return { deliveries, process };
}

async function run(options: StreamRealism, batches: StreamRecordInput[][]) {
  const delivery = new StreamDelivery(options);
  const { deliveries, process } = recorder();
  const outcomes = [];
  for (const records of batches) outcomes.push(await delivery.deliver(records, process));
  return { delivery, deliveries, outcomes };
}

describe('StreamDelivery', () => {
  it('hands every record over, again from earlier ones, one item in order in one lane', async () => {
    const batches = Array.from({ length: 30 }, (_, i) => batch(40, 7, i * 40));
    const { delivery, deliveries } = await run({ redeliver: 0.5, restarts: 0, seed: 3 }, batches);
    const times = new Map<number, number>();
    for (const part of deliveries) {
      for (const record of part) times.set(seq(record), (times.get(seq(record)) ?? 0) + 1);
      // Each delivery in stream order.
      expect(part.map(seq)).toEqual([...part.map(seq)].sort((a, b) => a - b));
    }
    expect(times.size).toBe(30 * 40);
    expect(Math.min(...times.values())).toBe(1);
    expect(Math.max(...times.values())).toBeGreaterThanOrEqual(2);
    expect(delivery.counters.redeliveries).toBeGreaterThan(10);
    expect(delivery.counters.delivered).toBe([...times.values()].reduce((a, b) => a + b, 0));
    // Per item: a record only once every earlier one of its item has been handed over
    // (in order, though again from earlier ones), and the last delivery reaches its end.
    const seen = new Map<string, number[]>();
    for (const part of deliveries) {
      for (const record of part)
        seen.set(pk(record), [...(seen.get(pk(record)) ?? []), seq(record)]);
    }
    for (const [item, order] of seen) {
      const mine = batches
        .flat()
        .filter((record) => pk(record) === item)
        .map(seq);
      order.forEach((value, at) => {
        const before = new Set(order.slice(0, at));
        for (const earlier of mine.filter((other) => other < value))
          expect(before.has(earlier), `${item} ${value} before ${earlier}`).toBe(true);
      });
      expect(order.at(-1)).toBe(mine.at(-1));
    }
    // Lanes at work: some deliveries hold a few items only.
    expect(deliveries.some((part) => new Set(part.map(pk)).size < 7)).toBe(true);
  });

  it('delivers each batch once, whole and as read, without redelivery or restarts', async () => {
    const batches = [batch(10, 1), batch(5, 1, 10)];
    const { deliveries, outcomes } = await run({ lanes: 1, seed: 1 }, batches);
    expect(deliveries).toEqual(batches);
    expect(outcomes.map((outcome) => outcome.restart)).toEqual([undefined, undefined]);
  });

  it('replays the same choices from the same seed', async () => {
    const batches = Array.from({ length: 10 }, (_, i) => batch(25, 5, i * 25));
    const options = { redeliver: 0.4, restarts: 0.2, seed: 11 };
    const byLane = (deliveries: StreamRecordInput[][]) =>
      deliveries.map((part) => `${pk(part[0] as StreamRecordInput)}:${part.map(seq)}`).sort();
    const first = await run(options, batches);
    const second = await run(options, batches);
    expect(byLane(second.deliveries)).toEqual(byLane(first.deliveries));
    expect(second.delivery.counters).toEqual(first.delivery.counters);
  });

  it('cuts a batch short on a restart, with a new subnet cache; some go back to the start', async () => {
    const delivery = new StreamDelivery({ restarts: 1, seed: 5 });
    const { deliveries, process } = recorder();
    const restarts = [];
    for (let i = 0; i < 40; i++) {
      const places = delivery.places;
      const records = batch(20, 4);
      const outcome = await delivery.deliver(records, process);
      restarts.push(outcome.restart);
      expect(delivery.places).not.toBe(places);
    }
    expect(restarts).not.toContain(undefined);
    expect(restarts).toContain('fromStart');
    expect(restarts.filter((restart) => restart === 'batch').length).toBeGreaterThan(20);
    // Only prefixes of each lane, once each.
    expect(deliveries.every((part) => part.length < 20)).toBe(true);
    expect(delivery.counters.restarts).toBe(40);
  });

  it('delivers each lane in batches on its own, never waiting for the other lanes', async () => {
    const delivery = new StreamDelivery({ lanes: 2, batchSize: 10, seed: 4 });
    const records = batch(60, 12);
    const done: StreamRecordInput[][] = [];
    let others = 0;
    let release: () => void = () => undefined;
    const othersDone = new Promise<void>((resolve) => {
      release = resolve;
    });
    let first: StreamRecordInput[] | undefined;
    let heldAt = -1;
    const process = async (part: readonly StreamRecordInput[]): Promise<ProcessResult> => {
      if (first === undefined) {
        // The first delivery of one lane is held until the other lane has delivered
        // twice: with lanes that waited for each other batch by batch, it never would.
        first = [...part];
        await othersDone;
        heldAt = done.length;
      } else if (!part.some((record) => first?.some((mine) => pk(mine) === pk(record)))) {
        if (++others === 2) release();
      }
      done.push([...part]);
      return {
        firstFailure: undefined,
        failures: [],
        entriesWritten: part.length,
        eventsPublished: 0,
        capacity: { read: 0, write: 0 },
      };
    };
    const outcome = await delivery.deliver(records, process);
    expect(outcome.restart).toBeUndefined();
    expect(done.every((part) => part.length <= 10)).toBe(true);
    expect(
      done
        .flat()
        .map(seq)
        .sort((a, b) => a - b),
    ).toEqual(records.map(seq));
    // Later records of the other lane were processed before the held ones: they overtook.
    const overtaking = done.slice(0, heldAt).flat().map(seq);
    expect(overtaking.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...overtaking)).toBeGreaterThan(Math.min(...(first ?? []).map(seq)));
  });

  it('cuts a read at a batch on a restart: the batches before in full, a prefix of that one, none after', async () => {
    const delivery = new StreamDelivery({ restarts: 0.3, batchSize: 10, seed: 9 });
    let cutInside = 0;
    for (let read = 0; read < 20; read++) {
      const records = batch(50, 9, read * 50);
      const { deliveries, process } = recorder();
      const outcome = await delivery.deliver(records, process);
      const got = new Set(deliveries.flat().map(seq));
      if (outcome.restart === undefined) {
        expect(outcome.restartAt).toBe(50);
        expect(got.size).toBe(50);
        continue;
      }
      const at = outcome.restartAt;
      expect(at % 10).toBe(0);
      if (at > 0) cutInside++;
      // Before the cut: every record; after the batch at the cut: none.
      for (const record of records.slice(0, at)) expect(got.has(seq(record))).toBe(true);
      for (const record of records.slice(at + 10)) expect(got.has(seq(record))).toBe(false);
      // In the batch at the cut: per item, a prefix of its records there.
      const cut = records.slice(at, at + 10);
      for (const item of new Set(cut.map(pk))) {
        const mine = cut.filter((record) => pk(record) === item).map((r) => got.has(seq(r)));
        expect(mine.indexOf(false) < 0 || !mine.slice(mine.indexOf(false)).includes(true)).toBe(
          true,
        );
      }
    }
    expect(cutInside).toBeGreaterThan(0);
    expect(delivery.counters.restarts).toBeGreaterThan(cutInside - 1);
  });

  it('goes back to TRIM_HORIZON at most fromStartAtMost times', async () => {
    const delivery = new StreamDelivery({ restarts: 1, fromStartAtMost: 1, seed: 5 });
    const { process } = recorder();
    const restarts = [];
    for (let i = 0; i < 40; i++)
      restarts.push((await delivery.deliver(batch(20, 4), process)).restart);
    expect(restarts.filter((restart) => restart === 'fromStart')).toHaveLength(1);
    expect(delivery.counters).toMatchObject({ restarts: 40, fromStart: 1 });
  });

  it("reports the batch's earliest failure, whichever lane met it first", async () => {
    const delivery = new StreamDelivery({ lanes: 4, delayMs: 5, seed: 2 });
    const records = batch(40, 8);
    const { process } = recorder((record) => seq(record) === 9 || seq(record) === 30);
    const outcome = await delivery.deliver(records, process);
    expect(outcome.firstFailure?.sequenceNumber).toBe('9');
    expect(outcome.failures.map((failure) => failure.sequenceNumber)).toEqual(['9', '30']);
    expect(outcome.entriesWritten).toBe(40);
  });
});
