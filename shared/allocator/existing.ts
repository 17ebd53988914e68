/**
 * Operations on one existing allocation: get, update (owner, description, tags,
 * lease renewal) and release (optionally only if a given owner holds it).
 */
import {
  AllocationContentionError,
  AllocationNotFoundError,
  OwnerMismatchError,
} from '../errors.js';
import { formatIp, type IpAddress } from '../net/address.js';
import { type IpamContext, type Who, whoOf, writerStamps } from '../store/context.js';
import { backoffMs, RETRY, retryRead, sleep } from '../store/retry.js';
import { geometryOf, positionOf } from '../subnets/geometry.js';
import type { Subnet } from '../subnets/subnet.js';
import { loadSubnet } from '../subnets/subnets.js';
import {
  type AllocationItem,
  type AllocationView,
  leaseFields,
  newRevision,
  viewFromItem,
  withOwnerIndex,
} from './items.js';
import { nowSeconds, readAllocation } from './reads.js';
import { transact } from './transact.js';
import type { SubnetViews } from './views.js';
import {
  counterWrite,
  leaseWrite,
  type PlannedWrite,
  releaseWrites,
  unchangedSince,
} from './writes.js';

export interface UpdateAllocationInput {
  readonly owner?: string | null;
  readonly description?: string | null;
  readonly tags?: Record<string, string>;
  readonly ttlSeconds?: number;
}

/** The live allocation of `ip` in the subnet, or AllocationNotFound. */
export async function getAllocation(
  ctx: IpamContext,
  subnetId: string,
  ip: IpAddress,
): Promise<AllocationView> {
  const subnet = await loadSubnet(ctx, subnetId);
  addressIn(subnet, ip);
  const item = await readAllocation(ctx, subnet, ip);
  if (item === undefined) throw new AllocationNotFoundError(subnetId, formatIp(ip));
  return viewFromItem(item);
}

/** PATCH: owner, description, tags; ttlSeconds sets a new lease expiry from now. */
export async function updateAllocation(
  ctx: IpamContext,
  subnetId: string,
  ip: IpAddress,
  input: UpdateAllocationInput,
): Promise<AllocationView> {
  // The allocation this request changes: a retry never acts on a later one.
  let first: AllocationItem | undefined;
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const subnet = await loadSubnet(ctx, subnetId);
    addressIn(subnet, ip);
    const current = await readAllocation(ctx, subnet, ip);
    if (current === undefined || (first !== undefined && current.reqToken !== first.reqToken)) {
      // Released (and perhaps allocated again) since this request began.
      throw new AllocationNotFoundError(subnetId, formatIp(ip));
    }
    first ??= current;
    const g = geometryOf(subnet.cidr);
    const pos = positionOf(g, ip.value);
    const now = nowSeconds(ctx);
    const lease: Partial<AllocationItem> =
      input.ttlSeconds === undefined
        ? {}
        : {
            ...leaseFields(now + input.ttlSeconds, subnet.reuseDelaySeconds),
            // The delay it was decided on is this configuration's.
            pv: subnet.configVersion,
          };
    // The previous writer's request id must not stay on a change made without one.
    const { requestId: _previousRequest, ...kept } = current;
    const next: AllocationItem = {
      ...kept,
      owner: input.owner === undefined ? current.owner : input.owner,
      description: input.description === undefined ? current.description : input.description,
      tags: input.tags ?? current.tags,
      // A new lease end: held until it plus the cool-down in force now (the counter's
      // `pv` condition below fences that delay).
      ...lease,
      rev: newRevision(),
      updatedAt: new Date(ctx.now()).toISOString(),
      ...writerStamps(whoOf(ctx)),
    };
    // The old lease's cool-down start must not stay on a new lease without one.
    if (input.ttlSeconds !== undefined && lease.coolFrom === undefined) delete next.coolFrom;
    const writes: PlannedWrite[] = [
      {
        kind: 'item',
        value: ip.value,
        item: {
          Put: {
            TableName: ctx.tableName,
            Item: withOwnerIndex(next, ip),
            ...unchangedSince(current),
          },
        },
      },
    ];
    if (input.ttlSeconds !== undefined) {
      writes.push(leaseWrite(ctx, subnet, pos, now + input.ttlSeconds, now));
      // Always the counter, even with nothing to count: its `pv` condition fences the
      // new lease's cool-down (x = expiry + the delay) against a PATCH of the delay
      // that commits between this read of the subnet and this write.
      writes.push(counterWrite(ctx, subnet, pos.shard, 0, 0, current.ttl === undefined ? 1 : 0));
    }
    const lesson = await transact(
      ctx,
      writes,
      async () => (await retryRead(() => readAllocation(ctx, subnet, ip)))?.rev === next.rev,
    );
    if (lesson === undefined) return viewFromItem(next);
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `${formatIp(ip)} kept changing while it was being updated; retry.`,
  );
}

/**
 * Releases an address; with `owner`, only if that owner holds it. Acts only on
 * the allocation it first read: if that one is released meanwhile, the answer is
 * AllocationNotFound, never the release of its successor. With `who`, the release
 * note in the same transaction names the releaser for the history.
 */
export async function releaseAllocation(
  views: SubnetViews,
  subnetId: string,
  ip: IpAddress,
  owner?: string,
  who?: Who,
): Promise<void> {
  const ctx = views.ctx;
  let entry = await views.entry(subnetId);
  let first: AllocationItem | undefined;
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const subnet = entry.subnet;
    addressIn(subnet, ip);
    const g = geometryOf(subnet.cidr);
    const current = await readAllocation(ctx, subnet, ip);
    if (current === undefined || (first !== undefined && current.reqToken !== first.reqToken)) {
      // A cached subnet may be gone: then that is the answer.
      await loadSubnet(ctx, subnetId);
      throw new AllocationNotFoundError(subnetId, formatIp(ip));
    }
    first ??= current;
    // Checked on every read: a PATCH may have given the address to someone else.
    if (owner !== undefined && current.owner !== owner) {
      throw new OwnerMismatchError(formatIp(ip), owner, current.owner);
    }
    const pos = positionOf(g, ip.value);
    const leased = current.ttl !== undefined;
    const lesson = await transact(
      ctx,
      releaseWrites(ctx, subnet, pos, ip.value, current, owner, who),
      async () =>
        (await retryRead(() => readAllocation(ctx, subnet, ip)))?.reqToken !== current.reqToken,
    );
    if (lesson === undefined) {
      views.noteReleased(entry, pos, ip.value, leased);
      return;
    }
    // The pools or gateway changed (or the subnet went): decide again on fresh facts.
    if (lesson.subnetChanged) entry = await views.entry(subnetId, true);
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `${formatIp(ip)} kept changing while it was being released; retry.`,
  );
}

/** Requires `ip` to be an address of the subnet (else 404: no allocation can have it). */
function addressIn(subnet: Subnet, ip: IpAddress): void {
  if (
    ip.version !== subnet.cidr.version ||
    positionOf(geometryOf(subnet.cidr), ip.value).block < 0n
  ) {
    throw new AllocationNotFoundError(subnet.id, formatIp(ip));
  }
  const g = geometryOf(subnet.cidr);
  if (ip.value < g.network || ip.value >= g.network + g.size) {
    throw new AllocationNotFoundError(subnet.id, formatIp(ip));
  }
}
