/**
 * Live leases per subnet for the subnets table. `usage` has no lease count; the top
 * level of the address map has one per cell, kept as summaries (a few reads whatever the
 * subnet's size), so the table asks the map of each row it shows — never the allocations.
 */
import { useEffect, useState } from 'preact/hooks';
import { get, path } from '../api.js';
import { big } from '../numbers.js';
import type { AddressMap } from '../types.js';

/** At most this many map requests in flight, so a long table does not flood the API. */
const PARALLEL = 4;

/** subnet id → leased count, or null where the map could not be read. */
export function useLeasedCounts(ids: readonly string[]): Record<string, bigint | null> {
  const [counts, setCounts] = useState<Record<string, bigint | null>>({});
  const key = ids.join(',');
  // `key` stands for `ids`: a new array with the same ids is the same request.
  useEffect(() => {
    let current = true;
    const queue = ids.filter((id) => !(id in counts));
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        let leased: bigint | null;
        try {
          const map = await get<AddressMap>(`${path('subnets', id)}/map`);
          leased = map.cells.reduce((sum, cell) => sum + big(cell.leased), 0n);
        } catch {
          leased = null;
        }
        if (!current) return;
        const subnetId = id;
        setCounts((previous) => ({ ...previous, [subnetId]: leased }));
      }
    };
    for (let i = 0; i < PARALLEL; i++) void worker();
    return () => {
      current = false;
    };
  }, [key]);
  return counts;
}
