/**
 * A pool prefix drawn as up to 256 equal cells, each split into what subnets carved
 * from this pool hold, what other subnets of the space hold (the pool skips those), and
 * what is free to carve. Computed from GET /subnets: pools report no map of their own.
 */
import { bitsOf, formatCidr, overlap, parseCidr, type Range, sizeOf } from './net.js';

export interface PoolCell {
  readonly index: number;
  readonly cidr: string;
  readonly size: bigint;
  readonly carved: bigint;
  readonly other: bigint;
  readonly free: bigint;
  /** The subnets in this cell (for the label, and a link when there is one). */
  readonly subnets: readonly { id: string; cidr: string }[];
}

export interface SubnetPlace {
  readonly id: string;
  readonly cidr: string;
  readonly space: string;
  readonly poolId?: string | undefined;
}

export function poolCells(
  prefix: string,
  pool: { id: string; space: string },
  subnets: readonly SubnetPlace[],
): PoolCell[] {
  const range = parseCidr(prefix);
  const hostBits = bitsOf(range.version) - range.prefix;
  const cellBits = hostBits - Math.min(8, hostBits);
  const count = 1 << Math.min(8, hostBits);
  const inside = subnets
    .filter(
      (subnet) =>
        subnet.space === pool.space && !subnet.cidr.includes(':') === (range.version === 4),
    )
    .map((subnet) => ({ subnet, range: parseCidr(subnet.cidr) }))
    .filter((entry) => overlap(entry.range, range) > 0n);
  return Array.from({ length: count }, (_, index) => {
    const first = range.first + (BigInt(index) << BigInt(cellBits));
    const cell: Range = {
      version: range.version,
      first,
      last: first + (1n << BigInt(cellBits)) - 1n,
      prefix: bitsOf(range.version) - cellBits,
    };
    let carved = 0n;
    let other = 0n;
    const here: { id: string; cidr: string }[] = [];
    for (const entry of inside) {
      const shared = overlap(entry.range, cell);
      if (shared === 0n) continue;
      here.push({ id: entry.subnet.id, cidr: entry.subnet.cidr });
      if (entry.subnet.poolId === pool.id) carved += shared;
      else other += shared;
    }
    const size = sizeOf(cell);
    return {
      index,
      cidr: formatCidr(first, cell.prefix, range.version),
      size,
      carved,
      other,
      free: size - carved - other,
      subnets: here,
    };
  });
}
