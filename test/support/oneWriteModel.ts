/**
 * A small model of the one-write allocation protocol (docs/one-write-allocation.md)
 * and an exhaustive search over every interleaving of its processes. Each step of a
 * process is one DynamoDB request, atomic as DynamoDB makes it (a single-item write,
 * a transaction, a strongly consistent read); the clock is a process too (`tick`), so
 * leases end between any two steps. With `crashes`, any process may also stop for
 * good between two of its requests (a crashed Lambda); the table's TTL (`ttl`) deletes
 * items past their `freeAt` at any time. The search runs every order of
 * the steps and checks the promises at every state:
 *
 * - `SUBNET_EXHAUSTED` is answered only while every address of the pools is held;
 * - no allocation is answered as made in a subnet that a delete has removed;
 * - no allocation is answered that the subnet's rules (pools, gateway, reuse delay)
 *   forbade at every moment since its item was written (one written before a change
 *   stays, as today);
 * - a release uses the reuse delay in force when it commits;
 * - once every process is done (or crashed), an exact shard's free set lists every
 *   free address but the expired leases, and those only while `soon` has passed (so
 *   "full?" looks); a subnet that was not deleted is not left closed; a deleted one
 *   holds nothing; no freeze of the stability window is left behind (liveness: the
 *   window would never move on again).
 *
 * With readers (`read`: GET /subnets/{id}/allocations/{ip}, strongly consistent), also
 * what linearizability asks of them (the ghosts `shown` and `unmade`):
 *
 * - a reader shows an address held by a request only if that request never answers it
 *   as not made: an allocation that answers `retry` or `notFound` after, or before, a
 *   reader showed its item held is a phantom (a crashed one may be linearized as made:
 *   it is not checked here, but the next rule holds for it too);
 * - once a reader has shown an item held, no later reader shows it free, or its subnet
 *   gone, while that item is still live (hiding must be stable).
 *
 * `Variant` switches off parts of the protocol, so a test can show that the search
 * finds what goes wrong without them.
 */

export type Mode = 'fast' | 'sealing' | 'exact' | 'closed';

export interface Variant {
  /** A fast allocation reads the counter after its Put and reconciles (Dekker). */
  readonly readAfter: boolean;
  /** The read after a Put also compares `pv` and reloads the subnet when it moved. */
  readonly readAfterPv: boolean;
  /** The sealer fences (mode = sealing) before it reads the truth. */
  readonly fenceFirst: boolean;
  /**
   * A release is one transaction with the counter (a ConditionCheck that the shard is
   * fast, or ADD free :o). Off: a bare Delete, then the read and reconcile of a Put.
   */
  readonly releaseWithCounter: boolean;
  /** The release's counter condition includes `pv = :pv` (its reuse delay is current). */
  readonly releaseChecksPv: boolean;
  /** Writes that give an item a lease end lower the counter's `soon`. */
  readonly lowerSoon: boolean;
  /**
   * A new lease end (PATCH) is one transaction with the counter, shaped as a release.
   * Off: the UpdateItem, then a read of the counter and a reconcile lowering `soon`.
   */
  readonly renewWithCounter: boolean;
  /**
   * The fence gives the seal a fresh `epoch`; a (co-)sealer publishes on `mode =
   * sealing AND epoch = :seen`. Off: on `mode = sealing` only.
   */
  readonly sealEpoch: boolean;
  /**
   * A delete fences on `mode <> closed` and records itself (`closer`); it reopens on
   * `closer = :me`. Off: it fences unconditionally and restores the mode it found.
   */
  readonly deleteOwnsFence: boolean;
  /** "Full?" reads the subnet and the counter and retries when their `pv` differ. */
  readonly fullChecksPv: boolean;
  /**
   * The exact free set lists every free offset of the shard, and "full" is an empty
   * `free ∩ pools`. Off: it lists the free pool offsets only, and full is `free = ∅`.
   */
  readonly freeListsAllOffsets: boolean;
  /**
   * Option (a') of the design page: the counter promises no fence before
   * `stableUntil`; a fast Put whose response comes while the writer's clock shows the
   * window open (less the clock bound ε) answers without the read after, and a
   * delete or subnet PATCH freezes the window and waits it out on its own clock
   * before it fences.
   */
  readonly stabilityWindow: boolean;
  /** (with the window) Changers wait until `stableUntil + ε` on their own clock. */
  readonly windowWait: boolean;
  /** (with the window) The writer's test allows for the clock bound ε. */
  readonly windowSkew: boolean;
  /**
   * (with the window) An allocator's own extension is conditioned on `pv = :pv` too, so
   * that the `stableUntil` it set may be trusted with the subnet view it decided on.
   * Off: on `attribute_not_exists(frozen) AND mode = fast AND stableUntil < :t` only.
   */
  readonly extendChecksPv: boolean;
  /**
   * (with the window) A changer's fence is itself conditioned on the window being past
   * on its clock (`stableUntil <= :clock − ε`); failing it, it freezes and waits again.
   * Off: the wait alone, which trusts that nobody removed its freeze meanwhile.
   */
  readonly fenceChecksWindow: boolean;
  /**
   * The second transaction of an exact write that found a live item (`ConditionCheck`
   * live, `DELETE free :o`) also lowers `soon` to the item's `freeAt` (from `ALL_OLD`).
   */
  readonly exactFixLowersSoon: boolean;
  /**
   * A Put takes an address past its `freeAt` only once the writer's clock, less ε, is
   * past it (`freeAt <= :now − ε`). Off: `freeAt <= :now`, the writer's clock as read.
   */
  readonly takeAllowsSkew: boolean;
  /**
   * A reader reads the allocation item first, then the subnet and counter (so it sees a
   * change that may undo what it read). Off: the subnet first, as the API does today.
   */
  readonly readerItemFirst: boolean;
  /**
   * How phantoms (fast Puts undone after a change) are kept from readers:
   * - `none`: not at all (readers show every live item of an existing subnet);
   * - `stamp`: the page's sketch. A PATCH's recount stamps the live items it finds that
   *   the new rules forbid (`kept = pv`); a reader hides an item written under an older
   *   `pv` that the current rules forbid and that is not stamped; writers as before;
   * - `decide`: the change decides, not the writer. A writer that reads `closed` waits
   *   for the delete's outcome (gone: undo, 404; reopened: its item stands); one whose
   *   `pv` moved and whose item the new rules forbid waits for the recount and keeps a
   *   stamped item (the PATCH took effect, for allocations, at its recount's query),
   *   else undoes. A reader that finds the counter `closed`, or an unstamped forbidden
   *   item before the recount is done, retries; after it, it hides the unstamped item.
   *   An item on a new gateway written under an older `pv` is never stamped (the PATCH's
   *   ConditionCheck proved no legitimate one exists) and always hidden.
   */
  readonly phantoms: 'none' | 'stamp' | 'decide';
}

export const PROTOCOL: Variant = {
  readAfter: true,
  readAfterPv: true,
  fenceFirst: true,
  releaseWithCounter: true,
  releaseChecksPv: true,
  lowerSoon: true,
  renewWithCounter: true,
  sealEpoch: true,
  deleteOwnsFence: true,
  fullChecksPv: true,
  freeListsAllOffsets: true,
  stabilityWindow: false,
  windowWait: true,
  windowSkew: true,
  extendChecksPv: true,
  fenceChecksWindow: true,
  exactFixLowersSoon: true,
  takeAllowsSkew: true,
  readerItemFirst: false,
  phantoms: 'none',
};

/** The protocol with the readers' rules that keep phantoms from them (see `phantoms`). */
export const READERS_DECIDE: Variant = { ...PROTOCOL, readerItemFirst: true, phantoms: 'decide' };

/** A step that cannot run yet (a process waiting on another): the search skips it. */
const BLOCKED = Symbol('blocked');

/** The protocol with the stability window (option a'). */
export const WITH_WINDOW: Variant = { ...PROTOCOL, stabilityWindow: true };

/**
 * The processes that wait out the window before they fence: those after whose fence a
 * late Put is forbidden. A seal need not: a late Put only makes the free set list a
 * taken address, which the next exact write removes (sealInWindow checks that).
 */
const CHANGERS: ReadonlySet<string> = new Set(['delete', 'patch']);

/** The subnet item: what a process caches as its view. `pv` is also on the counter. */
interface Config {
  readonly pv: number;
  /** The addresses in the allocation pools. */
  readonly pools: readonly number[];
  readonly gateway: number | null;
  /** `reuseDelaySeconds`, in ticks. */
  readonly delay: number;
}

/** An address's allocation item: who holds it, and until when (null: no lease). */
interface Item {
  readonly holder: string;
  readonly freeAt: number | null;
  /** A specific-address allocation (may lie outside the pools). */
  readonly specific?: boolean;
  /**
   * Ghost (checking only): the rules allowed this item at some moment since it was
   * written — its address, and for a lease the delay in its `freeAt`.
   */
  readonly allowed?: boolean;
  /** Ghost: the reuse delay its `freeAt` was computed with (leases). */
  readonly delay?: number;
  /** The `pv` it was written under (undefined: 1, an item of the scenario's start). */
  readonly pv?: number;
  /** The `pv` of the recount that found it live though its rules forbid it (phantoms). */
  readonly kept?: number;
}

/** What a reader read of the subnet and its counter. */
interface SubnetSeen {
  readonly deleted: boolean;
  readonly config: Config;
  readonly mode: Mode;
  readonly recounted: number;
}

/** One process: its kind, where it is, and what it remembers between steps. */
interface Proc {
  readonly kind: Spec['kind'];
  readonly id: string;
  /** The address it allocates, releases or renews (-1 for the others). */
  readonly address: number;
  /** An allocation's or renewal's lease, in ticks from its write (undefined: none). */
  readonly lease: number | undefined;
  readonly specific: boolean;
  /** A config change's new pools / gateway / delay. */
  readonly change: Partial<Omit<Config, 'pv'>> | undefined;
  /** How far its clock is off real time (|skew| ≤ the scenario's ε). */
  readonly skew: number;
  pc: string;
  seen?: Mode;
  view?: Config;
  /** The counter's `stableUntil` as it read it. */
  stableSeen?: number;
  /** A changer's passage through the window: frozen it, waited it out, let it go. */
  gate?: 'frozen' | 'passed' | 'released';
  /** An allocation that moves the window on itself before its Put (`extends`). */
  readonly extends: boolean;
  /** The `freeAt` of the live item an exact write found (`ALL_OLD`). */
  oldFreeAt?: number | null;
  computed?: number[];
  computedSoon?: number | null;
  before?: Mode;
  epoch?: number;
  /** A reader's read of the item (null: no live item), and of the subnet. */
  got?: Item | null;
  sub?: SubnetSeen;
  /** A reader that retries after a change it saw in progress. */
  retry?: boolean;
}

interface State {
  items: (Item | null)[];
  now: number;
  config: Config;
  mode: Mode;
  free: number[];
  /** A lower bound of the lease ends in an exact shard (null: none). */
  soon: number | null;
  /** The seal epoch, bumped by each fence (sealEpoch). */
  epoch: number;
  /** The delete that closed the counter (deleteOwnsFence). */
  closer: string | null;
  procs: Proc[];
  /** What processes answered: `<id>:<answer>` (reporting only). */
  answers: string[];
  /** The steps taken so far, `<id>.<step>` (reporting only). */
  trace: string[];
  deleted: boolean;
  /** Ghost: addresses whose expired item the TTL deleted (an expired lease, but gone). */
  swept: number[];
  /** The counter's promise: no fence before this moment (stabilityWindow). */
  stableUntil: number;
  /** The ids of the changers that froze the window (no extension while any). */
  frozen: string[];
  /** The clock bound, and the window's length (constants of the scenario). */
  readonly epsilon: number;
  readonly windowLength: number;
  /** The `pv` whose recount is done (phantoms ≠ none: the subnet records it). */
  recounted: number;
  /** Ghost: the holders a reader has shown holding an address. */
  shown: string[];
  /** Ghost: the allocations that answered `retry` or `notFound` after writing an item. */
  unmade: string[];
}

export type Spec =
  | {
      readonly kind: 'allocate';
      readonly id: string;
      readonly address: number;
      readonly lease?: number;
      /** A specific-address request (else a random pick that drew `address`). */
      readonly specific?: boolean;
      readonly skew?: number;
      /** It moves the window on itself after reading its view, and trusts what it set. */
      readonly extends?: boolean;
    }
  | { readonly kind: 'release'; readonly id: string; readonly address: number }
  /** PATCH of a lease end: `lease` ticks from the write. */
  | {
      readonly kind: 'renew';
      readonly id: string;
      readonly address: number;
      readonly lease: number;
    }
  | { readonly kind: 'seal'; readonly skew?: number }
  | { readonly kind: 'unseal' }
  | { readonly kind: 'delete'; readonly id?: string; readonly skew?: number }
  /** PATCH of the subnet: pools, gateway or reuse delay (one transaction with `pv + 1`). */
  | {
      readonly kind: 'patch';
      readonly id?: string;
      readonly change: Partial<Omit<Config, 'pv'>>;
      readonly skew?: number;
    }
  /** An allocator moving the window on (stabilityWindow): not while frozen, fast only. */
  | { readonly kind: 'extend'; readonly skew?: number }
  /**
   * The audit removing every freeze id it finds (a crashed changer's, it judges; it
   * cannot tell one from a slow changer's, so it may remove a live one's).
   */
  | { readonly kind: 'thaw' }
  | { readonly kind: 'checkFull' }
  /** GET /subnets/{id}/allocations/{address}: held by whom, free, or 404 (subnet gone). */
  | { readonly kind: 'read'; readonly id?: string; readonly address: number }
  | { readonly kind: 'tick' }
  /** The table's TTL deleting the item of `address` once past its freeAt (ttl = freeAt). */
  | { readonly kind: 'ttl'; readonly address: number };

export interface Scenario {
  /** Holders (or null), or items with a lease end. */
  readonly items: readonly (string | Item | null)[];
  readonly mode: Mode;
  readonly free?: readonly number[];
  readonly soon?: number;
  /** Pools (default: every address), gateway (default none), reuse delay (default 0). */
  readonly pools?: readonly number[];
  readonly gateway?: number;
  readonly delay?: number;
  readonly procs: readonly Spec[];
  /** The processes (ids) that may stop for good between two of their requests. */
  readonly crashes?: readonly string[];
  /** The counter's `stableUntil` at the start, the clock bound ε, the window's length. */
  readonly stableUntil?: number;
  readonly epsilon?: number;
  readonly window?: number;
}

export interface SearchResult {
  readonly states: number;
  /** The first broken promise found, with the answers given up to it. */
  readonly violation?: string;
  /** Every answer given on some path (`<id>:<answer>`): what the search exercised. */
  readonly answers: readonly string[];
  /** The steps (`<id>.<step>`) of the path to the violation. */
  readonly trace?: readonly string[];
}

const isFree = (s: State, a: number) => {
  const item = s.items[a];
  return item === null || item === undefined || (item.freeAt !== null && item.freeAt <= s.now);
};
const holds = (s: State, a: number, id: string) => s.items[a]?.holder === id && !isFree(s, a);
/** What a `reqToken` condition checks: the item is this request's (live or not). */
const isMine = (s: State, a: number, id: string) => s.items[a]?.holder === id;
const addFree = (s: State, a: number) => {
  if (!s.free.includes(a)) s.free = [...s.free, a].sort();
};
const removeFree = (s: State, a: number) => {
  s.free = s.free.filter((x) => x !== a);
};
const lower = (soon: number | null, freeAt: number | null) =>
  freeAt === null ? soon : soon === null ? freeAt : Math.min(soon, freeAt);
/** May an allocation of `a` be made under `c` (a random pick: only in the pools)? */
const permits = (c: Config, a: number, specific: boolean) =>
  a !== c.gateway && (specific || c.pools.includes(a));
/** Does an item fit the rules of `c` (its address, and a lease's delay)? */
const fits = (c: Config, a: number, item: Item) =>
  permits(c, a, item.specific === true) && (item.delay === undefined || item.delay === c.delay);

/**
 * Releases an item in one transaction with the counter (a release, or an undo): gone,
 * or a cool-down tombstone under a reuse delay; a shard that is not fast lists it free,
 * or lowers `soon` to the tombstone's end.
 */
function releaseWithCounter(s: State, a: number, id: string, delay: number, v: Variant) {
  if (delay === 0) {
    s.items[a] = null;
    if (s.mode !== 'fast') addFree(s, a);
    return;
  }
  const freeAt = s.now + delay;
  s.items[a] = { holder: `${id}~cooling`, freeAt };
  if (s.mode !== 'fast' && v.lowerSoon) s.soon = lower(s.soon, freeAt);
}

/** Runs one step of process `p` in state `s` (mutates both; `s` is a copy). */
function step(s: State, p: Proc, v: Variant): string | undefined | typeof BLOCKED {
  const a = p.address;
  const answer = (what: string): undefined => {
    s.answers.push(`${p.id}:${what}`);
    p.pc = 'done';
    if (p.gate === 'passed') {
      s.frozen = s.frozen.filter((id) => id !== p.id); // Done: the window may move on.
      p.gate = 'released';
    }
    return undefined;
  };
  if (v.stabilityWindow && CHANGERS.has(p.kind) && p.gate !== 'passed' && p.gate !== 'released') {
    if (p.gate === undefined) {
      // Freeze (ADD frozen :me): nobody extends stableUntil from now on.
      if (!s.frozen.includes(p.id)) s.frozen = [...s.frozen, p.id].sort();
      p.gate = 'frozen';
      return;
    }
    // Wait, on its own clock, until no writer can still rely on the window.
    if (!v.windowWait || s.now + p.skew >= s.stableUntil + s.epsilon) p.gate = 'passed';
    else if (!s.procs.some((q) => q.kind === 'tick' && q.pc === 'start')) {
      s.frozen = s.frozen.filter((id) => id !== p.id); // Time has run out: it gives up.
      p.gate = 'released';
      s.answers.push(`${p.id}:gaveUp`);
      p.pc = 'done';
    }
    return;
  }
  /**
   * A changer's fence with fenceChecksWindow: it commits only while its clock shows the
   * window past; else it freezes again (its freeze may have been removed) and waits.
   */
  const fenceRefused = () => {
    if (!v.stabilityWindow || !v.fenceChecksWindow) return false;
    if (s.now + p.skew >= s.stableUntil + s.epsilon) return false;
    p.gate = undefined;
    return true;
  };
  /** Does the Put's condition (no item, or one past freeAt on the writer's clock) hold? */
  const mayTake = (): boolean | string => {
    const item = s.items[a];
    if (item === null || item === undefined) return true;
    if (item.freeAt === null) return false;
    const clock = s.now + p.skew - (v.takeAllowsSkew ? s.epsilon : 0);
    if (item.freeAt > clock) return false;
    return isFree(s, a) || `${p.id} took ${a} while ${item.holder}'s lease still ran`;
  };
  /** The counter condition of a release-shaped transaction: which shape, and is it current? */
  const counterShapeHolds = () =>
    (s.mode === 'fast') === (p.seen === 'fast') &&
    (!v.releaseChecksPv || s.config.pv === p.view?.pv);
  const answerAllocation = (): string | undefined => {
    if (s.deleted) return `${p.id} answered an allocation in a deleted subnet`;
    const item = s.items[a];
    if (item?.allowed === false)
      return `${p.id} answered an allocation of ${a} that the rules forbade since its write`;
    answer('ok');
    return undefined;
  };
  switch (p.kind) {
    case 'tick':
      s.now += 1;
      return answer('tick');
    case 'thaw':
      s.frozen = [];
      return answer('thawed');
    case 'extend':
      if (s.frozen.length > 0 || s.mode !== 'fast') return answer('frozen');
      s.stableUntil = Math.max(s.stableUntil, s.now + p.skew + s.windowLength);
      return answer('extended');
    case 'ttl': {
      // Deletes whenever it gets to it (one pass, at any point), only an item past its
      // ttl (= freeAt).
      const item = s.items[a];
      if (item === null || item === undefined || !isFree(s, a)) return answer('nothing');
      s.items[a] = null;
      if (!s.swept.includes(a)) s.swept = [...s.swept, a];
      return answer('deleted');
    }
    case 'allocate':
      switch (p.pc) {
        case 'start': // The view it decides on: read now, used later (a cache).
          p.seen = s.mode;
          p.view = s.config;
          p.stableSeen = s.stableUntil;
          if (p.seen === 'closed') p.pc = 'gone';
          else if (!permits(p.view, a, p.specific)) return answer('notInView');
          else p.pc = p.seen === 'exact' ? 'exactWrite' : p.extends ? 'extend' : 'put';
          return;
        case 'extend': {
          // SET stableUntil = :t on not frozen, fast, stableUntil < :t (and pv = :pv
          // where extendChecksPv); on success it knows the window, with its view.
          const t = s.now + p.skew + s.windowLength;
          const pvHolds = !v.extendChecksPv || s.config.pv === p.view?.pv;
          if (s.frozen.length === 0 && s.mode === 'fast' && pvHolds && s.stableUntil < t) {
            s.stableUntil = t;
            p.stableSeen = t;
          }
          p.pc = 'put';
          return;
        }
        case 'gone':
          return answer('notFound');
        case 'put': {
          // One conditional Put: no item, or one past its freeAt (on the writer's clock).
          const take = mayTake();
          if (typeof take === 'string') return take;
          if (!take) return answer('taken');
          const view = p.view as Config;
          const item: Item = {
            holder: p.id,
            freeAt: p.lease === undefined ? null : s.now + p.lease + view.delay,
            specific: p.specific,
            pv: view.pv,
            ...(p.lease === undefined ? {} : { delay: view.delay }),
          };
          s.items[a] = { ...item, allowed: fits(s.config, a, item) };
          p.pc = v.stabilityWindow ? 'clock' : v.readAfter ? 'readAfter' : 'answer';
          return;
        }
        case 'clock': {
          // The response is in. While the writer's clock shows the window open (less ε),
          // its Put committed before any fence can come: it answers without the read.
          const margin = v.windowSkew ? s.epsilon : 0;
          if (s.now + p.skew < (p.stableSeen ?? 0) - margin) {
            s.answers.push(`${p.id}:withoutRead`);
            p.pc = 'answer';
          } else p.pc = v.readAfter ? 'readAfter' : 'answer';
          return;
        }
        case 'readAfter': {
          // A strongly consistent read of the counter: mode and pv.
          const mode = s.mode;
          if (mode === 'closed') p.pc = v.phantoms === 'decide' ? 'awaitDelete' : 'undo';
          else if (v.readAfterPv && s.config.pv !== p.view?.pv) p.pc = 'reload';
          else p.pc = mode === 'fast' ? 'answer' : 'reconcile';
          return;
        }
        case 'reload': {
          // The pv moved: read the subnet; undo what its rules forbid, else read again.
          const item = s.items[a];
          const forbidden =
            !permits(s.config, a, p.specific) ||
            (item?.delay !== undefined && item.delay !== s.config.delay);
          p.view = s.config;
          p.pc = !forbidden ? 'readAfter' : v.phantoms === 'decide' ? 'awaitRecount' : 'undo';
          return;
        }
        case 'awaitDelete': // (decide) Read the subnet again until the delete is over.
          if (s.mode === 'closed' && !s.deleted) return BLOCKED;
          p.pc = s.deleted ? 'undo' : 'readAfter';
          return;
        case 'awaitRecount': {
          // (decide) Read the subnet again until the recount is done: a stamped item is
          // an allocation it counted (made before the change took effect); else undo.
          if (s.recounted < s.config.pv) return BLOCKED;
          const kept = isMine(s, a, p.id) && s.items[a]?.kept === s.recounted;
          p.view = s.config;
          p.pc = kept ? 'readAfter' : 'undo';
          return;
        }
        case 'reconcile': // ConditionCheck (reqToken) + DELETE free :o, lower soon.
          if (isMine(s, a, p.id)) {
            removeFree(s, a);
            if (v.lowerSoon) s.soon = lower(s.soon, s.items[a]?.freeAt ?? null);
          }
          p.pc = 'answer';
          return;
        case 'undo': // Taken back, shaped as a release (the shard may be sealing or exact).
          if (isMine(s, a, p.id)) releaseWithCounter(s, a, p.id, 0, v);
          if (s.shown.includes(p.id))
            return `a reader was shown ${p.id}'s allocation of ${a}, which it then undid (a phantom)`;
          s.unmade = [...s.unmade, p.id].sort();
          return answer(s.mode === 'closed' ? 'notFound' : 'retry');
        case 'answer':
          return answerAllocation();
        case 'exactWrite': {
          // Put + DELETE free :o (and soon lowered) on contains(free, :o) AND mode = exact
          // AND pv = :pv.
          const view = p.view as Config;
          if (s.mode !== 'exact' || !s.free.includes(a) || s.config.pv !== view.pv)
            return answer('retry');
          const take = mayTake();
          if (typeof take === 'string') return take;
          if (!take) {
            p.oldFreeAt = s.items[a]?.freeAt ?? null;
            p.pc = 'exactFix'; // A late fast write: the set listed a taken address.
            return;
          }
          const freeAt = p.lease === undefined ? null : s.now + p.lease + view.delay;
          s.items[a] = {
            holder: p.id,
            freeAt,
            specific: p.specific,
            allowed: true,
            pv: view.pv,
            ...(p.lease === undefined ? {} : { delay: view.delay }),
          };
          removeFree(s, a);
          if (v.lowerSoon) s.soon = lower(s.soon, freeAt);
          return answerAllocation();
        }
        case 'exactFix': // ConditionCheck the item is live + DELETE free :o (+ lower soon).
          if (!isFree(s, a)) {
            removeFree(s, a);
            // Its writer may never reconcile (it crashed, or it answered in the window):
            // nobody else would cover its lease's end.
            if (v.exactFixLowersSoon) s.soon = lower(s.soon, p.oldFreeAt ?? null);
          }
          return answer('retry');
      }
      return;
    case 'release':
      switch (p.pc) {
        case 'start':
          p.seen = s.mode;
          p.view = s.config;
          p.pc = v.releaseWithCounter ? 'release' : 'delete';
          return;
        case 'release': {
          // Delete (or tombstone) + (ConditionCheck mode = fast | ADD free :o / lower soon
          // on mode <> fast), and pv = :pv where releaseChecksPv.
          if (!counterShapeHolds()) {
            p.pc = 'start'; // The condition failed: read the counter again.
            return;
          }
          if (!holds(s, a, p.id)) return answer('gone');
          const delay = (p.view as Config).delay;
          if (delay !== s.config.delay)
            return `${p.id} released with reuse delay ${delay} after ${s.config.delay} was set`;
          releaseWithCounter(s, a, p.id, delay, v);
          return answer('ok');
        }
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
    case 'renew':
      switch (p.pc) {
        case 'start':
          p.seen = s.mode;
          p.view = s.config;
          p.pc = v.renewWithCounter ? 'renew' : 'update';
          return;
        case 'renew': {
          // UpdateItem freeAt (reqToken, live) + (ConditionCheck mode = fast | lower soon
          // on mode <> fast): shaped as a release.
          if ((s.mode === 'fast') !== (p.seen === 'fast')) {
            p.pc = 'start';
            return;
          }
          const freeAt = renewItem(s, p);
          if (freeAt === undefined) return answer('gone');
          if (s.mode !== 'fast' && v.lowerSoon) s.soon = lower(s.soon, freeAt);
          return answer('ok');
        }
        case 'update': // The page's "read-after, reconcile": the UpdateItem alone...
          if (renewItem(s, p) === undefined) return answer('gone');
          p.pc = 'readAfter';
          return;
        case 'readAfter': // ...then the counter...
          if (s.mode === 'fast') return answer('ok');
          p.pc = 'reconcile';
          return;
        case 'reconcile': // ...and lowering soon (ConditionCheck reqToken).
          if (isMine(s, a, p.id) && v.lowerSoon) s.soon = lower(s.soon, s.items[a]?.freeAt ?? null);
          return answer('ok');
      }
      return;
    case 'seal':
      switch (p.pc) {
        case 'start':
          if (!v.fenceFirst) {
            if (s.mode !== 'fast') return answer('skip');
          } else if (s.mode === 'fast') {
            s.mode = 'sealing'; // The fence, with a fresh epoch.
            s.epoch += 1;
          } else if (s.mode !== 'sealing') return answer('skip');
          // Found sealing (a crashed or slow sealer): finish its work, same epoch.
          p.epoch = s.epoch;
          p.pc = 'query';
          return;
        case 'query': // Strongly consistent Query of the shard's allocation items.
          p.computed = s.items.flatMap((_, i) =>
            isFree(s, i) && (v.freeListsAllOffsets || s.config.pools.includes(i)) ? [i] : [],
          );
          p.computedSoon = s.items.reduce<number | null>(
            (least, item, i) => (isFree(s, i) ? least : lower(least, item?.freeAt ?? null)),
            null,
          );
          p.pc = 'publish';
          return;
        case 'publish': {
          const from = v.fenceFirst ? 'sealing' : 'fast';
          if (s.mode !== from || (v.sealEpoch && s.epoch !== p.epoch)) return answer('skip');
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
          if (fenceRefused()) return;
          if (v.deleteOwnsFence && s.mode === 'closed') return answer('busy');
          p.before = s.mode;
          s.mode = 'closed';
          s.closer = p.id;
          p.pc = 'query';
          return;
        case 'query':
          if (s.items.some((_, i) => !isFree(s, i))) {
            p.pc = 'reopen';
            return;
          }
          // With readers the subnet's removal is its own write (a reader may come between).
          if (s.procs.some((q) => q.kind === 'read')) {
            p.pc = 'remove';
            return;
          }
          s.deleted = true;
          return answer('deleted');
        case 'remove': // TransactWriteItems: the subnet and its counters deleted.
          s.deleted = true;
          return answer('deleted');
        case 'reopen':
          if (!v.deleteOwnsFence || s.closer === p.id) {
            s.mode = p.before ?? 'fast';
            s.closer = null;
          }
          return answer('inUse');
      }
      return;
    case 'patch': {
      if (p.pc === 'recount') return recount(s, p, v, answer);
      // One TransactWriteItems: the subnet, every counter's pv + 1, and for a new
      // gateway a ConditionCheck that no live item holds it.
      if (fenceRefused()) return;
      const change = p.change ?? {};
      if (change.gateway !== undefined && change.gateway !== null && !isFree(s, change.gateway))
        return answer('ipAlreadyAllocated');
      p.view = s.config; // The rules before (the recount's stamps look at them).
      s.config = { ...s.config, ...change, pv: s.config.pv + 1 };
      // Existing allocations stay where they are: an item that fits the new rules is
      // one the rules allowed at this moment.
      s.items = s.items.map((item, i) =>
        item === null || item.allowed !== false || !fits(s.config, i, item)
          ? item
          : { ...item, allowed: true },
      );
      if (v.phantoms !== 'none') {
        p.pc = 'recount'; // Then the recount reads the truth (and stamps what it keeps).
        return;
      }
      return answer('patched');
    }
    case 'read':
      return read(s, p, v, answer);
    case 'checkFull':
      // Read the subnet (its pools, its pv), then the counter. Where nothing changes the
      // subnet, reading it apart makes no order that reading both at once does not.
      if (p.pc === 'start') {
        p.view = s.config;
        p.pc = 'read';
        if (s.procs.some((q) => q.kind === 'patch')) return;
      }
      return readFull(s, p, v, answer);
  }
  return;
}

/**
 * "Full?": a consistent read of the counter, beside the subnet read before it: full =
 * exact, nothing free in the pools, soon ahead.
 */
function readFull(
  s: State,
  p: Proc,
  v: Variant,
  answer: (what: string) => undefined,
): string | undefined {
  const view = p.view as Config;
  if (v.fullChecksPv && s.config.pv !== view.pv) return answer('retry');
  const listed = v.freeListsAllOffsets ? s.free.filter((i) => view.pools.includes(i)) : s.free;
  const full = s.mode === 'exact' && listed.length === 0 && (s.soon === null || s.soon > s.now);
  if (!full) return answer('notFull');
  const free = s.config.pools.find((i) => isFree(s, i));
  if (free !== undefined) return `SUBNET_EXHAUSTED while address ${free} is free`;
  return answer('full');
}

/**
 * A PATCH's recount (phantoms ≠ none): a consistent Query of the shard, then a
 * conditional UpdateItem (reqToken) per live item the new rules forbid that the old
 * ones allowed (or that the last recount kept): `kept = pv`. Not on the new gateway: a
 * live item there was written after the commit (the ConditionCheck saw none). Then the
 * subnet records `recounted = pv`. One step: the scenarios have at most one such item.
 */
function recount(s: State, p: Proc, v: Variant, answer: (what: string) => undefined) {
  const before = p.view as Config;
  const c = s.config;
  s.items = s.items.map((item, i) => {
    if (item === null || isFree(s, i) || fits(c, i, item) || i === c.gateway) return item;
    if (!fits(before, i, item) && item.kept !== before.pv) return item;
    // (decide) The change takes effect, for allocations, at this query: what it keeps
    // was made under the rules then in force.
    return { ...item, kept: c.pv, ...(v.phantoms === 'decide' ? { allowed: true } : {}) };
  });
  s.recounted = c.pv;
  return answer('patched');
}

/**
 * A reader: GET /subnets/{id}/allocations/{address}, strongly consistent, as two reads
 * (the subnet with its counter, and the allocation item) in the variant's order.
 */
function read(
  s: State,
  p: Proc,
  v: Variant,
  answer: (what: string) => undefined,
): string | undefined | typeof BLOCKED {
  const a = p.address;
  const readItem = () => {
    const item = s.items[a];
    p.got = item === null || item === undefined || isFree(s, a) ? null : item;
  };
  const readSubnet = () => {
    p.sub = { deleted: s.deleted, config: s.config, mode: s.mode, recounted: s.recounted };
  };
  if (p.pc === 'start') {
    // (decide) A retry waits for the change it saw to be over.
    const inChange = (s.mode === 'closed' && !s.deleted) || s.recounted < s.config.pv;
    if (p.retry === true && inChange) return BLOCKED;
    if (v.readerItemFirst) readItem();
    else readSubnet();
    p.pc = 'second';
    return;
  }
  // The third read: the item again, after a subnet read that showed the recount done
  // (the first read of it may have come before the recount's stamp).
  const third = p.pc === 'third';
  if (third || !v.readerItemFirst) {
    if (p.sub?.deleted !== true) readItem();
  } else readSubnet();
  const sub = p.sub as SubnetSeen;
  const got = sub.deleted ? (s.items[a] ?? null) : (p.got ?? null);
  const retry = (): undefined => {
    p.pc = 'start';
    p.retry = true;
    return undefined;
  };
  const hide = (what: string) => {
    if (got !== null && !isFreeItem(got, s.now) && s.shown.includes(got.holder))
      return `a reader was shown ${got.holder}'s allocation of ${a}, then a later one ${what} while it was live`;
    return answer(what);
  };
  if (sub.deleted) return hide('404');
  if (v.phantoms === 'decide' && sub.mode === 'closed') return retry();
  if (got === null) return answer('free');
  if (v.phantoms !== 'none' && (got.pv ?? 1) < sub.config.pv && !fits(sub.config, a, got)) {
    const stampable = a !== sub.config.gateway;
    const stamped = got.kept === sub.config.pv;
    if (stampable && !stamped && sub.recounted >= sub.config.pv && v.readerItemFirst && !third) {
      p.pc = 'third';
      return;
    }
    if (!stampable || (!stamped && sub.recounted >= sub.config.pv)) return hide('free');
    if (!stamped) return v.phantoms === 'decide' ? retry() : hide('free');
  }
  if (s.unmade.includes(got.holder))
    return `a reader was shown ${got.holder}'s allocation of ${a}, which it answered as not made (a phantom)`;
  if (!s.shown.includes(got.holder)) s.shown = [...s.shown, got.holder].sort();
  return answer(`held:${got.holder}`);
}

const isFreeItem = (item: Item, now: number) => item.freeAt !== null && item.freeAt <= now;

/** A renewal's UpdateItem (reqToken, live): the new freeAt, or undefined if it is gone. */
function renewItem(s: State, p: Proc): number | undefined {
  const item = s.items[p.address];
  if (item === null || item === undefined || !holds(s, p.address, p.id)) return undefined;
  const freeAt = s.now + (p.lease ?? 0) + s.config.delay;
  s.items[p.address] = { ...item, freeAt };
  return freeAt;
}

/** The promises checked once every process is done (or crashed). */
function finalCheck(s: State): string | undefined {
  // A freeze nobody will remove: the window never moves on again (every allocation
  // then pays the read after). Liveness, not safety: the audit must remove it.
  if (s.frozen.length > 0) return `the window is left frozen by ${s.frozen.join(', ')}`;
  if (s.mode === 'exact') {
    const soonPassed = s.soon !== null && s.soon <= s.now;
    const expired = (i: number) => s.items[i] !== null || s.swept.includes(i);
    const missed = s.items.findIndex(
      (_, i) => isFree(s, i) && !s.free.includes(i) && (!expired(i) || !soonPassed),
    );
    if (missed >= 0) return `exact free set misses free address ${missed}`;
  }
  if (s.deleted && s.items.some((_, i) => !isFree(s, i)))
    return 'a deleted subnet still holds an allocation';
  if (s.mode === 'closed' && !s.deleted) return 'a subnet that was not deleted is left closed';
  const forbidden = s.items.findIndex((item, i) => item?.allowed === false && !isFree(s, i));
  if (forbidden >= 0) return `an allocation of ${forbidden} the rules forbade is left behind`;
  if (s.deleted && s.mode !== 'closed') return 'a deleted subnet has open counters';
  return undefined;
}

/** Every interleaving of the scenario's processes, depth first, each state once. */
export function search(scenario: Scenario, variant: Variant = PROTOCOL): SearchResult {
  const start: State = {
    items: scenario.items.map((item) =>
      typeof item === 'string' ? { holder: item, freeAt: null } : item,
    ),
    now: 0,
    config: {
      pv: 1,
      pools: scenario.pools ?? scenario.items.map((_, i) => i),
      gateway: scenario.gateway ?? null,
      delay: scenario.delay ?? 0,
    },
    mode: scenario.mode,
    free: [...(scenario.free ?? [])],
    soon: scenario.soon ?? null,
    epoch: 0,
    closer: null,
    procs: scenario.procs.map((spec, i) => ({
      kind: spec.kind,
      id: 'id' in spec && spec.id !== undefined ? spec.id : `${spec.kind}${i}`,
      address: 'address' in spec ? spec.address : -1,
      lease: 'lease' in spec ? spec.lease : undefined,
      specific: 'specific' in spec && spec.specific === true,
      change: 'change' in spec ? spec.change : undefined,
      skew: 'skew' in spec && spec.skew !== undefined ? spec.skew : 0,
      extends: 'extends' in spec && spec.extends === true,
      pc: 'start',
    })),
    answers: [],
    trace: [],
    deleted: false,
    swept: [],
    stableUntil: scenario.stableUntil ?? 0,
    frozen: [],
    epsilon: scenario.epsilon ?? 1,
    windowLength: scenario.window ?? 2,
    recounted: 1,
    shown: [],
    unmade: [],
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
    const runnable = s.procs.filter((p) => p.pc !== 'done' && p.pc !== 'crashed');
    if (runnable.length === 0) {
      const broken = finalCheck(s);
      if (broken !== undefined)
        return {
          states: seen.size,
          violation: `${broken} (answers: ${s.answers.join(', ')})`,
          answers: [...answers],
          trace: s.trace,
        };
      continue;
    }
    let moved = false;
    for (const p of runnable) {
      const i = s.procs.indexOf(p);
      const next = copy(s);
      next.trace.push(`${p.id}.${p.pc}`);
      const broken = step(next, next.procs[i] as Proc, variant);
      if (broken === BLOCKED) continue;
      moved = true;
      if (broken !== undefined)
        return {
          states: seen.size,
          violation: `${broken} (answers: ${s.answers.join(', ')})`,
          answers: [...answers],
          trace: next.trace,
        };
      stack.push(next);
      // A crash between two requests: the process never runs again (one that has not
      // begun is no different from one that never existed; a changer has begun once it
      // froze the window).
      const begun = p.pc !== 'start' || p.gate !== undefined;
      if (scenario.crashes?.includes(p.id) === true && begun) {
        const crashed = copy(s);
        (crashed.procs[i] as Proc).pc = 'crashed';
        crashed.answers.push(`${p.id}:crashed`);
        stack.push(crashed);
      }
    }
    // Every process left waits on one that will never act (it crashed): they time out,
    // like crashed Lambdas, and what is left must keep the promises.
    const broken = moved ? undefined : finalCheck(s);
    if (broken !== undefined)
      return {
        states: seen.size,
        violation: `${broken}, processes left waiting (answers: ${s.answers.join(', ')})`,
        answers: [...answers],
        trace: s.trace,
      };
  }
  return { states: seen.size, answers: [...answers].sort() };
}

const itemKey = (item: Item) =>
  `${item.holder}@${item.freeAt}${item.specific ? 's' : ''}${item.allowed === false ? '!' : ''}/${item.delay ?? ''}/${item.pv ?? ''}/${item.kept ?? ''}`;

/** What decides the future of a state (the answers only report the past). */
function keyOf(s: State): string {
  const items = s.items.map((item) => (item === null ? '-' : itemKey(item)));
  const config = (c: Config | undefined) =>
    c === undefined ? '' : `${c.pv}:${c.pools.join('.')}:${c.gateway}:${c.delay}`;
  const procs = s.procs.map(
    (p) =>
      `${p.pc}/${p.seen ?? ''}/${config(p.view)}/${p.computed ?? ''}/${p.computedSoon ?? ''}/${p.before ?? ''}/${p.epoch ?? ''}/${p.stableSeen ?? ''}/${p.gate ?? ''}/${p.oldFreeAt ?? ''}/${p.got === undefined ? '' : p.got === null ? '-' : itemKey(p.got)}/${p.sub === undefined ? '' : `${p.sub.deleted}${config(p.sub.config)}${p.sub.mode}${p.sub.recounted}`}/${p.retry ?? ''}`,
  );
  return `${items.join()}|${s.swept.join()}|${s.now}|${config(s.config)}|${s.mode}|${s.free.join()}|${s.soon}|${s.epoch}|${s.closer}|${s.deleted}|${s.stableUntil}|${s.frozen.join('.')}|${s.recounted}|${s.shown.join()}|${s.unmade.join()}|${procs.join(';')}`;
}

function copy(s: State): State {
  return {
    ...s,
    items: [...s.items],
    free: [...s.free],
    procs: s.procs.map((p) => ({ ...p })),
    answers: [...s.answers],
    trace: [...s.trace],
  };
}
