/**
 * Claims that span addresses, which the per-address search cannot see:
 *
 * - `SUBNET_EXHAUSTED` says that at some instant of the request no (or too few)
 *   pool addresses were free. We count the pool addresses that were *surely free
 *   throughout* the request: never allocated by an operation invoked before the
 *   request returned, or, after their last allocation, proven free (a release that
 *   succeeded, an ALLOCATION_NOT_FOUND answer, a lease past its expiry) before the
 *   request was invoked. Ambiguous picked allocations invoked before the request
 *   returned may hold unknown addresses: their `count`s are subtracted. If at least
 *   `requested` addresses remain, the answer was wrong ("full" confused with
 *   something else). Checked only for subnets whose pools and gateway no PATCH
 *   changed before the request returned, and pools of at most 65,536 addresses.
 * - all-or-nothing: a successful `count: k` answers k distinct addresses, and a
 *   successful specific request answers the address asked for.
 */
import { formatIp, parseIp } from '../../../shared/net/address.js';
import { allocationsOf, canonicalIp } from './projection.js';
import type { ApiOperation, SubnetStart } from './types.js';

export interface CrossAnomaly {
  readonly kind: 'exhausted-while-free' | 'all-or-nothing';
  readonly subnetId: string;
  readonly message: string;
  readonly operations: readonly ApiOperation[];
}

const MAX_ENUMERATED = 65_536n;

export function crossAddressChecks(
  history: readonly ApiOperation[],
  subnets: readonly SubnetStart[],
): CrossAnomaly[] {
  const anomalies: CrossAnomaly[] = [];
  for (const op of history) {
    if (op.input.kind !== 'allocate' || op.output.status !== 'ok') continue;
    const views = allocationsOf(op);
    const ips = new Set(views.map((view) => canonicalIp(view.ip)));
    const expected = op.input.ip !== undefined ? 1 : (op.input.count ?? 1);
    const wrongIp = op.input.ip !== undefined && !ips.has(canonicalIp(op.input.ip));
    if (views.length !== expected || ips.size !== expected || wrongIp) {
      anomalies.push({
        kind: 'all-or-nothing',
        subnetId: op.input.subnetId,
        message: `asked for ${op.input.ip ?? `${expected} address(es)`}, answered ${[...ips].join(', ')}`,
        operations: [op],
      });
    }
  }
  for (const subnet of subnets) anomalies.push(...exhaustionChecks(history, subnet));
  return anomalies;
}

function exhaustionChecks(history: readonly ApiOperation[], subnet: SubnetStart): CrossAnomaly[] {
  const mine = history.filter((op) => op.input.subnetId === subnet.id);
  const claims = mine.filter(
    (op) =>
      op.input.kind === 'allocate' &&
      op.input.ip === undefined &&
      op.output.status === 'error' &&
      op.output.code === 'SUBNET_EXHAUSTED',
  );
  if (claims.length === 0) return [];
  const pool = poolAddresses(subnet);
  if (pool === undefined) return [];
  let firstReconfiguration = Number.POSITIVE_INFINITY;
  for (const op of mine) {
    if (op.input.kind === 'updateSubnet' || op.input.kind === 'deleteSubnet')
      firstReconfiguration = Math.min(firstReconfiguration, op.call);
  }
  const unknown = unknownPicks(mine);
  const held = heldSpans(mine);
  const anomalies: CrossAnomaly[] = [];
  for (const claim of claims) {
    if (firstReconfiguration < claim.return) continue;
    const requested = claim.input.kind === 'allocate' ? (claim.input.count ?? 1) : 1;
    const unknownTaken = unknown.before(claim.return);
    const free = pool.filter((ip) => surelyFree(held.get(ip), claim.call, claim.return));
    if (free.length - unknownTaken >= requested) {
      anomalies.push({
        kind: 'exhausted-while-free',
        subnetId: subnet.id,
        message:
          `SUBNET_EXHAUSTED for ${requested} while ${free.length} pool address(es) were free throughout ` +
          `(${unknownTaken} may be held by ambiguous requests), e.g. ${free.slice(0, 5).join(', ')}`,
        operations: [claim],
      });
    }
  }
  return anomalies;
}

/**
 * The addresses ambiguous picked allocations may hold: `before(t)` sums the `count`s
 * of those invoked before `t`.
 */
function unknownPicks(mine: readonly ApiOperation[]): { before(t: number): number } {
  const picks = mine
    .filter(
      (op) =>
        op.input.kind === 'allocate' &&
        op.input.ip === undefined &&
        op.output.status === 'ambiguous',
    )
    .map((op) => ({
      call: op.call,
      count: op.input.kind === 'allocate' ? (op.input.count ?? 1) : 0,
    }))
    .sort((a, b) => a.call - b.call);
  const sums = [0];
  for (const pick of picks) sums.push((sums.at(-1) as number) + pick.count);
  return { before: (t) => sums[countBelow(picks, t)] as number };
}

/**
 * One address's allocations that may have held it (an answer naming it, or an
 * ambiguous request for it), in invocation order, each with the moment from which
 * it surely no longer did (`until`: the end of the first proof of freedom invoked
 * after it returned, or of its lease), and the latest of those up to each one.
 */
interface HeldSpans {
  readonly takes: readonly { readonly call: number; readonly until: number }[];
  readonly latestUntil: readonly number[];
}

/**
 * Every address's spans, from one pass over the subnet's history (the claims are
 * many, and each asks about every pool address: per claim, a pass over the history
 * per address made the check quadratic in the soak's length).
 */
function heldSpans(mine: readonly ApiOperation[]): Map<string, HeldSpans> {
  const canonical = new Map<string, string>();
  const canon = (text: string) => {
    let ip = canonical.get(text);
    if (ip === undefined) {
      ip = canonicalIp(text);
      canonical.set(text, ip);
    }
    return ip;
  };
  const touching = new Map<string, ApiOperation[]>();
  for (const op of mine) {
    const ips = new Set(allocationsOf(op).map((view) => canon(view.ip)));
    if ('ip' in op.input && op.input.ip !== undefined) ips.add(canon(op.input.ip));
    for (const ip of ips) {
      const ops = touching.get(ip);
      if (ops === undefined) touching.set(ip, [op]);
      else ops.push(op);
    }
  }
  const spans = new Map<string, HeldSpans>();
  for (const [ip, ops] of touching) {
    const proofs = ops.filter(
      (op) =>
        (op.input.kind === 'release' && op.output.status === 'ok') ||
        (op.input.kind !== 'allocate' &&
          op.output.status === 'error' &&
          op.output.code === 'ALLOCATION_NOT_FOUND'),
    );
    const takes = ops
      .filter(
        (op) =>
          op.input.kind === 'allocate' &&
          (allocationsOf(op).some((v) => canon(v.ip) === ip) ||
            (op.input.ip !== undefined && op.output.status === 'ambiguous')),
      )
      .map((take) => {
        let until = Number.POSITIVE_INFINITY;
        for (const proof of proofs)
          if (proof.call >= take.return) until = Math.min(until, proof.return);
        const view = allocationsOf(take).find((v) => canon(v.ip) === ip);
        if (view?.expiresAt) {
          // The lease's end on the monotonic clock, a second late to be safe.
          until = Math.min(until, take.call + (Date.parse(view.expiresAt) - take.wallCall) + 1000);
        }
        return { call: take.call, until };
      })
      .sort((a, b) => a.call - b.call);
    const latestUntil: number[] = [];
    let latest = Number.NEGATIVE_INFINITY;
    for (const take of takes) {
      // An `until` that is not a number never counts as held (`NaN > from` is false).
      if (take.until > latest) latest = take.until;
      latestUntil.push(latest);
    }
    spans.set(ip, { takes, latestUntil });
  }
  return spans;
}

/** No allocation of the address can have been in force at any instant of [from, to]. */
function surelyFree(spans: HeldSpans | undefined, from: number, to: number): boolean {
  if (spans === undefined) return true;
  const invoked = countBelow(spans.takes, to);
  return invoked === 0 || (spans.latestUntil[invoked - 1] as number) <= from;
}

/** How many of `sorted` (by `call`) were invoked before `t`. */
function countBelow(sorted: readonly { readonly call: number }[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as { call: number }).call < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function poolAddresses(subnet: SubnetStart): string[] | undefined {
  const gateway = subnet.gatewayIp === null ? undefined : canonicalIp(subnet.gatewayIp);
  let size = 0n;
  for (const pool of subnet.allocationPools)
    size += parseIp(pool.end).value - parseIp(pool.start).value + 1n;
  if (size > MAX_ENUMERATED) return undefined;
  const result: string[] = [];
  for (const pool of subnet.allocationPools) {
    const start = parseIp(pool.start);
    for (let value = start.value; value <= parseIp(pool.end).value; value++) {
      const ip = formatIp({ version: start.version, value });
      if (ip !== gateway) result.push(ip);
    }
  }
  return result;
}
