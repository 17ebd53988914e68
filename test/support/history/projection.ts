/**
 * P-compositionality: an API history becomes one history per address (each address
 * of each subnet is an independent object). Operations that span addresses are
 * projected onto every address they touch:
 * - a picked allocation (random, sequential, `count`) onto each address it answered;
 * - a subnet PATCH onto every address of interest (new role: gateway, in the pools);
 * - a subnet delete, and any SUBNET_NOT_FOUND answer, onto every address of interest.
 * "Addresses of interest" are those any operation named or answered, and the gateways.
 *
 * An ambiguous picked allocation took unknown addresses. It is added, as "may or
 * may not have happened", to the history of each address where its owner was
 * later seen (a read, a 409's `details.owner`, a PATCH answer) — so give every
 * allocate request its own owner when outcomes can be ambiguous.
 */
import { formatIp, parseIp } from '../../../shared/net/address.js';
import type { AddressInput, AddressState, AllocateRequest } from './addressModel.js';
import type { Operation } from './linearizability.js';
import type { AllocationFields, ApiOperation, Outcome, PoolRange, SubnetStart } from './types.js';

export type AddressOperation = Operation<AddressInput, Outcome> & { readonly source: ApiOperation };

export interface Partition {
  /** `<subnetId> <ip>` */
  readonly key: string;
  readonly initial: AddressState;
  readonly operations: AddressOperation[];
}

const ambiguousOutcome = (reason: string): Outcome => ({ status: 'ambiguous', reason });

export function canonicalIp(text: string): string {
  return formatIp(parseIp(text));
}

/** The allocation views an allocate answered (in-process: an array; HTTP: `{allocations}`). */
export function allocationsOf(op: ApiOperation): AllocationFields[] {
  return op.input.kind === 'allocate' ? allocationViews(op.output) : [];
}

/** The allocation views of an allocate's outcome. */
export function allocationViews(output: Outcome): AllocationFields[] {
  if (output.status !== 'ok' || output.value === null || typeof output.value !== 'object')
    return [];
  const value = output.value as AllocationFields[] | { allocations?: AllocationFields[] };
  return Array.isArray(value) ? value : (value.allocations ?? []);
}

function inPools(pools: readonly PoolRange[], ip: string): boolean {
  const value = parseIp(ip).value;
  return pools.some(
    (pool) => parseIp(pool.start).value <= value && value <= parseIp(pool.end).value,
  );
}

/** Splits `history` into per-address histories (only subnets in `subnets` are checked). */
export function partitionHistory(
  history: readonly ApiOperation[],
  subnets: readonly SubnetStart[],
): Partition[] {
  const starts = new Map(subnets.map((subnet) => [subnet.id, subnet]));
  // Addresses of interest per subnet, and owners seen per address.
  const interest = new Map<string, Set<string>>();
  const ownersSeen = new Map<string, Set<string | null>>();
  const note = (subnetId: string, ip: string | null | undefined, owner?: string | null) => {
    if (ip === null || ip === undefined || !starts.has(subnetId)) return;
    const canonical = canonicalIp(ip);
    const set = interest.get(subnetId) ?? new Set<string>();
    interest.set(subnetId, set);
    set.add(canonical);
    if (owner !== undefined) {
      const key = `${subnetId} ${canonical}`;
      const owners = ownersSeen.get(key) ?? new Set<string | null>();
      ownersSeen.set(key, owners);
      owners.add(owner);
    }
  };
  for (const subnet of subnets) note(subnet.id, subnet.gatewayIp);
  for (const op of history) {
    const input = op.input;
    if ('ip' in input) note(input.subnetId, input.ip);
    if (input.kind === 'updateSubnet') note(input.subnetId, input.patch.gatewayIp);
    for (const view of allocationsOf(op)) note(input.subnetId, view.ip, view.owner);
    if (op.output.status === 'ok' && input.kind === 'updateSubnet')
      note(input.subnetId, (op.output.value as { gatewayIp?: string | null }).gatewayIp);
    if (op.output.status === 'ok' && (input.kind === 'update' || input.kind === 'get'))
      note(input.subnetId, input.ip, (op.output.value as AllocationFields).owner);
    if (op.output.status === 'error' && 'ip' in input && 'owner' in op.output.details)
      note(input.subnetId, input.ip, op.output.details.owner as string | null);
  }

  const partitions = new Map<string, Partition>();
  const partition = (subnetId: string, ip: string): Partition => {
    const key = `${subnetId} ${ip}`;
    let found = partitions.get(key);
    if (found === undefined) {
      const start = starts.get(subnetId) as SubnetStart;
      found = {
        key,
        initial: {
          deleted: false,
          gateway: start.gatewayIp !== null && canonicalIp(start.gatewayIp) === ip,
          inPools: inPools(start.allocationPools, ip),
          holder: null,
        },
        operations: [],
      };
      partitions.set(key, found);
    }
    return found;
  };
  let nextId = 0;
  const add = (
    op: ApiOperation,
    ip: string,
    input: AddressInputBody,
    output: Outcome = op.output,
  ) => {
    const subnetId = op.input.subnetId;
    const target = partition(subnetId, ip);
    target.operations.push({
      id: nextId++,
      client: op.client,
      input: {
        ...input,
        ip,
        window: {
          lo: op.wallCall,
          hi: op.wallReturn,
        },
      } as AddressInput,
      output,
      call: op.call,
      return: op.return,
      source: op,
    });
  };

  for (const op of history) {
    const input = op.input;
    if (!starts.has(input.subnetId)) continue;
    const everywhere = interest.get(input.subnetId) ?? new Set<string>();
    const missing = op.output.status === 'error' && op.output.code === 'SUBNET_NOT_FOUND';
    switch (input.kind) {
      case 'allocate': {
        const request: AllocateRequest = {
          owner: input.owner ?? null,
          description: input.description ?? null,
          tags: input.tags ?? {},
          ttlSeconds: input.ttlSeconds,
        };
        if (input.ip !== undefined) {
          const ip = canonicalIp(input.ip);
          const view = allocationsOf(op).find((v) => canonicalIp(v.ip) === ip);
          add(
            op,
            ip,
            { kind: 'allocateSpecific', request },
            view === undefined ? op.output : { status: 'ok', value: view },
          );
          break;
        }
        if (missing) {
          for (const ip of everywhere) add(op, ip, { kind: 'subnetMissing' });
          break;
        }
        for (const view of allocationsOf(op))
          add(
            op,
            canonicalIp(view.ip),
            { kind: 'allocatePicked', request },
            { status: 'ok', value: view },
          );
        if (op.output.status === 'ambiguous') {
          for (const ip of everywhere) {
            if (ownersSeen.get(`${input.subnetId} ${ip}`)?.has(request.owner))
              add(op, ip, { kind: 'allocatePicked', request });
          }
        }
        break;
      }
      case 'release':
        add(op, canonicalIp(input.ip), { kind: 'release', owner: input.owner });
        break;
      case 'update':
        add(op, canonicalIp(input.ip), { kind: 'update', patch: input.patch });
        break;
      case 'get':
        add(op, canonicalIp(input.ip), { kind: 'get' });
        break;
      case 'updateSubnet': {
        if (missing) {
          for (const ip of everywhere) add(op, ip, { kind: 'subnetMissing' });
          break;
        }
        if (op.output.status === 'error') {
          if (
            op.output.code === 'IP_ALREADY_ALLOCATED' &&
            typeof input.patch.gatewayIp === 'string'
          )
            add(op, canonicalIp(input.patch.gatewayIp), { kind: 'gatewayRefused' });
          break;
        }
        // The answer says the configuration in force; an ambiguous PATCH only what it asked for.
        const after =
          op.output.status === 'ok'
            ? (op.output.value as { gatewayIp: string | null; allocationPools: PoolRange[] })
            : input.patch;
        for (const ip of everywhere) {
          add(op, ip, {
            kind: 'configure',
            gateway:
              after.gatewayIp === undefined
                ? undefined
                : after.gatewayIp !== null && canonicalIp(after.gatewayIp) === ip,
            inPools:
              after.allocationPools === undefined ? undefined : inPools(after.allocationPools, ip),
          });
        }
        break;
      }
      case 'deleteSubnet':
        if (missing) for (const ip of everywhere) add(op, ip, { kind: 'subnetMissing' });
        else if (op.output.status !== 'error')
          for (const ip of everywhere) add(op, ip, { kind: 'deleteSubnet' });
        break;
    }
  }
  return [...partitions.values()];
}

/** An AddressInput without the fields every projection fills in. */
type AddressInputBody = AddressInput extends infer T
  ? T extends unknown
    ? Omit<T, 'ip' | 'window'>
    : never
  : never;

export function pendingAt(op: AddressOperation, cut: number): AddressOperation {
  return op.return <= cut
    ? op
    : {
        ...op,
        output: ambiguousOutcome('still running at the cut'),
        return: Number.POSITIVE_INFINITY,
        input: { ...op.input, window: { lo: op.input.window.lo, hi: Number.POSITIVE_INFINITY } },
      };
}
