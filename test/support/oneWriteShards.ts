/**
 * A second, smaller model of the one-write protocol (docs/one-write-allocation.md):
 * a subnet of TWO shards, each with its own counter (mode, free set, seal epoch,
 * closer) and its own addresses, and an exhaustive search over every interleaving.
 * What it adds to the one-shard model (oneWriteModel.ts) is what only several shards
 * have: a `count` request for one address in each shard, written as ONE
 * TransactWriteItems, and a "full?" that reads the counters one by one.
 *
 * Left out, because the one-shard model checks them per shard and nothing here
 * crosses shards: leases, the clock and `soon`, cool-downs, the gateway, the
 * stability window, the exact write's fix-up of a late fast Put.
 *
 * Every step is one DynamoDB request, atomic as DynamoDB makes it; a delete fences
 * and queries the shards one by one, and a recount queries them one by one. The
 * promises checked at every state:
 *
 * - all or nothing, as readers see it: a reader shows an address held by a request
 *   only if that request never answers that it was not made (`retry`, `notFound`); a
 *   request answered as made holds every one of its addresses when it answers; once a
 *   reader has shown one of a request's items held, no later reader shows an item of
 *   that request free, or its subnet gone, while the item is live;
 * - no request is answered as made in a deleted subnet, or with an item that the
 *   rules forbade at every moment since it was written;
 * - `SUBNET_EXHAUSTED` is answered only if, at some moment between the call and its
 *   answer, every address of the pools was held (linearizable: an answer no moment of
 *   the call explains is wrong, even if each counter it read was right when read);
 * - at the end, an exact shard's free set lists every free address of its shard, and
 *   no subnet that was not deleted is left closed.
 */
import type { Mode } from './oneWriteModel.js';

export interface ShardsVariant {
  /**
   * Which counters a count request reads after its transaction commits:
   * - `everyFast`: every shard it saw fast (the page's sketch);
   * - `one`: one shard's (the first), and none if the transaction wrote an exact shard's
   *   counter (its conditions on `mode = exact AND pv = :pv` read that counter
   *   atomically with the Puts). Every change that forbids a Put is subnet-wide: a
   *   PATCH writes every counter in one transaction, a delete fences every counter
   *   before it queries any shard;
   * - `none`: no read after (the reviewer's sketch: the negative control).
   */
  readonly readAfter: 'everyFast' | 'one' | 'none';
  /**
   * A reader judges an item of a multi-address request by its siblings too: the item
   * lists its request's addresses (`group`); under an older `pv`, if the current rules
   * forbid a sibling, the reader waits for the recount and shows the item only if that
   * sibling is stamped (the change kept the whole request). Off: each item alone (the
   * page's per-item rule).
   */
  readonly readerChecksGroup: boolean;
  /**
   * How "full?" reads the subnet and every counter:
   * - `transact`: one TransactGetItems (atomic, ≤ 100 items: 64 counters and the subnet);
   * - `batch`: one BatchGetItem, which reads each item apart (the subnet, counter 0, 1);
   * - `twice`: a BatchGetItem of the counters twice over, full only if both say so (a
   *   double collect without versions: the page's other candidate fix).
   */
  readonly fullRead: 'transact' | 'batch' | 'twice';
}

export const SHARDS_PROTOCOL: ShardsVariant = {
  readAfter: 'one',
  readerChecksGroup: true,
  fullRead: 'transact',
};

/** The page as written: a read after per fast shard, per-item readers, BatchGetItem. */
export const SHARDS_AS_PAGE: ShardsVariant = {
  readAfter: 'everyFast',
  readerChecksGroup: false,
  fullRead: 'batch',
};

const BLOCKED = Symbol('blocked');

/** An address: its shard and its offset there. */
export type Addr = readonly [shard: number, offset: number];

interface Config {
  readonly pv: number;
  /** The pool offsets of each shard. */
  readonly pools: readonly (readonly number[])[];
}

interface Item {
  readonly holder: string;
  /** The `pv` it was written under. */
  readonly pv: number;
  /** Its request's addresses, itself included. */
  readonly group: readonly Addr[];
  /** The `pv` of the recount that found it live though its rules forbid it. */
  readonly kept?: number;
  /** Ghost: the rules allowed it at some moment since it was written. */
  readonly allowed: boolean;
}

interface Shard {
  items: (Item | null)[];
  mode: Mode;
  /** In exact mode: every free offset of the shard (⊇ the free ones). */
  free: number[];
  epoch: number;
  closer: string | null;
}

type Kind = 'count' | 'release' | 'seal' | 'delete' | 'patch' | 'read' | 'checkFull';

export type ShardsSpec =
  /** POST allocations with `count`: one address in each listed shard (a random pick). */
  | { readonly kind: 'count'; readonly id: string; readonly addresses: readonly Addr[] }
  | { readonly kind: 'release'; readonly id: string; readonly address: Addr }
  | { readonly kind: 'seal'; readonly shard: number }
  | { readonly kind: 'delete' }
  /** PATCH of the pools: one transaction of the subnet and every counter (`pv + 1`). */
  | { readonly kind: 'patch'; readonly pools: readonly (readonly number[])[] }
  /** GET /subnets/{id}/allocations/{ip}, strongly consistent, item first. */
  | { readonly kind: 'read'; readonly address: Addr }
  | { readonly kind: 'checkFull' };

export interface ShardsScenario {
  /** Each shard's items (holders or null), and its mode; an exact shard lists its free offsets. */
  readonly shards: readonly {
    readonly items: readonly (string | null)[];
    readonly mode: Mode;
    readonly free?: readonly number[];
  }[];
  /** Default: every offset of every shard. */
  readonly pools?: readonly (readonly number[])[];
  readonly procs: readonly ShardsSpec[];
  /**
   * The processes (ids) that may stop for good between two of their requests. Its
   * residue is then the audit's (a deleted subnet's items, a request's forbidden items
   * left behind); the readers' rules are checked all the same.
   */
  readonly crashes?: readonly string[];
}

export interface ShardsResult {
  readonly states: number;
  readonly violation?: string;
  readonly answers: readonly string[];
  readonly trace?: readonly string[];
}

interface Proc {
  readonly kind: Kind;
  readonly id: string;
  readonly addresses: readonly Addr[];
  readonly pools?: readonly (readonly number[])[];
  readonly shard: number;
  pc: string;
  /** Which shard a multi-shard step is at. */
  i: number;
  view?: Config;
  /** The modes it read at its start (a count's cached view). */
  seen?: Mode[];
  /** A count's reads after: shards to read, and what they showed. */
  toRead?: number[];
  sawClosed?: boolean;
  pvMoved?: boolean;
  reconcile?: number[];
  /** A delete's modes before its fence; a sealer's epoch and query. */
  before?: Mode[];
  epoch?: number;
  computed?: number[];
  /** A reader's item, what it read of the subnet and counter, and whether it retries. */
  got?: Item | null;
  sub?: { deleted: boolean; config: Config; mode: Mode; recounted: number };
  retry?: boolean;
  /** "Full?": the shards it found full so far; ghost: every address was held at some moment. */
  fullSoFar?: boolean;
  sawFull?: boolean;
}

interface State {
  shards: Shard[];
  config: Config;
  /** The `pv` whose recount is done. */
  recounted: number;
  deleted: boolean;
  procs: Proc[];
  /** Ghosts: requests a reader showed holding an address; those answered as not made. */
  shown: string[];
  unmade: string[];
  answers: string[];
  trace: string[];
}

const itemAt = (s: State, [k, o]: Addr) => s.shards[k]?.items[o] ?? null;
const fits = (c: Config, [k, o]: Addr) => c.pools[k]?.includes(o) === true;
const addFree = (sh: Shard, o: number) => {
  if (!sh.free.includes(o)) sh.free = [...sh.free, o].sort();
};
/** Every address of the pools is held (the truth "full?" must answer about). */
const allHeld = (s: State) =>
  s.config.pools.every((offsets, k) => offsets.every((o) => itemAt(s, [k, o]) !== null));
/** What a counter says: this shard is full for the pools of `view`. */
const counterFull = (sh: Shard, k: number, view: Config) =>
  sh.mode === 'exact' && !sh.free.some((o) => view.pools[k]?.includes(o));

function step(s: State, p: Proc, v: ShardsVariant): string | undefined | typeof BLOCKED {
  const answer = (what: string): undefined => {
    s.answers.push(`${p.id}:${what}`);
    p.pc = 'done';
    return undefined;
  };
  switch (p.kind) {
    case 'count':
      return count(s, p, v, answer);
    case 'release': {
      // One transaction: Delete (the holder's) + the counter (ConditionCheck fast, or
      // ADD free :o), in the shape the counter has when it commits.
      const [k, o] = p.addresses[0] as Addr;
      const sh = s.shards[k] as Shard;
      if (sh.items[o]?.holder !== p.id) return answer('gone');
      sh.items[o] = null;
      if (sh.mode !== 'fast') addFree(sh, o);
      return answer('ok');
    }
    case 'seal': {
      const sh = s.shards[p.shard] as Shard;
      switch (p.pc) {
        case 'start':
          if (sh.mode === 'fast') {
            sh.mode = 'sealing';
            sh.epoch += 1;
          } else if (sh.mode !== 'sealing') return answer('skip');
          p.epoch = sh.epoch;
          p.pc = 'query';
          return;
        case 'query':
          p.computed = sh.items.flatMap((item, o) => (item === null ? [o] : []));
          p.pc = 'publish';
          return;
        case 'publish':
          if (sh.mode !== 'sealing' || sh.epoch !== p.epoch) return answer('skip');
          sh.mode = 'exact';
          for (const o of p.computed ?? []) addFree(sh, o);
          return answer('sealed');
      }
      return;
    }
    case 'delete': {
      const sh = s.shards[p.i] as Shard;
      const last = p.i === s.shards.length - 1;
      switch (p.pc) {
        case 'start': // The fence, counter by counter: closed, closer = me, on mode <> closed.
          if (sh.mode === 'closed') return answer('busy'); // (one delete per scenario)
          p.before = [...(p.before ?? []), sh.mode];
          sh.mode = 'closed';
          sh.closer = p.id;
          p.i = last ? 0 : p.i + 1;
          if (last) p.pc = 'query';
          return;
        case 'query': // A consistent Query per shard.
          if (sh.items.some((item) => item !== null)) p.pc = 'reopen';
          else if (last) p.pc = 'remove';
          else p.i += 1;
          return;
        case 'remove': // The subnet and its counters deleted (counters stay closed).
          s.deleted = true;
          return answer('deleted');
        case 'reopen': // Every counter, on closer = me (one transaction).
          s.shards.forEach((shard, k) => {
            if (shard.closer === p.id) {
              shard.mode = p.before?.[k] ?? 'fast';
              shard.closer = null;
            }
          });
          return answer('inUse');
      }
      return;
    }
    case 'patch':
      if (p.pc === 'start') {
        const before = s.config;
        s.config = { pv: before.pv + 1, pools: p.pools ?? before.pools };
        p.view = before;
        // Existing items that fit the new rules were allowed at this moment.
        for (const [k, sh] of s.shards.entries())
          sh.items = sh.items.map((item, o) =>
            item !== null && !item.allowed && fits(s.config, [k, o])
              ? { ...item, allowed: true }
              : item,
          );
        p.pc = 'recount';
        return;
      }
      if (p.pc === 'recount') {
        // A consistent Query of shard i; it stamps each live item the new rules forbid
        // that the old ones allowed: the change keeps it (it takes effect at this query).
        const sh = s.shards[p.i] as Shard;
        const before = p.view as Config;
        sh.items = sh.items.map((item, o) =>
          item === null || fits(s.config, [p.i, o]) || !fits(before, [p.i, o])
            ? item
            : { ...item, kept: s.config.pv, allowed: true },
        );
        if (p.i === s.shards.length - 1) p.pc = 'recounted';
        else p.i += 1;
        return;
      }
      s.recounted = s.config.pv; // Then the subnet records the recount done.
      return answer('patched');
    case 'read':
      return read(s, p, v, answer);
    case 'checkFull':
      return checkFull(s, p, v, answer);
  }
}

/** A count request: one transaction of its Puts (and exact counters), reads after, undo. */
function count(
  s: State,
  p: Proc,
  v: ShardsVariant,
  answer: (what: string) => undefined,
): string | undefined | typeof BLOCKED {
  const shardsOf = p.addresses.map(([k]) => k);
  const mine = (a: Addr) => itemAt(s, a)?.holder === p.id;
  const startReads = () => {
    p.i = 0;
    p.sawClosed = false;
    p.pvMoved = false;
    p.reconcile = [];
    if ((p.toRead ?? []).length > 0) {
      p.pc = 'read';
      return undefined;
    }
    return decide();
  };
  /** What the reads after showed (no request of its own). */
  const decide = (): string | undefined => {
    if (p.sawClosed) p.pc = 'awaitDelete';
    else if (p.pvMoved) p.pc = 'reload';
    else if ((p.reconcile ?? []).length > 0) p.pc = 'reconcile';
    else return answerMade(s, p, answer);
    return undefined;
  };
  switch (p.pc) {
    case 'start': // The view it decides on: the subnet and the counters, read earlier (a cache).
      p.view = s.config;
      p.seen = shardsOf.map((k) => (s.shards[k] as Shard).mode);
      if (p.seen.includes('closed')) return answer('notFound');
      if (!p.addresses.every((a) => fits(s.config, a))) return answer('notInView');
      p.pc = 'write';
      return;
    case 'write': {
      // One TransactWriteItems: each Put on attribute_not_exists(pk); each exact shard's
      // counter DELETE free :o on contains(free, :o) AND mode = exact AND pv = :pv; no
      // item for a fast (or sealing) shard.
      const view = p.view as Config;
      const seen = p.seen as Mode[];
      const exact = p.addresses.filter((_, j) => seen[j] === 'exact');
      const holds = p.addresses.every((a) => itemAt(s, a) === null);
      const countersHold = exact.every(([k, o]) => {
        const sh = s.shards[k] as Shard;
        return sh.mode === 'exact' && sh.free.includes(o) && s.config.pv === view.pv;
      });
      if (!holds || !countersHold) return answer('retry'); // Cancelled: nothing written.
      for (const a of p.addresses) {
        const [k, o] = a;
        const sh = s.shards[k] as Shard;
        sh.items[o] = { holder: p.id, pv: view.pv, group: p.addresses, allowed: fits(s.config, a) };
      }
      for (const [k, o] of exact) {
        const sh = s.shards[k] as Shard;
        sh.free = sh.free.filter((x) => x !== o);
      }
      const fast = shardsOf.filter((_, j) => seen[j] !== 'exact');
      const one = exact.length > 0 ? [] : fast.slice(0, 1);
      p.toRead = v.readAfter === 'everyFast' ? fast : v.readAfter === 'one' ? one : [];
      return startReads();
    }
    case 'read': {
      // A consistent GetItem of one counter (a BatchGetItem reads each apart).
      const k = (p.toRead as number[])[p.i] as number;
      const sh = s.shards[k] as Shard;
      if (sh.mode === 'closed') p.sawClosed = true;
      else if (s.config.pv !== p.view?.pv) p.pvMoved = true;
      else if (sh.mode !== 'fast') p.reconcile = [...(p.reconcile ?? []), k];
      p.i += 1;
      return p.i === (p.toRead as number[]).length ? decide() : undefined;
    }
    case 'awaitDelete': // Read the subnet until the delete is over: gone, undo; reopened, stand.
      if (!s.deleted && s.shards.some((sh) => sh.mode === 'closed')) return BLOCKED;
      if (s.deleted) p.pc = 'undo';
      else return startReads();
      return;
    case 'reload': {
      // Read the subnet: the request stands unless the new rules forbid one of its
      // addresses; then the recount decides (stamped: kept; else undone, all of it).
      const forbidden = p.addresses.filter((a) => !fits(s.config, a));
      if (forbidden.length === 0) {
        p.view = s.config;
        return startReads();
      }
      if (s.recounted < s.config.pv) return BLOCKED;
      const kept = forbidden.every((a) => mine(a) && itemAt(s, a)?.kept === s.config.pv);
      p.view = s.config;
      if (kept) return startReads();
      p.pc = 'undo';
      return;
    }
    case 'reconcile': // One transaction: per sealing/exact shard, ConditionCheck mine + DELETE free :o.
      for (const k of p.reconcile ?? []) {
        const a = p.addresses.find(([x]) => x === k) as Addr;
        if (mine(a)) {
          const sh = s.shards[k] as Shard;
          sh.free = sh.free.filter((x) => x !== a[1]);
        }
      }
      return answerMade(s, p, answer);
    case 'undo': {
      // ONE transaction: every item of the request deleted (reqToken), each counter in
      // release shape (ADD free :o where it is not fast).
      for (const a of p.addresses) {
        if (!mine(a)) continue;
        const sh = s.shards[a[0]] as Shard;
        sh.items[a[1]] = null;
        if (sh.mode !== 'fast') addFree(sh, a[1]);
      }
      if (s.shown.includes(p.id))
        return `a reader was shown ${p.id}'s allocation, which it then undid (a phantom)`;
      s.unmade = [...s.unmade, p.id].sort();
      return answer(s.deleted ? 'notFound' : 'retry');
    }
  }
  return;
}

function answerMade(s: State, p: Proc, answer: (what: string) => undefined): string | undefined {
  if (s.deleted) return `${p.id} answered an allocation in a deleted subnet`;
  for (const a of p.addresses) {
    const item = itemAt(s, a);
    if (item?.holder !== p.id) return `${p.id} answered as made without holding ${a.join(':')}`;
    if (!item.allowed)
      return `${p.id} answered an allocation of ${a.join(':')} that the rules forbade since its write`;
  }
  return answer('ok');
}

/**
 * A reader, item first (the page's rule): the item, then the subnet with the item's
 * shard's counter; on `closed` or a pending recount of a forbidden item it retries once
 * the change is over; after the recount it reads the item again and hides it unstamped.
 * With readerChecksGroup, a forbidden sibling decides too (one more read of it).
 */
function read(
  s: State,
  p: Proc,
  v: ShardsVariant,
  answer: (what: string) => undefined,
): string | undefined | typeof BLOCKED {
  const a = p.addresses[0] as Addr;
  const inChange = () =>
    (!s.deleted && s.shards.some((sh) => sh.mode === 'closed')) || s.recounted < s.config.pv;
  const retry = () => {
    p.pc = 'start';
    p.retry = true;
    return undefined;
  };
  switch (p.pc) {
    case 'start':
      if (p.retry === true && inChange()) return BLOCKED;
      p.got = itemAt(s, a);
      p.pc = 'subnet';
      return;
    case 'subnet':
      p.sub = {
        deleted: s.deleted,
        config: s.config,
        mode: (s.shards[a[0]] as Shard).mode,
        recounted: s.recounted,
      };
      break;
    case 'third': // The item again: the recount's stamp may have come after the first read.
      p.got = itemAt(s, a);
      break;
    case 'siblings': // (group) The forbidden siblings: stamped by the recount, and still its?
      break;
  }
  const sub = p.sub as NonNullable<Proc['sub']>;
  const got = sub.deleted ? itemAt(s, a) : (p.got ?? null);
  const hide = (what: string) => {
    if (got !== null && itemAt(s, a)?.holder === got.holder && s.shown.includes(got.holder))
      return `a reader was shown ${got.holder}'s allocation, then a later one ${what} at ${a.join(':')} while it was live`;
    return answer(what);
  };
  if (sub.deleted) return hide('404');
  if (sub.mode === 'closed') return retry();
  if (got === null) return answer('free');
  const pv = sub.config.pv;
  if (got.pv < pv) {
    const done = sub.recounted >= pv;
    if (!fits(sub.config, a) && got.kept !== pv) {
      if (!done) return retry();
      if (p.pc === 'subnet') {
        p.pc = 'third';
        return;
      }
      return hide('free');
    }
    const siblings = got.group.filter((b) => !fits(sub.config, b));
    if (v.readerChecksGroup && siblings.length > 0) {
      if (!done) return retry();
      if (p.pc !== 'siblings') {
        p.pc = 'siblings';
        return;
      }
      const keptAll = siblings.every(
        (b) => itemAt(s, b)?.holder === got.holder && itemAt(s, b)?.kept === pv,
      );
      if (!keptAll) return hide('free');
    }
  }
  if (s.unmade.includes(got.holder))
    return `a reader was shown ${got.holder}'s allocation of ${a.join(':')}, which it answered as not made (a phantom)`;
  if (!s.shown.includes(got.holder)) s.shown = [...s.shown, got.holder].sort();
  return answer(`held:${got.holder}`);
}

/**
 * "Full?": the subnet and every counter, each counter at the subnet's `pv`, every shard
 * exact with nothing free in the pools. Atomic (TransactGetItems), or one item at a time.
 */
function checkFull(
  s: State,
  p: Proc,
  v: ShardsVariant,
  answer: (what: string) => undefined,
): string | undefined {
  const readCounter = (k: number): 'retry' | boolean => {
    const view = p.view as Config;
    if (s.config.pv !== view.pv) return 'retry';
    return counterFull(s.shards[k] as Shard, k, view);
  };
  const conclude = (full: boolean) => {
    if (!full) return answer('notFull');
    if (p.sawFull !== true)
      return 'SUBNET_EXHAUSTED while some address was free at every moment of the call';
    return answer('full');
  };
  if (p.pc === 'start') {
    p.view = s.config;
    p.fullSoFar = true;
    if (allHeld(s)) p.sawFull = true; // The call has begun.
    if (v.fullRead !== 'transact') {
      p.pc = 'counter';
      return;
    }
    const each = s.shards.map((_, k) => readCounter(k));
    if (each.includes('retry')) return answer('retry');
    return conclude(each.every((full) => full === true));
  }
  const n = s.shards.length;
  const full = readCounter(p.i % n);
  if (full === 'retry') return answer('retry');
  p.fullSoFar = p.fullSoFar === true && full;
  if (p.i < n * (v.fullRead === 'twice' ? 2 : 1) - 1) {
    p.i += 1;
    return;
  }
  return conclude(p.fullSoFar);
}

function finalCheck(s: State): string | undefined {
  for (const [k, sh] of s.shards.entries()) {
    if (sh.mode !== 'exact') continue;
    const missed = sh.items.findIndex((item, o) => item === null && !sh.free.includes(o));
    if (missed >= 0) return `shard ${k}'s free set misses free offset ${missed}`;
  }
  if (!s.deleted && s.shards.some((sh) => sh.mode === 'closed'))
    return 'a subnet that was not deleted is left closed';
  if (s.deleted && s.shards.some((sh) => sh.items.some((item) => item !== null)))
    return 'a deleted subnet still holds an allocation';
  return undefined;
}

/** Every interleaving, depth first, each state once. */
export function searchShards(
  scenario: ShardsScenario,
  variant: ShardsVariant = SHARDS_PROTOCOL,
): ShardsResult {
  const start: State = {
    shards: scenario.shards.map((sh) => ({
      items: sh.items.map((h) =>
        h === null ? null : { holder: h, pv: 1, group: [], allowed: true },
      ),
      mode: sh.mode,
      free: [...(sh.free ?? [])],
      epoch: 0,
      closer: null,
    })),
    config: {
      pv: 1,
      pools: scenario.pools ?? scenario.shards.map((sh) => sh.items.map((_, o) => o)),
    },
    recounted: 1,
    deleted: false,
    procs: scenario.procs.map((spec, j) => ({
      kind: spec.kind,
      id: 'id' in spec ? spec.id : `${spec.kind}${j}`,
      addresses: 'addresses' in spec ? spec.addresses : 'address' in spec ? [spec.address] : [],
      ...('pools' in spec ? { pools: spec.pools } : {}),
      shard: 'shard' in spec ? spec.shard : -1,
      pc: 'start',
      i: 0,
    })),
    shown: [],
    unmade: [],
    answers: [],
    trace: [],
  };
  const seen = new Set<string>();
  const answers = new Set<string>();
  const stack: State[] = [start];
  while (stack.length > 0) {
    const s = stack.pop() as State;
    const key = keyOf(s);
    if (seen.has(key)) continue;
    seen.add(key);
    for (const given of s.answers) answers.add(given);
    const runnable = s.procs.filter((p) => p.pc !== 'done');
    let moved = false;
    for (const p of runnable) {
      const next = copy(s);
      const q = next.procs[s.procs.indexOf(p)] as Proc;
      next.trace.push(`${p.id}.${p.pc}${p.pc === 'start' ? '' : `#${p.i}`}`);
      const broken = step(next, q, variant);
      if (broken === BLOCKED) continue;
      moved = true;
      if (broken !== undefined)
        return {
          states: seen.size,
          violation: broken,
          answers: [...answers].sort(),
          trace: next.trace,
        };
      markFull(next);
      stack.push(next);
      if (scenario.crashes?.includes(p.id) === true && p.pc !== 'start') {
        const crashed = copy(s);
        (crashed.procs[s.procs.indexOf(p)] as Proc).pc = 'done';
        crashed.answers.push(`${p.id}:crashed`);
        stack.push(crashed);
      }
    }
    if (!moved) {
      const broken = runnable.length > 0 ? 'processes left waiting' : finalCheck(s);
      if (broken !== undefined)
        return {
          states: seen.size,
          violation: `${broken} (answers: ${s.answers.join(', ')})`,
          answers: [...answers].sort(),
          trace: s.trace,
        };
    }
  }
  return { states: seen.size, answers: [...answers].sort() };
}

/** Ghost: a "full?" whose call has begun saw a moment with every address held. */
function markFull(s: State) {
  if (!allHeld(s)) return;
  for (const p of s.procs)
    if (p.kind === 'checkFull' && p.pc !== 'start' && p.pc !== 'done') p.sawFull = true;
}

function keyOf(s: State): string {
  const { answers: _a, trace: _t, ...rest } = s;
  return JSON.stringify(rest);
}

function copy(s: State): State {
  return {
    ...s,
    shards: s.shards.map((sh) => ({ ...sh, items: [...sh.items], free: [...sh.free] })),
    procs: s.procs.map((p) => ({ ...p })),
    answers: [...s.answers],
    trace: [...s.trace],
  };
}
