/** Counts as the API sends them (numbers, or decimal strings beyond 2^53), in bigint. */
import type { Count } from './types.js';

export const big = (count: Count | undefined): bigint => BigInt(count ?? 0);

/** part / whole in percent, rounded to one decimal (as the CLI and the audit), exact for IPv6-sized counts. */
export function percent(part: Count | bigint, whole: Count | bigint): number {
  const w = typeof whole === 'bigint' ? whole : big(whole);
  if (w === 0n) return 0;
  const p = typeof part === 'bigint' ? part : big(part);
  return Number((p * 2000n + w) / (2n * w)) / 10;
}

/** 65536 → "65,536"; beyond a trillion: "2^56" when a power of two, else "1.2e+17". */
export function formatCount(count: Count | bigint): string {
  const value = typeof count === 'bigint' ? count : big(count);
  if (value < 1_000_000_000_000n) return Number(value).toLocaleString('en');
  const log = value.toString(2).length - 1;
  if (value === 1n << BigInt(log)) return `2^${log}`;
  return Number(value).toExponential(1);
}
