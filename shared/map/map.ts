/**
 * `GET /subnets/{subnetId}/map`: one view of a subnet's addresses (API.md "Address
 * map"). Cells smaller than a block come from the block items that cover the view
 * (≤ 128 of them: a Query per shard or BatchGets, whichever is fewer), consistent
 * and evaluated now: exact. Cells of a block or more come from the summaries the
 * stream processor keeps (./cells.ts): one Query, plus what a lapsed lease, a pool
 * boundary or the gateway makes it read below. Either way the subnet itself is one
 * GetItem, and nothing grows with the subnet's size.
 */

import type { AddressState } from '../allocator/addressLookup.js';
import { formatCidr, formatIp } from '../net/address.js';
import { batchGet } from '../store/batch.js';
import type { IpamContext } from '../store/context.js';
import { keys, parseAllocationSort } from '../store/keys.js';
import { geometryOf, positionOf } from '../subnets/geometry.js';
import { address, type Count, jsonCount, type Subnet } from '../subnets/subnet.js';
import { loadSubnet } from '../subnets/subnets.js';
import { readBlocks } from './blockReads.js';
import { summaryCells } from './cells.js';
import { type CellCounts, exactCells, expiredValues } from './exact.js';
import { cellCount, cellRange, cellSize, type MapView, viewOf } from './view.js';

export interface MapCell {
  readonly index: number;
  readonly first: string;
  readonly last: string;
  readonly allocated: Count;
  readonly leased: Count;
  readonly quarantined: Count;
  readonly free: Count;
  /** Cells of one address only (as `GET /addresses/{ip}` says it). */
  readonly state?: AddressState;
}

export interface AddressMap {
  readonly subnetId: string;
  readonly cidr: string;
  readonly cell: string | null;
  readonly cellSize: Count;
  readonly cells: MapCell[];
}

/** The view `path` (`"3.17"`; undefined: the top level) of a subnet's map. */
export async function subnetMap(
  ctx: IpamContext,
  subnetId: string,
  path?: string,
): Promise<AddressMap> {
  const subnet = await loadSubnet(ctx, subnetId);
  const view = viewOf(subnet.cidr, path);
  const now = Math.floor(ctx.now() / 1000);
  const cells =
    view.cellBits >= 8
      ? await fromSummaries(ctx, subnet, view, now)
      : await fromBlocks(ctx, subnet, view, now);
  return {
    subnetId: subnet.id,
    cidr: formatCidr(subnet.cidr),
    cell: view.path,
    cellSize: jsonCount(cellSize(view)),
    cells: cells.map(({ counts, state }, index) => {
      const { start, end } = cellRange(view, index);
      const version = subnet.cidr.version;
      return {
        index,
        first: formatIp(address(version, start)),
        last: formatIp(address(version, end)),
        allocated: jsonCount(counts.allocated),
        leased: jsonCount(counts.leased),
        quarantined: jsonCount(counts.quarantined),
        free: jsonCount(counts.free),
        ...(state === undefined ? {} : { state }),
      };
    }),
  };
}

interface Counted {
  readonly counts: CellCounts;
  readonly state?: AddressState;
}

async function fromBlocks(
  ctx: IpamContext,
  subnet: Subnet,
  view: MapView,
  now: number,
): Promise<Counted[]> {
  const g = geometryOf(subnet.cidr);
  const firstBlock = (view.start - g.network) >> 8n;
  const span = BigInt(cellCount(view)) << BigInt(view.cellBits);
  const lastBlock = (view.start - g.network + span - 1n) >> 8n;
  const blocks = await readBlocks(ctx, subnet.id, g, firstBlock, lastBlock);
  const cells = { start: view.start, cellBits: view.cellBits, cellCount: cellCount(view) };
  if (view.cellBits !== 0) return exactCells(subnet, g, blocks, cells, now);
  // One address each: an expired offset is LEASE_EXPIRED only while its allocation
  // item is there (as GET /addresses says); one BatchGet of those few items.
  const expired = expiredValues(g, blocks, view.start, view.start + span - 1n, now);
  const items = await batchGet(
    ctx,
    expired.map((value) =>
      keys.allocation(subnet.id, positionOf(g, value).shard, address(subnet.cidr.version, value)),
    ),
    'sk, releasedAt',
  );
  // A tombstone is a cool-down that ended, not an expired lease.
  const held = new Set(
    items
      .filter((item) => item.releasedAt === undefined)
      .map((item) => parseAllocationSort(String(item.sk))),
  );
  const released = new Set(expired.filter((value) => !held.has(value)));
  return exactCells(subnet, g, blocks, cells, now, released);
}

async function fromSummaries(
  ctx: IpamContext,
  subnet: Subnet,
  view: MapView,
  now: number,
): Promise<Counted[]> {
  const g = geometryOf(subnet.cidr);
  const counts = await summaryCells(
    ctx,
    subnet,
    g,
    {
      level: view.cellBits - 8,
      first: (view.start - g.network) >> BigInt(view.cellBits),
      count: cellCount(view),
    },
    now,
  );
  return counts.map((cell) => ({ counts: cell }));
}
