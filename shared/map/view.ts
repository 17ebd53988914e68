/**
 * Which addresses one map view shows: a subnet with `h` host bits is drawn as
 * 2^min(8, h) cells of 2^(h − min(8, h)) addresses; `?cell=K.L…` zooms into cell K
 * of the top level, then cell L of that, and so on (API.md "Address map"). Pure.
 */
import { ValidationError } from '../errors.js';
import { bitLength, type Cidr, cidrFirst } from '../net/address.js';

/** The digits of one index (0–255, no leading zeros), dot-separated. */
const PATH_PATTERN = /^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2}))*$/;

export interface MapView {
  /** The path as asked (`"3.7"`), or null for the top level. */
  readonly path: string | null;
  /** The first address of the view. */
  readonly start: bigint;
  /** log2 of the number of cells. */
  readonly countBits: number;
  /** log2 of the addresses per cell. */
  readonly cellBits: number;
}

export function cellCount(view: MapView): number {
  return 1 << view.countBits;
}

export function cellSize(view: MapView): bigint {
  return 1n << BigInt(view.cellBits);
}

/** The first and last address of cell `index` of the view. */
export function cellRange(view: MapView, index: number): { start: bigint; end: bigint } {
  const start = view.start + (BigInt(index) << BigInt(view.cellBits));
  return { start, end: start + cellSize(view) - 1n };
}

/**
 * The view `path` names in `cidr`; a malformed path, an index out of range or a path
 * deeper than the subnet (a zoom into a cell of one address) → ValidationError.
 */
export function viewOf(cidr: Cidr, path: string | undefined): MapView {
  let bits = bitLength(cidr.version) - cidr.prefixLength;
  let start = cidrFirst(cidr);
  const steps = path === undefined ? [] : parsePath(path);
  steps.forEach((index, depth) => {
    const countBits = Math.min(8, bits);
    if (bits === countBits) {
      throw new ValidationError(
        `cell: the path ${path} is deeper than the subnet; at depth ${depth} its cells are single addresses (give at most ${depth} indexes).`,
        { field: 'cell', depth },
      );
    }
    if (index >= 1 << countBits) {
      throw new ValidationError(
        `cell: index ${index} at depth ${depth} is out of range; this level has cells 0 to ${(1 << countBits) - 1}.`,
        { field: 'cell', depth },
      );
    }
    start += BigInt(index) << BigInt(bits - countBits);
    bits -= countBits;
  });
  const countBits = Math.min(8, bits);
  return {
    path: steps.length === 0 ? null : steps.join('.'),
    start,
    countBits,
    cellBits: bits - countBits,
  };
}

function parsePath(path: string): number[] {
  if (!PATH_PATTERN.test(path)) {
    throw new ValidationError(
      'cell must be dot-separated cell indexes (whole numbers without leading zeros), e.g. 3 or 3.17',
      { field: 'cell' },
    );
  }
  return path.split('.').map(Number);
}
