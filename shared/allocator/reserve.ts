/**
 * Writes a reservation: small requests (≤ 100 items) as one transaction, larger
 * ones through a pending record (pending.ts). Nothing is read-then-written without
 * a condition, so two callers can never both win one address.
 */
import type { IpamContext } from '../store/context.js';
import { retryRead } from '../store/retry.js';
import { address, type Subnet } from '../subnets/subnet.js';
import type { Candidate } from './candidate.js';
import type { Details } from './items.js';
import { reserveInSteps } from './pending.js';
import { readAllocation } from './reads.js';
import { MAX_TRANSACTION_ITEMS, planWrites } from './reservationPlan.js';
import { type Lesson, transact } from './transact.js';

/**
 * Writes the reservation; undefined on success, else what the failed conditions
 * showed.
 */
export async function reserve(
  ctx: IpamContext,
  subnet: Subnet,
  candidates: readonly Candidate[],
  details: Details,
  token: string,
  nowMs: number,
): Promise<Lesson | undefined> {
  const plan = planWrites(ctx, subnet, candidates, details, token, nowMs);
  const reservation = plan.reservation.flatMap((group) => group.writes);
  if (reservation.length + plan.items.length <= MAX_TRANSACTION_ITEMS) {
    return transact(ctx, [...reservation, ...plan.items], () =>
      itemsCarry(ctx, subnet, candidates, token),
    );
  }
  return reserveInSteps(ctx, subnet, plan, candidates, token);
}

/** Whether every candidate's allocation item was written by request `token`. */
async function itemsCarry(
  ctx: IpamContext,
  subnet: Subnet,
  candidates: readonly Candidate[],
  token: string,
): Promise<boolean> {
  for (const candidate of candidates) {
    const ip = address(subnet.cidr.version, candidate.value);
    const item = await retryRead(() => readAllocation(ctx, subnet, ip));
    if (item?.reqToken !== token) return false;
  }
  return true;
}
