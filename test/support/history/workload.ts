/**
 * A mixed concurrent workload over recording clients, for checked runs (the
 * reliability test and `npm run soak`). Every allocate request carries its own
 * owner (`<client>-<n>`), so an ambiguous answer can be placed later (./projection.ts).
 *
 * Each client loops until `until()` says stop or it has done `operations`
 * operations: allocate (specific, random, sequential, `count` 1–3, sometimes a
 * 60 s lease), release (its own, guarded or not; someone else's guarded by its own
 * name), PATCH (owner, tags, renew), GET; on the `churn` subnet also pools and
 * gateway PATCHes. At the end one clean client reads every address of interest, so
 * the history ends in the final state.
 */
import { formatIp, parseIp } from '../../../shared/net/address.js';
import { allocationViews } from './projection.js';
import type { RecordingClient } from './recorder.js';
import type { AllocationFields, ApiInput, PoolRange, SubnetStart } from './types.js';

/** A subnet PATCH of the churn subnet: pools, gateway, or both. */
export type SubnetPatch = Extract<ApiInput, { kind: 'updateSubnet' }>['patch'];

export interface WorkloadOptions {
  readonly subnets: readonly SubnetStart[];
  /**
   * Pools and gateway PATCHes go to this subnet (one of `subnets`), if any. A patch
   * that moves the gateway onto an address the workload allocates races those
   * allocations: the gateway fence must refuse the move or the allocation.
   */
  readonly churn?: { readonly subnetId: string; readonly patches: readonly SubnetPatch[] };
  readonly clients: readonly RecordingClient[];
  /** The fault-free client of the final reads. */
  readonly finalReader: RecordingClient;
  /** Operations per client (an upper bound on the loop). */
  readonly operations: number;
  readonly until?: () => boolean;
  readonly random: () => number;
}

interface Held {
  readonly subnetId: string;
  readonly ip: string;
  owner: string;
}

export async function runWorkload(options: WorkloadOptions): Promise<{ operations: number }> {
  const { random } = options;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const shared: Held[] = [];
  let done = 0;
  await Promise.all(
    options.clients.map(async (client) => {
      const mine: Held[] = [];
      for (let n = 0; n < options.operations && !(options.until?.() ?? false); n++) {
        done++;
        const subnet = pick(options.subnets);
        const owner = `${client.name}-${n}`;
        const roll = random();
        const keep = (views: AllocationFields[]) => {
          for (const view of views) {
            const held = { subnetId: subnet.id, ip: view.ip, owner: view.owner ?? '' };
            mine.push(held);
            shared.push(held);
          }
        };
        if (roll < 0.3 || mine.length === 0) {
          const kind = random();
          const body =
            kind < 0.35
              ? { ip: addressIn(subnet, random), owner }
              : kind < 0.7
                ? { owner }
                : kind < 0.85
                  ? { owner, strategy: 'sequential' as const }
                  : { owner, count: 1 + Math.floor(random() * 3) };
          const lease = random() < 0.15 ? { ttlSeconds: 60 } : {};
          const outcome = await client.allocate(subnet.id, { ...body, ...lease });
          keep(allocationViews(outcome));
          continue;
        }
        if (roll < 0.5) {
          const held = mine.splice(Math.floor(random() * mine.length), 1)[0] as Held;
          const guarded = random() < 0.7;
          const outcome = await client.release(
            held.subnetId,
            held.ip,
            guarded ? held.owner : undefined,
          );
          if (outcome.status === 'ambiguous') mine.push(held);
          continue;
        }
        if (roll < 0.58 && shared.length > 0) {
          const other = pick(shared);
          await client.release(other.subnetId, other.ip, owner);
          continue;
        }
        if (roll < 0.75) {
          const held = pick(mine);
          const change = random();
          const patch =
            change < 0.4
              ? { owner: `${owner}p` }
              : change < 0.7
                ? { tags: { n: String(n) } }
                : { ttlSeconds: 120 };
          const outcome = await client.update(held.subnetId, held.ip, patch);
          if (outcome.status === 'ok' && 'owner' in patch && patch.owner !== undefined)
            held.owner = patch.owner;
          continue;
        }
        if (roll < 0.95 || options.churn === undefined) {
          const target =
            shared.length > 0 && random() < 0.8
              ? pick(shared)
              : { subnetId: subnet.id, ip: addressIn(subnet, random) };
          await client.get(target.subnetId, target.ip);
          continue;
        }
        await client.updateSubnet(options.churn.subnetId, pick(options.churn.patches));
      }
    }),
  );
  // The final state of every address anyone touched.
  const seen = new Set<string>();
  for (const held of shared) seen.add(`${held.subnetId} ${held.ip}`);
  for (const key of seen) {
    const [subnetId, ip] = key.split(' ') as [string, string];
    await options.finalReader.get(subnetId, ip);
  }
  return { operations: done };
}

/** A random address of the subnet's first pool, now and then one just outside it. */
function addressIn(subnet: SubnetStart, random: () => number): string {
  const pool = subnet.allocationPools[0] as PoolRange;
  const start = parseIp(pool.start);
  const size = parseIp(pool.end).value - start.value + 1n;
  const offset = BigInt(Math.floor(random() * Number(size < 4096n ? size : 4096n)));
  return formatIp({ version: start.version, value: start.value + offset });
}
