/** CSV in (csv-parse: quotes, commas and newlines in quotes, CRLF, BOM) and out (RFC 4180). */
import { parse } from 'csv-parse/sync';
import { UsageError } from './errors.js';

export interface CsvTable {
  /** Normalised header names: lowercase, runs of spaces and dashes as `_`. */
  readonly headers: string[];
  /** One record per data row, by normalised header; `line` is the row's line in the file. */
  readonly rows: { line: number; values: Record<string, string> }[];
}

export function normaliseHeader(header: string): string {
  return header
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

export function parseCsv(text: string): CsvTable {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    throw new UsageError(`not a readable CSV file: ${(error as Error).message}`, { cause: error });
  }
  const [header, ...data] = records;
  if (header === undefined) throw new UsageError('the CSV file is empty');
  const headers = header.record.map(normaliseHeader);
  return {
    headers,
    rows: data
      .filter(({ record }) => record.some((cell) => cell.trim() !== ''))
      .map(({ record, info }) => {
        const values: Record<string, string> = {};
        headers.forEach((name, i) => {
          values[name] = (record[i] ?? '').trim();
        });
        return { line: info.lines, values };
      }),
  };
}

function cell(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function toCsv(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  return [headers, ...rows]
    .map((row) => row.map(cell).join(','))
    .join('\r\n')
    .concat('\r\n');
}
