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
  const reconfigured = mine.filter(
    (op) => op.input.kind === 'updateSubnet' || op.input.kind === 'deleteSubnet',
  );
  const anomalies: CrossAnomaly[] = [];
  for (const claim of claims) {
    if (reconfigured.some((op) => op.call < claim.return)) continue;
    const requested = claim.input.kind === 'allocate' ? (claim.input.count ?? 1) : 1;
    const unknownTaken = mine
      .filter(
        (op) =>
          op.input.kind === 'allocate' &&
          op.input.ip === undefined &&
          op.output.status === 'ambiguous' &&
          op.call < claim.return,
      )
      .reduce((sum, op) => sum + (op.input.kind === 'allocate' ? (op.input.count ?? 1) : 0), 0);
    const free = pool.filter((ip) => surelyFree(mine, ip, claim.call, claim.return));
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

/** No allocation of `ip` can have been in force at any instant of [from, to]. */
function surelyFree(
  history: readonly ApiOperation[],
  ip: string,
  from: number,
  to: number,
): boolean {
  const touching = history.filter(
    (op) =>
      ('ip' in op.input && op.input.ip !== undefined && canonicalIp(op.input.ip) === ip) ||
      allocationsOf(op).some((v) => canonicalIp(v.ip) === ip),
  );
  const takes = touching.filter(
    (op) =>
      op.input.kind === 'allocate' &&
      op.call < to &&
      (allocationsOf(op).some((v) => canonicalIp(v.ip) === ip) ||
        (op.input.ip !== undefined && op.output.status === 'ambiguous')),
  );
  const proofs = touching.filter(
    (op) =>
      (op.input.kind === 'release' && op.output.status === 'ok') ||
      (op.input.kind !== 'allocate' &&
        op.output.status === 'error' &&
        op.output.code === 'ALLOCATION_NOT_FOUND'),
  );
  for (const take of takes) {
    let until = Number.POSITIVE_INFINITY;
    for (const proof of proofs)
      if (proof.call >= take.return) until = Math.min(until, proof.return);
    const view = allocationsOf(take).find((v) => canonicalIp(v.ip) === ip);
    if (view?.expiresAt) {
      // The lease's end on the monotonic clock, a second late to be safe.
      until = Math.min(until, take.call + (Date.parse(view.expiresAt) - take.wallCall) + 1000);
    }
    if (until > from) return false;
  }
  return true;
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
