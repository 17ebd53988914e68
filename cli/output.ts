/** Rendering: aligned tables, utilisation bars, and the three output modes. */

export type OutputMode = 'table' | 'json' | 'quiet';

export interface Out {
  readonly mode: OutputMode;
  line(text?: string): void;
  /** Notes for humans on stderr (never mixed into JSON or ids). */
  note(text: string): void;
}

export function stdOut(mode: OutputMode): Out {
  return {
    mode,
    line: (text = '') => process.stdout.write(`${text}\n`),
    note: (text) => process.stderr.write(`${text}\n`),
  };
}

export function json(out: Out, body: unknown): void {
  out.line(JSON.stringify(body, null, 2));
}

/** Columns padded to their widest cell; `right` aligns numeric columns. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right: ReadonlySet<number> = new Set(),
): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(headers), ...rows.map(render)].join('\n');
}

/** `key: value` lines, keys aligned. */
export function fields(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(...pairs.map(([key]) => key.length));
  return pairs.map(([key, value]) => `${`${key}:`.padEnd(width + 1)}  ${value}`).join('\n');
}

/** Allocated share of total as a percentage (exact for IPv6-sized decimal strings). */
export function percent(allocated: number | string, total: number | string): number {
  const t = BigInt(total);
  if (t === 0n) return 0;
  return Number((BigInt(allocated) * 1_000_000n) / t) / 10_000;
}

/** `[#######-------------]  35.0%` */
export function bar(allocated: number | string, total: number | string, width = 20): string {
  const p = percent(allocated, total);
  const filled = Math.min(width, Math.round((p / 100) * width));
  const shown = p > 0 && filled === 0 ? 1 : filled;
  return `[${'#'.repeat(shown)}${'-'.repeat(width - shown)}] ${formatPercent(p).padStart(6)}`;
}

export function formatPercent(p: number): string {
  if (p > 0 && p < 0.1) return '<0.1%';
  return `${p.toFixed(1)}%`;
}

export function tagsText(tags: Record<string, string> | undefined): string {
  if (!tags) return '';
  return Object.entries(tags)
    .map(([key, value]) => (value === '' ? key : `${key}=${value}`))
    .join(',');
}

export function dash(value: unknown): string {
  return value === null || value === undefined || value === '' ? '-' : String(value);
}
