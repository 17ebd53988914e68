/**
 * A small model of the one-write allocation protocol (docs/one-write-allocation.md)
 * and an exhaustive search over every interleaving of its processes. Each step of a
 * process is one DynamoDB request, atomic as DynamoDB makes it (a single-item write,
 * a transaction, a strongly consistent read); the clock is a process too (`tick`), so
 * leases end between any two steps. The search runs every order of the steps and
 * checks the promises at every state:
 *
 * - `SUBNET_EXHAUSTED` is answered only while every address is held;
 * - no allocation is answered as made in a subnet that a delete has removed;
 * - once every process is done, an exact shard's free set lists every free address
 *   but the expired leases, and those only while `soon` has passed (so "full?" looks).
 *
 * `Variant` switches off parts of the protocol the page argues for, so a test can show
 * that the search finds what goes wrong without them.
 */

export type Mode = 'fast' | 'sealing' | 'exact' | 'closed';

export interface Variant {
  /** A fast allocation reads the counter after its Put and reconciles (Dekker). */
  readonly readAfter: boolean;
  /** The sealer fences (mode = sealing) before it reads the truth. */
  readonly fenceFirst: boolean;
  /**
   * A release is one transaction with the counter (a ConditionCheck that the shard is
   * fast, or ADD free :o). Off: a bare Delete, then the read and reconcile of a Put.
   */
  readonly releaseWithCounter: boolean;
  /** Writes that give an item a lease end lower the counter's `soon`. */
  readonly lowerSoon: boolean;
}

export const PROTOCOL: Variant = {
  readAfter: true,
  fenceFirst: true,
  releaseWithCounter: true,
  lowerSoon: true,
};

/** An address's allocation item: who holds it, and until when (null: no lease). */
interface Item {
  readonly holder: string;
  readonly freeAt: number | null;
}

/** One process: its kind, where it is, and what it remembers between steps. */
interface Proc {
  readonly kind: Spec['kind'];
  readonly id: string;
  /** The address it allocates or releases (-1 for the others). */
  readonly address: number;
  /** An allocation's lease, in ticks from its write (undefined: none). */
  readonly lease: number | undefined;
  pc: string;
  seen?: Mode;
  computed?: number[];
  computedSoon?: number | null;
  before?: Mode;
}

interface State {
  items: (Item | null)[];
  now: number;
  mode: Mode;
  free: number[];
  /** A lower bound of the lease ends in an exact shard (null: none). */
  soon: number | null;
  procs: Proc[];
  /** What processes answered: `<id>:<answer>` (reporting only). */
  answers: string[];
  deleted: boolean;
}

export type Spec =
  | {
      readonly kind: 'allocate';
      readonly id: string;
      readonly address: number;
      readonly lease?: number;
    }
  | { readonly kind: 'release'; readonly id: string; readonly address: number }
  | { readonly kind: 'seal' }
  | { readonly kind: 'unseal' }
  | { readonly kind: 'delete' }
  | { readonly kind: 'checkFull' }
  | { readonly kind: 'tick' };

export interface Scenario {
  /** Holders (or null), or items with a lease end. */
  readonly items: readonly (string | Item | null)[];
  readonly mode: Mode;
  readonly free?: readonly number[];
  readonly soon?: number;
  readonly procs: readonly Spec[];
}

export interface SearchResult {
  readonly states: number;
  /** The first broken promise found, with the answers given up to it. */
  readonly violation?: string;
}

const isFree = (s: State, a: number) => {
  const item = s.items[a];
  return item === null || item === undefined || (item.freeAt !== null && item.freeAt <= s.now);
};
const holds = (s: State, a: number, id: string) => s.items[a]?.holder === id && !isFree(s, a);
const addFree = (s: State, a: number) => {
  if (!s.free.includes(a)) s.free = [...s.free, a].sort();
};
const removeFree = (s: State, a: number) => {
  s.free = s.free.filter((x) => x !== a);
};
const lower = (soon: number | null, freeAt: number | null) =>
  freeAt === null ? soon : soon === null ? freeAt : Math.min(soon, freeAt);

/** Removes an item in one transaction with the counter: a release, or an undo. */
function removeWithCounter(s: State, a: number) {
  s.items[a] = null;
  if (s.mode !== 'fast') addFree(s, a);
}

/** Runs one step of process `p` in state `s` (mutates both; `s` is a copy). */
function step(s: State, p: Proc, v: Variant): string | undefined {
  const a = p.address;
  const answer = (what: string): undefined => {
    s.answers.push(`${p.id}:${what}`);
    p.pc = 'done';
    return undefined;
  };
  const write = () => {
    const freeAt = p.lease === undefined ? null : s.now + p.lease;
    s.items[a] = { holder: p.id, freeAt };
    return freeAt;
  };
  switch (p.kind) {
    case 'tick':
      s.now += 1;
      return answer('tick');
    case 'allocate':
      switch (p.pc) {
        case 'start': // The view it decides on: read now, used later (a cache).
          p.seen = s.mode;
          p.pc = p.seen === 'exact' ? 'exactWrite' : p.seen === 'closed' ? 'gone' : 'put';
          return;
        case 'gone':
          return answer('notFound');
        case 'put': // One conditional Put: no item, or one past its freeAt.
          if (!isFree(s, a)) return answer('taken');
          write();
          p.pc = v.readAfter ? 'readAfter' : 'answer';
          return;
        case 'readAfter': {
          const mode = s.mode;
          p.pc = mode === 'fast' ? 'answer' : mode === 'closed' ? 'undo' : 'reconcile';
          return;
        }
        case 'reconcile': // ConditionCheck (the item is mine) + DELETE free :o, lower soon.
          if (holds(s, a, p.id)) {
            removeFree(s, a);
            if (v.lowerSoon) s.soon = lower(s.soon, s.items[a]?.freeAt ?? null);
          }
          p.pc = 'answer';
          return;
        case 'undo': // The subnet is being deleted: take the write back, answer 404.
          // Shaped as a release: the shard may reopen into sealing or exact, whose
          // free set must then list the address.
          if (holds(s, a, p.id)) removeWithCounter(s, a);
          return answer('notFound');
        case 'answer':
          if (s.deleted) return `${p.id} answered an allocation in a deleted subnet`;
          return answer('ok');
        case 'exactWrite': {
          // Put + DELETE free :o (and soon lowered) on contains(free, :o) AND mode = exact.
          if (s.mode !== 'exact' || !s.free.includes(a)) return answer('retry');
          if (!isFree(s, a)) {
            removeFree(s, a); // A late fast write: the set listed a taken address.
            return answer('retry');
          }
          const freeAt = write();
          removeFree(s, a);
          if (v.lowerSoon) s.soon = lower(s.soon, freeAt);
          return answer('ok');
        }
      }
      return;
    case 'release':
      switch (p.pc) {
        case 'start':
          p.seen = s.mode;
          p.pc = v.releaseWithCounter ? 'release' : 'delete';
          return;
        case 'release': // Delete + (ConditionCheck mode = fast | ADD free :o, mode <> fast).
          if ((s.mode === 'fast') !== (p.seen === 'fast')) {
            p.pc = 'start'; // The condition failed: read the counter again.
            return;
          }
          if (!holds(s, a, p.id)) return answer('gone');
          removeWithCounter(s, a);
          return answer('ok');
        case 'delete': // A bare conditional Delete (the holder's)...
          if (!holds(s, a, p.id)) return answer('gone');
          s.items[a] = null;
          p.pc = 'readAfter';
          return;
        case 'readAfter': // ...then the counter, and a reconcile unless it is fast.
          if (s.mode === 'fast') return answer('ok');
          p.pc = 'reconcile';
          return;
        case 'reconcile': // ConditionCheck (no live item) + ADD free :o.
          if (isFree(s, a)) addFree(s, a);
          return answer('ok');
      }
      return;
    case 'seal':
      switch (p.pc) {
        case 'start':
          if (v.fenceFirst) {
            if (s.mode !== 'fast') return answer('skip');
            s.mode = 'sealing';
          }
          p.pc = 'query';
          return;
        case 'query': // Strongly consistent Query of the shard's allocation items.
          p.computed = s.items.flatMap((_, i) => (isFree(s, i) ? [i] : []));
          p.computedSoon = s.items.reduce<number | null>(
            (least, item, i) => (isFree(s, i) ? least : lower(least, item?.freeAt ?? null)),
            null,
          );
          p.pc = 'publish';
          return;
        case 'publish': {
          const from = v.fenceFirst ? 'sealing' : 'fast';
          if (s.mode !== from) return answer('skip');
          s.mode = 'exact';
          for (const i of p.computed ?? []) addFree(s, i);
          s.soon = lower(s.soon, p.computedSoon ?? null);
          return answer('sealed');
        }
      }
      return;
    case 'unseal': // Plenty free again: back to fast mode (on mode = exact), the set dropped.
      if (s.mode !== 'exact') return answer('skip');
      s.mode = 'fast';
      s.free = [];
      s.soon = null;
      return answer('unsealed');
    case 'delete':
      switch (p.pc) {
        case 'start': // The fence: close the counters first.
          p.before = s.mode;
          s.mode = 'closed';
          p.pc = 'query';
          return;
        case 'query':
          if (s.items.some((_, i) => !isFree(s, i))) {
            p.pc = 'reopen';
            return;
          }
          s.deleted = true;
          return answer('deleted');
        case 'reopen':
          s.mode = p.before ?? 'fast';
          return answer('inUse');
      }
      return;
    case 'checkFull': // A consistent counter read: full = exact, nothing free, soon ahead.
      if (s.mode === 'exact' && s.free.length === 0 && (s.soon === null || s.soon > s.now)) {
        const free = s.items.findIndex((_, i) => isFree(s, i));
        if (free >= 0) return `SUBNET_EXHAUSTED while address ${free} is free`;
        return answer('full');
      }
      return answer('notFull');
  }
  return;
}

/** The promise checked once every process is done. */
function finalCheck(s: State): string | undefined {
  if (s.mode === 'exact') {
    const soonPassed = s.soon !== null && s.soon <= s.now;
    const missed = s.items.findIndex(
      (item, i) => isFree(s, i) && !s.free.includes(i) && (item === null || !soonPassed),
    );
    if (missed >= 0) return `exact free set misses free address ${missed}`;
  }
  if (s.deleted && s.items.some((_, i) => !isFree(s, i)))
    return 'a deleted subnet still holds an allocation';
  return undefined;
}

/** Every interleaving of the scenario's processes, depth first, each state once. */
export function search(scenario: Scenario, variant: Variant = PROTOCOL): SearchResult {
  const start: State = {
    items: scenario.items.map((item) =>
      typeof item === 'string' ? { holder: item, freeAt: null } : item,
    ),
    now: 0,
    mode: scenario.mode,
    free: [...(scenario.free ?? [])],
    soon: scenario.soon ?? null,
    procs: scenario.procs.map((spec, i) => ({
      kind: spec.kind,
      id: 'id' in spec ? spec.id : `${spec.kind}${i}`,
      address: 'address' in spec ? spec.address : -1,
      lease: 'lease' in spec ? spec.lease : undefined,
      pc: 'start',
    })),
    answers: [],
    deleted: false,
  };
  const seen = new Set<string>();
  const stack: State[] = [start];
  while (stack.length > 0) {
    const s = stack.pop() as State;
    const key = keyOf(s);
    if (seen.has(key)) continue;
    seen.add(key);
    const runnable = s.procs.filter((p) => p.pc !== 'done');
    if (runnable.length === 0) {
      const broken = finalCheck(s);
      if (broken !== undefined)
        return { states: seen.size, violation: `${broken} (answers: ${s.answers.join(', ')})` };
      continue;
    }
    for (const p of runnable) {
      const next = copy(s);
      const broken = step(next, next.procs[s.procs.indexOf(p)] as Proc, variant);
      if (broken !== undefined)
        return { states: seen.size, violation: `${broken} (answers: ${s.answers.join(', ')})` };
      stack.push(next);
    }
  }
  return { states: seen.size };
}

/** What decides the future of a state (the answers only report the past). */
function keyOf(s: State): string {
  const items = s.items.map((item) => (item === null ? '-' : `${item.holder}@${item.freeAt}`));
  const procs = s.procs.map(
    (p) => `${p.pc}/${p.seen ?? ''}/${p.computed ?? ''}/${p.computedSoon ?? ''}/${p.before ?? ''}`,
  );
  return `${items.join()}|${s.now}|${s.mode}|${s.free.join()}|${s.soon}|${s.deleted}|${procs.join(';')}`;
}

function copy(s: State): State {
  return {
    ...s,
    items: [...s.items],
    free: [...s.free],
    procs: s.procs.map((p) => ({ ...p })),
    answers: [...s.answers],
  };
}
