/**
 * One allocation request: check it, pick candidates (specific, or by strategy),
 * reserve them, and on a lost race learn from the failed conditions and pick
 * again — bounded retries with back-off, then AllocationContention.
 */
import { randomBytes } from 'node:crypto';
import {
  AllocationContentionError,
  IpNotInSubnetError,
  IpReservedError,
  ValidationError,
} from '../errors.js';
import { LIMITS } from '../limits.js';
import { formatMac, type IpAddress } from '../net/address.js';
import { UNKNOWN_WHO, type Who } from '../store/context.js';
import { backoffMs, RETRY, sleep } from '../store/retry.js';
import type { BlockState } from '../subnets/blocks.js';
import { StaleSubnetError } from '../subnets/counters.js';
import { geometryOf } from '../subnets/geometry.js';
import type { Candidate } from './candidate.js';
import { type AllocationView, allocationView, type Details } from './items.js';
import { pick, Strategy } from './pick.js';
import { reserve } from './reserve.js';
import { specificAddress, specificCandidate } from './specific.js';
import type { SubnetViews } from './views.js';

/** An allocation request, its addresses already parsed (the edge parses them once). */
export interface AllocateInput {
  readonly ip?: IpAddress;
  readonly strategy?: Strategy;
  readonly count?: number;
  /** A 48-bit MAC address (as parseMac returns): allocate its EUI-64 address. */
  readonly macAddress?: bigint;
  readonly owner?: string | null;
  readonly description?: string | null;
  readonly tags?: Record<string, string>;
  readonly ttlSeconds?: number;
}

/** Allocates what `input` asks for in subnet `subnetId`, all or nothing. */
export async function allocate(
  views: SubnetViews,
  subnetId: string,
  input: AllocateInput,
  who: Who = UNKNOWN_WHO,
): Promise<AllocationView[]> {
  const ctx = views.ctx;
  const count = input.count ?? 1;
  if (!Number.isInteger(count) || count < 1 || count > LIMITS.bulkCount) {
    throw new ValidationError(`count must be an integer from 1 to ${LIMITS.bulkCount}.`, {
      field: 'count',
    });
  }
  if (count > 1 && (input.ip !== undefined || input.macAddress !== undefined)) {
    throw new ValidationError('count cannot be combined with ip or macAddress.', {
      field: 'count',
    });
  }
  if (input.ip !== undefined && input.macAddress !== undefined) {
    throw new ValidationError('Give ip or macAddress, not both.', { field: 'macAddress' });
  }
  let entry = await views.entry(subnetId);
  let specific: IpAddress | undefined;
  try {
    specific = specificAddress(entry.subnet, input);
  } catch (error) {
    // "Reserved" or "not usable" may come from a cached gateway: decide on a fresh subnet.
    if (!(error instanceof IpReservedError || error instanceof IpNotInSubnetError)) throw error;
    entry = await views.entry(subnetId, true);
    specific = specificAddress(entry.subnet, input);
  }
  const startMs = ctx.now();
  const details: Details = {
    owner: input.owner ?? null,
    description: input.description ?? null,
    tags: input.tags ?? {},
    macAddress: input.macAddress === undefined ? null : formatMac(input.macAddress),
    expiry: input.ttlSeconds === undefined ? null : Math.floor(startMs / 1000) + input.ttlSeconds,
    who,
  };
  // Facts learned from this request's own failed writes (fresh by construction).
  const learned = new Map<bigint, BlockState>();
  const skip = new Set<bigint>();
  for (let attempt = 0; attempt < RETRY.attempts; attempt++) {
    const subnet = entry.subnet;
    const g = geometryOf(subnet.cidr);
    let candidates: Candidate[];
    try {
      candidates =
        specific === undefined
          ? await pick(views, entry, g, input.strategy ?? Strategy.RANDOM, count, skip)
          : [await specificCandidate(ctx, subnet, g, specific, learned)];
    } catch (error) {
      // The counters were recounted under a newer configuration than ours.
      if (!(error instanceof StaleSubnetError)) throw error;
      entry = await views.entry(subnetId, true);
      continue;
    }
    // The clock of this attempt: a lease that expired meanwhile is judged as it is now.
    const nowMs = ctx.now();
    const token = randomBytes(12).toString('base64url');
    const lesson = await reserve(ctx, subnet, candidates, details, token, nowMs);
    if (lesson === undefined) {
      views.noteAllocated(entry, candidates, details);
      return candidates.map((candidate) => allocationView(subnet, candidate.value, details, nowMs));
    }
    for (const block of lesson.blocks) {
      learned.set(block.block, block);
      views.learnBlock(entry, block);
    }
    for (const value of lesson.heldItems) skip.add(value);
    if (lesson.subnetChanged) {
      entry = await views.entry(subnetId, true);
      learned.clear();
      // The gateway may have moved: the specific address is checked again.
      if (specific !== undefined) specific = specificAddress(entry.subnet, input);
    }
    await sleep(backoffMs(attempt));
  }
  throw new AllocationContentionError(
    `Concurrent requests took every address this request tried in subnet ${subnetId} ` +
      `(${RETRY.attempts} tries); free addresses remain, so retry shortly.`,
  );
}
