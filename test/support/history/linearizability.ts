/**
 * A linearizability checker in the manner of Porcupine (anishathalye/porcupine,
 * checker.go): the Wing–Gong search over a doubly linked list of call and return
 * entries, with Lowe's memoisation of (set of linearized operations, model state),
 * so a (bitset, state) pair already explored is never explored again.
 *
 * Two extensions over Porcupine's `checkSingle`:
 * - `step` may answer several successor states (a nondeterministic model): an
 *   ambiguous write either happened or not, a lease near its expiry either is live or
 *   not. Backtracking tries the remaining successors before moving on.
 * - an operation whose outcome is unknown may be linearized anywhere in its window
 *   (the recorder closes it a while after the answer, see
 *   AMBIGUOUS_EFFECT_WINDOW_MS; an operation still running when the history ends
 *   has `return: Infinity`); with a model that lets it leave the state unchanged,
 *   it may also never have happened.
 *
 * The caller partitions the history first (P-compositionality: each address is an
 * independent object), so each search here is small.
 */

/** The answer of a sequential model to one operation applied to one state. */
export type StepResult<S> =
  | { readonly ok: true; readonly states: readonly S[] }
  | { readonly ok: false; readonly reason: string };

/** A sequential specification: a pure `step(state, input, output)`. */
export interface Model<S, I, O> {
  step(state: S, input: I, output: O): StepResult<S>;
  /** Equal states have equal keys (the memo table compares keys). */
  key(state: S): string;
}

/** One completed (or unfinished) operation of a concurrent history. */
export interface Operation<I, O> {
  readonly id: number;
  readonly client: string;
  readonly input: I;
  readonly output: O;
  /** Invocation time (monotonic ms, `performance.now()`). */
  readonly call: number;
  /** Response time; `Infinity` when the outcome is unknown (it may take effect any time after `call`). */
  readonly return: number;
}

export interface LinearizabilityResult {
  /** `unknown`: the search gave up after `maxSteps` (no verdict, like Porcupine's timeout). */
  readonly verdict: 'linearizable' | 'illegal' | 'unknown';
  /** Operation ids: a full linearization, or the longest partial one found. */
  readonly linearization: readonly number[];
  readonly steps: number;
}

interface Node {
  readonly opIndex: number;
  /** The matching return entry for a call entry; undefined for return entries. */
  readonly match: Node | undefined;
  prev: Node | undefined;
  next: Node | undefined;
}

interface Frame<S> {
  readonly node: Node;
  readonly before: S;
  readonly rest: readonly S[];
}

/** Decides whether `operations`, starting from `initial`, can be linearized against `model`. */
export function checkLinearizable<S, I, O>(
  model: Model<S, I, O>,
  initial: S,
  operations: readonly Operation<I, O>[],
  options: { maxSteps?: number } = {},
): LinearizabilityResult {
  const maxSteps = options.maxSteps ?? 1_000_000;
  const n = operations.length;
  const head = buildList(operations);
  const linearized = new Uint32Array(Math.ceil(n / 32) + 1);
  const memo = new Map<string, Set<string>>();
  const stack: Frame<S>[] = [];
  let longest: number[] = [];
  let state = initial;
  let steps = 0;

  const bitsKey = (extra: number) => {
    linearized[extra >>> 5]! ^= 1 << (extra & 31);
    const key = linearized.join(',');
    linearized[extra >>> 5]! ^= 1 << (extra & 31);
    return key;
  };
  /** The first of `candidates` not yet explored with `opIndex` linearized; marks it explored. */
  const claim = (opIndex: number, candidates: readonly S[]) => {
    const key = bitsKey(opIndex);
    let seen = memo.get(key);
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i] as S;
      const stateKey = model.key(candidate);
      if (seen?.has(stateKey)) continue;
      if (seen === undefined) {
        seen = new Set();
        memo.set(key, seen);
      }
      seen.add(stateKey);
      return { chosen: candidate, rest: candidates.slice(i + 1) };
    }
    return undefined;
  };
  const push = (node: Node, before: S, chosen: S, rest: readonly S[]) => {
    stack.push({ node, before, rest });
    state = chosen;
    linearized[node.opIndex >>> 5]! |= 1 << (node.opIndex & 31);
    lift(node);
    if (stack.length > longest.length) longest = stack.map((frame) => frame.node.opIndex);
  };

  let entry = head.next;
  while (head.next !== undefined) {
    if (++steps > maxSteps) return { verdict: 'unknown', linearization: ids(longest), steps };
    if (entry === undefined) break;
    if (entry.match !== undefined) {
      const op = operations[entry.opIndex] as Operation<I, O>;
      const result = model.step(state, op.input, op.output);
      const next = result.ok ? claim(entry.opIndex, result.states) : undefined;
      if (next !== undefined) {
        push(entry, state, next.chosen, next.rest);
        entry = head.next;
      } else {
        entry = entry.next;
      }
      continue;
    }
    // A return entry: the operation it closes had to be linearized by now. Backtrack.
    const top = stack.pop();
    if (top === undefined) return { verdict: 'illegal', linearization: ids(longest), steps };
    state = top.before;
    linearized[top.node.opIndex >>> 5]! &= ~(1 << (top.node.opIndex & 31));
    unlift(top.node);
    const retry = claim(top.node.opIndex, top.rest);
    if (retry !== undefined) {
      push(top.node, state, retry.chosen, retry.rest);
      entry = head.next;
    } else {
      entry = top.node.next;
    }
  }
  return { verdict: 'linearizable', linearization: ids(stack.map((f) => f.node.opIndex)), steps };

  function ids(indices: readonly number[]): number[] {
    return indices.map((index) => (operations[index] as Operation<I, O>).id);
  }
}

/** Call and return entries sorted by time (calls before returns at equal times), linked. */
function buildList<I, O>(operations: readonly Operation<I, O>[]): Node {
  const events: { time: number; isCall: boolean; opIndex: number }[] = [];
  operations.forEach((op, opIndex) => {
    events.push({ time: op.call, isCall: true, opIndex });
    events.push({ time: op.return, isCall: false, opIndex });
  });
  events.sort((a, b) =>
    a.time !== b.time ? a.time - b.time : a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1,
  );
  const head: Node = { opIndex: -1, match: undefined, prev: undefined, next: undefined };
  const returns = new Map<number, Node>();
  let tail = head;
  // Returns are created first so that calls can point at them.
  for (const event of events) {
    if (!event.isCall) {
      returns.set(event.opIndex, {
        opIndex: event.opIndex,
        match: undefined,
        prev: undefined,
        next: undefined,
      });
    }
  }
  for (const event of events) {
    const node: Node = event.isCall
      ? { opIndex: event.opIndex, match: returns.get(event.opIndex), prev: tail, next: undefined }
      : (returns.get(event.opIndex) as Node);
    node.prev = tail;
    tail.next = node;
    tail = node;
  }
  return head;
}

/** Takes a call entry and its return entry out of the list. */
function lift(call: Node): void {
  unlink(call);
  if (call.match !== undefined) unlink(call.match);
}

function unlink(node: Node): void {
  if (node.prev !== undefined) node.prev.next = node.next;
  if (node.next !== undefined) node.next.prev = node.prev;
}

/** Puts them back, in the reverse order of `lift`. */
function unlift(call: Node): void {
  const match = call.match;
  if (match !== undefined) relink(match);
  relink(call);
}

function relink(node: Node): void {
  if (node.prev !== undefined) node.prev.next = node;
  if (node.next !== undefined) node.next.prev = node;
}
