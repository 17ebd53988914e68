/**
 * Address arithmetic in bigint for drawing: parse and print IPv4 and IPv6 (RFC 5952),
 * CIDR ranges. The API has already checked every address the console sees, so this is
 * for layout, not validation.
 */

export interface Range {
  readonly version: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
  readonly prefix: number;
}

export const bitsOf = (version: 4 | 6): number => (version === 4 ? 32 : 128);

export function parseIp(text: string): { version: 4 | 6; value: bigint } {
  if (!text.includes(':')) return { version: 4, value: parseV4(text) };
  // An embedded IPv4 tail (::ffff:10.0.0.1) is two groups written another way.
  const hex = text.replace(/(\d+\.\d+\.\d+\.\d+)$/, (dotted) => {
    const v4 = parseV4(dotted);
    return `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  });
  const groups = (part: string | undefined) =>
    part === undefined || part === '' ? [] : part.split(':').map((g) => BigInt(`0x${g}`));
  const [left, right] = hex.split('::') as [string, string?];
  const l = groups(left);
  const r = groups(right);
  const all = [...l, ...Array<bigint>(8 - l.length - r.length).fill(0n), ...r];
  return { version: 6, value: all.reduce((acc, g) => (acc << 16n) | g, 0n) };
}

function parseV4(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
}

export function formatIp(value: bigint, version: 4 | 6): string {
  if (version === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => (value >> BigInt(112 - 16 * i)) & 0xffffn);
  // RFC 5952: compress the longest run of two or more zero groups, the first if tied.
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0n) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0n) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  const left = hex.slice(0, best.start).join(':');
  const right = hex.slice(best.start + best.length).join(':');
  return `${left}::${right}`;
}

export function parseCidr(cidr: string): Range {
  const [ip, length] = cidr.split('/') as [string, string];
  const { version, value } = parseIp(ip);
  const prefix = Number(length);
  const size = 1n << BigInt(bitsOf(version) - prefix);
  return { version, first: value, last: value + size - 1n, prefix };
}

export function formatCidr(first: bigint, prefix: number, version: 4 | 6): string {
  return `${formatIp(first, version)}/${prefix}`;
}

export const sizeOf = (range: Range): bigint => range.last - range.first + 1n;

/** How many addresses two ranges share. */
export function overlap(a: Range, b: Range): bigint {
  // bigint: Math.max and Math.min take numbers only.
  let first = a.first;
  if (b.first > first) first = b.first;
  let last = a.last;
  if (b.last < last) last = b.last;
  return last >= first ? last - first + 1n : 0n;
}

/** The CIDR of a map cell: its first address and its size (a power of two). */
export function cellCidr(first: string, cellSize: bigint): string {
  const { version } = parseIp(first);
  const hostBits = cellSize.toString(2).length - 1;
  return `${first}/${bitsOf(version) - hostBits}`;
}
