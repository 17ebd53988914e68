/**
 * Opaque list cursors: the DynamoDB key to continue from, as base64url JSON.
 * A cursor that does not decode to a key of string values is a caller error.
 */
import { ValidationError } from '../errors.js';

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export type Cursor = Record<string, string>;

export function encodeCursor(key: Record<string, unknown> | undefined): string | null {
  if (key === undefined) return null;
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(
  cursor: string | undefined,
  expectedKeys: readonly string[],
): Cursor | undefined {
  if (cursor === undefined) return undefined;
  const invalid = () =>
    new ValidationError(
      'The cursor is not one this list returned; pass nextCursor exactly as received.',
      {
        field: 'cursor',
      },
    );
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid();
  const entries = Object.entries(value);
  if (entries.length !== expectedKeys.length) throw invalid();
  for (const [name, part] of entries) {
    if (!expectedKeys.includes(name) || typeof part !== 'string' || part.length > 600)
      throw invalid();
  }
  return value as Cursor;
}
