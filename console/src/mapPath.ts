/**
 * The geometry of the address map (shared/API.md "Address map"): a block with `h` host
 * bits is drawn as 2^min(8, h) cells of 2^(h − min(8, h)) addresses; `?cell=K.L`
 * zooms. Used for breadcrumbs, which need each level's CIDR without asking the API.
 */
import { bitsOf, formatCidr, parseCidr } from './net.js';

/** The CIDR of each level down a cell path: [subnet, cell K, cell K.L, …]. */
export function levelCidrs(subnetCidr: string, path: readonly number[]): string[] {
  const range = parseCidr(subnetCidr);
  const bits = bitsOf(range.version);
  let first = range.first;
  let hostBits = bits - range.prefix;
  const out = [subnetCidr];
  for (const index of path) {
    const step = Math.min(8, hostBits);
    hostBits -= step;
    first += BigInt(index) << BigInt(hostBits);
    out.push(formatCidr(first, bits - hostBits, range.version));
  }
  return out;
}

/** `"3.7"` → [3, 7]; empty or missing → []. */
export function parsePath(text: string | null | undefined): number[] {
  if (text === null || text === undefined || text === '') return [];
  return text.split('.').map(Number);
}

export const formatPath = (path: readonly number[]): string | undefined =>
  path.length === 0 ? undefined : path.join('.');

/** Grid columns: 16, or fewer for a small block (a /28 is one row of 16, a /30 of 4). */
export const columnsFor = (cells: number): number => Math.min(16, cells);
