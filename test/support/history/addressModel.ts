/**
 * The sequential model of one address of one subnet: what the API promises about
 * it, as a pure `step(state, input, output)`. Operations on several addresses are
 * projected onto each address they touch (./projection.ts) before they get here.
 *
 * State: the subnet is deleted or not; the address is the gateway or not, in the
 * pools or not; free or held with the holder's fields. A lease whose `expiresAt`
 * is at or before the operation's linearization point behaves as free; that point
 * lies somewhere in the operation's wall-clock window, so near the expiry both
 * readings are possible and the model answers both states.
 */
import type { Model, StepResult } from './linearizability.js';
import type { AllocationFields, Outcome } from './types.js';

/** Lease expiry in ms since the epoch: exact once a response showed it, else a range. */
export interface Expiry {
  readonly min: number;
  readonly max: number;
}

export interface Holder {
  readonly owner: string | null;
  readonly description: string | null;
  readonly tags: Readonly<Record<string, string>>;
  readonly macAddress: string | null;
  readonly expiry: Expiry | null;
}

export interface AddressState {
  readonly deleted: boolean;
  readonly gateway: boolean;
  readonly inPools: boolean;
  readonly holder: Holder | null;
}

/** The service-clock window in which the operation took effect. */
export interface Window {
  readonly lo: number;
  readonly hi: number;
}

export interface AllocateRequest {
  readonly owner: string | null;
  readonly description: string | null;
  readonly tags: Readonly<Record<string, string>>;
  readonly ttlSeconds: number | undefined;
}

/** An operation as one address sees it. */
export type AddressInput = { readonly window: Window; readonly ip: string } & (
  | { readonly kind: 'allocateSpecific'; readonly request: AllocateRequest }
  /** Picked by strategy (random, sequential, count): only pool addresses, never the gateway. */
  | { readonly kind: 'allocatePicked'; readonly request: AllocateRequest }
  | { readonly kind: 'release'; readonly owner: string | undefined }
  | {
      readonly kind: 'update';
      readonly patch: {
        readonly owner?: string | null;
        readonly description?: string | null;
        readonly tags?: Readonly<Record<string, string>>;
        readonly ttlSeconds?: number;
      };
    }
  | { readonly kind: 'get' }
  /** A subnet PATCH that took effect: this address's new role. */
  | {
      readonly kind: 'configure';
      /** Undefined: the PATCH (ambiguous) did not say, the role stays. */
      readonly gateway: boolean | undefined;
      readonly inPools: boolean | undefined;
    }
  /** A subnet PATCH refused with IP_ALREADY_ALLOCATED because this address, the new gateway, is held. */
  | { readonly kind: 'gatewayRefused' }
  | { readonly kind: 'deleteSubnet' }
  /** Any operation answered SUBNET_NOT_FOUND (a picked allocation, a list…). */
  | { readonly kind: 'subnetMissing' }
);

const fail = (reason: string): StepResult<AddressState> => ({ ok: false, reason });
const states = (...list: AddressState[]): StepResult<AddressState> => ({ ok: true, states: list });

/** The model used by the checker for every address partition. */
export const addressModel: Model<AddressState, AddressInput, Outcome> = {
  key: (state) => JSON.stringify(state),
  step(state, input, output) {
    // A lease near its expiry: try both readings (an expired lease is free, for good).
    const readings = expiryReadings(state, input.window);
    const next: AddressState[] = [];
    const reasons: string[] = [];
    for (const reading of readings) {
      const result = stepAt(reading, input, output);
      if (result.ok) next.push(...result.states);
      else reasons.push(result.reason);
    }
    return next.length > 0 ? { ok: true, states: dedupe(next) } : fail(reasons.join('; '));
  },
};

function stepAt(
  state: AddressState,
  input: AddressInput,
  output: Outcome,
): StepResult<AddressState> {
  const ambiguous = output.status === 'ambiguous';
  if (state.deleted) {
    if (ambiguous) return states(state);
    if (output.status === 'error' && output.code === 'SUBNET_NOT_FOUND') return states(state);
    return fail(`subnet deleted, yet ${describeOutcome(output)}`);
  }
  if (output.status === 'error' && output.code === 'SUBNET_NOT_FOUND')
    return fail('SUBNET_NOT_FOUND while the subnet exists');
  const held = state.holder;
  switch (input.kind) {
    case 'allocateSpecific':
    case 'allocatePicked': {
      const picked = input.kind === 'allocatePicked';
      const allowed = held === null && !state.gateway && (!picked || state.inPools);
      if (ambiguous) {
        const took = allowed
          ? [{ ...state, holder: requestedHolder(input.request, input.window) }]
          : [];
        return states(state, ...took);
      }
      if (output.status === 'ok') {
        if (held !== null) return fail(`allocated while held by ${JSON.stringify(held.owner)}`);
        if (state.gateway) return fail('allocated the gateway');
        if (picked && !state.inPools) return fail('picked an address outside the pools');
        const view = output.value as AllocationFields;
        const expected = requestedHolder(input.request, input.window);
        const mismatch = holderMismatch(expected, view);
        if (mismatch !== undefined) return fail(`allocation answered ${mismatch}`);
        return states({ ...state, holder: holderOf(view) });
      }
      if (output.code === 'IP_ALREADY_ALLOCATED') {
        if (held === null) return fail('IP_ALREADY_ALLOCATED while free');
        if ('owner' in output.details && output.details.owner !== held.owner)
          return fail(
            `IP_ALREADY_ALLOCATED names ${JSON.stringify(output.details.owner)}, the holder is ${JSON.stringify(held.owner)}`,
          );
        return states(state);
      }
      if (output.code === 'IP_RESERVED') {
        return state.gateway
          ? states(state)
          : fail('IP_RESERVED for an address that is not the gateway');
      }
      // Other definite refusals (validation, out of subnet…) change nothing.
      return states(state);
    }
    case 'release': {
      const mayRelease = held !== null && (input.owner === undefined || held.owner === input.owner);
      if (ambiguous) return states(state, ...(mayRelease ? [{ ...state, holder: null }] : []));
      if (output.status === 'ok') {
        if (held === null) return fail('released while free');
        if (!mayRelease)
          return fail(
            `release ?owner=${input.owner} succeeded while held by ${JSON.stringify(held.owner)}`,
          );
        return states({ ...state, holder: null });
      }
      if (output.code === 'OWNER_MISMATCH') {
        if (held === null) return fail('OWNER_MISMATCH while free');
        if (held.owner === input.owner) return fail('OWNER_MISMATCH while held by that owner');
        if ('owner' in output.details && output.details.owner !== held.owner)
          return fail(
            `OWNER_MISMATCH names ${JSON.stringify(output.details.owner)}, the holder is ${JSON.stringify(held.owner)}`,
          );
        return states(state);
      }
      if (output.code === 'ALLOCATION_NOT_FOUND')
        return held === null
          ? states(state)
          : fail(`ALLOCATION_NOT_FOUND while held by ${JSON.stringify(held.owner)}`);
      return states(state);
    }
    case 'update': {
      if (ambiguous) {
        return states(
          state,
          ...(held === null ? [] : [{ ...state, holder: patched(held, input) }]),
        );
      }
      if (output.status === 'ok') {
        if (held === null) return fail('PATCH succeeded while free');
        const view = output.value as AllocationFields;
        const mismatch = holderMismatch(patched(held, input), view);
        if (mismatch !== undefined) return fail(`PATCH answered ${mismatch}`);
        return states({ ...state, holder: holderOf(view) });
      }
      if (output.code === 'ALLOCATION_NOT_FOUND')
        return held === null
          ? states(state)
          : fail(`PATCH: ALLOCATION_NOT_FOUND while held by ${JSON.stringify(held.owner)}`);
      return states(state);
    }
    case 'get': {
      if (ambiguous) return states(state);
      if (output.status === 'ok') {
        if (held === null) return fail('GET found an allocation while free');
        const view = output.value as AllocationFields;
        const mismatch = holderMismatch(held, view);
        if (mismatch !== undefined) return fail(`GET answered ${mismatch}`);
        return states({ ...state, holder: holderOf(view) });
      }
      if (output.code === 'ALLOCATION_NOT_FOUND')
        return held === null
          ? states(state)
          : fail(`GET: ALLOCATION_NOT_FOUND while held by ${JSON.stringify(held.owner)}`);
      return states(state);
    }
    case 'configure': {
      const gateway = input.gateway ?? state.gateway;
      const becomesGateway = gateway && !state.gateway;
      // The promise of the gateway fence: the gateway is never somebody's address.
      const allowed = !(becomesGateway && held !== null);
      const after = { ...state, gateway, inPools: input.inPools ?? state.inPools };
      if (ambiguous) return states(state, ...(allowed ? [after] : []));
      if (!allowed) return fail(`became the gateway while held by ${JSON.stringify(held?.owner)}`);
      return states(after);
    }
    case 'gatewayRefused':
      return held !== null || ambiguous
        ? states(state)
        : fail('gateway move refused with IP_ALREADY_ALLOCATED while free');
    case 'deleteSubnet': {
      const after = { deleted: true, gateway: false, inPools: false, holder: null };
      if (ambiguous) return states(state, ...(held === null ? [after] : []));
      if (output.status === 'ok') {
        return held === null
          ? states(after)
          : fail(`subnet deleted while held by ${JSON.stringify(held.owner)}`);
      }
      // SUBNET_IN_USE is a claim about some address, checked across addresses, not here.
      return states(state);
    }
    case 'subnetMissing':
      return ambiguous ? states(state) : fail('SUBNET_NOT_FOUND while the subnet exists');
  }
}

/** The states an address may be in at a point of `window`: a lease near expiry is both. */
function expiryReadings(state: AddressState, window: Window): AddressState[] {
  const expiry = state.holder?.expiry;
  if (expiry === undefined || expiry === null) return [state];
  const free = { ...state, holder: null };
  if (expiry.max <= window.lo) return [free];
  if (expiry.min > window.hi) return [state];
  return [state, free];
}

/** The holder a request asks for; a lease's expiry is known to lie in a range until a response shows it. */
function requestedHolder(request: AllocateRequest, window: Window): Holder {
  return {
    owner: request.owner,
    description: request.description,
    tags: sortedTags(request.tags),
    macAddress: null,
    expiry: request.ttlSeconds === undefined ? null : leaseRange(request.ttlSeconds, window),
  };
}

function leaseRange(ttlSeconds: number, window: Window): Expiry {
  // The service computes floor(now / 1000) + ttl seconds, now inside the window.
  return {
    min: (Math.floor(window.lo / 1000) + ttlSeconds) * 1000,
    max: Number.isFinite(window.hi)
      ? (Math.floor(window.hi / 1000) + ttlSeconds) * 1000
      : Number.POSITIVE_INFINITY,
  };
}

function patched(held: Holder, input: Extract<AddressInput, { kind: 'update' }>): Holder {
  const { patch } = input;
  return {
    owner: patch.owner === undefined ? held.owner : patch.owner,
    description: patch.description === undefined ? held.description : patch.description,
    tags: sortedTags(patch.tags ?? held.tags),
    macAddress: held.macAddress,
    expiry:
      patch.ttlSeconds === undefined ? held.expiry : leaseRange(patch.ttlSeconds, input.window),
  };
}

function holderOf(view: AllocationFields): Holder {
  const at = view.expiresAt === null ? null : Date.parse(view.expiresAt);
  return {
    owner: view.owner,
    description: view.description,
    tags: sortedTags(view.tags),
    macAddress: view.macAddress,
    expiry: at === null ? null : { min: at, max: at },
  };
}

/** Why `view` cannot be `expected` (undefined when it can). A null expected MAC accepts any (EUI-64 requests). */
function holderMismatch(expected: Holder, view: AllocationFields): string | undefined {
  if (expected.owner !== view.owner)
    return `owner ${JSON.stringify(view.owner)}, expected ${JSON.stringify(expected.owner)}`;
  if (expected.description !== view.description)
    return `description ${JSON.stringify(view.description)}, expected ${JSON.stringify(expected.description)}`;
  if (JSON.stringify(sortedTags(expected.tags)) !== JSON.stringify(sortedTags(view.tags)))
    return `tags ${JSON.stringify(view.tags)}, expected ${JSON.stringify(expected.tags)}`;
  if (expected.macAddress !== null && expected.macAddress !== view.macAddress)
    return `macAddress ${view.macAddress}, expected ${expected.macAddress}`;
  const at = view.expiresAt === null ? null : Date.parse(view.expiresAt);
  if (
    expected.expiry === null
      ? at !== null
      : at === null || at < expected.expiry.min || at > expected.expiry.max
  )
    return `expiresAt ${view.expiresAt}, expected ${describeExpiry(expected.expiry)}`;
  return undefined;
}

function describeExpiry(expiry: Expiry | null): string {
  if (expiry === null) return 'none';
  const at = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : '∞');
  return expiry.min === expiry.max ? at(expiry.min) : `${at(expiry.min)}…${at(expiry.max)}`;
}

function sortedTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function dedupe(list: AddressState[]): AddressState[] {
  const seen = new Map<string, AddressState>();
  for (const state of list) seen.set(JSON.stringify(state), state);
  return [...seen.values()];
}

export function describeOutcome(output: Outcome): string {
  if (output.status === 'ok') {
    const value = output.value as Partial<AllocationFields> | undefined;
    return value !== undefined && value !== null && typeof value === 'object' && 'owner' in value
      ? `ok (owner ${JSON.stringify(value.owner)})`
      : 'ok';
  }
  if (output.status === 'error')
    return `${output.code}${Object.keys(output.details).length > 0 ? ` ${JSON.stringify(output.details)}` : ''}`;
  return `ambiguous (${output.reason})`;
}
