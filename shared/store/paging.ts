/**
 * Opaque list cursors: the key to continue from, bound to the list that returned
 * it, as base64url JSON. A cursor carries a hash of its list's scope (the list and
 * every filter that defines it) and is accepted only by that list, and only if its
 * key lies inside that list: a cursor from another list, or a tampered one, is a
 * caller error (400 on `cursor`), never a start key DynamoDB would reject (a 500)
 * or one that silently starts another list's page.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../errors.js';

export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

export type Cursor = Record<string, string>;

/** The list a cursor belongs to. */
export interface ListScope {
  /** The list and its filters, e.g. `["subnets","prod"]`; only its hash goes into a cursor. */
  readonly name: readonly string[];
  /** The attributes of the key the list continues from. */
  readonly keys: readonly string[];
  /** Whether a key (already of `keys`, all strings) is a position inside this list. */
  readonly contains: (key: Cursor) => boolean;
}

/** Longest key value a cursor may carry (DynamoDB keys of ours are far shorter). */
const MAX_PART = 600;

/** The scope's fingerprint: short (an owner is up to 256 characters) and says nothing of the filters. */
function scopeHash(scope: ListScope): string {
  return createHash('sha256').update(JSON.stringify(scope.name)).digest('base64url').slice(0, 22);
}

/** The cursor of `key` in the list `scope`; null when the list is done. */
export function encodeCursor(
  scope: ListScope,
  key: Record<string, unknown> | undefined,
): string | null {
  if (key === undefined) return null;
  return Buffer.from(JSON.stringify({ l: scopeHash(scope), k: key })).toString('base64url');
}

/**
 * The key a cursor of the list `scope` continues from. A cursor that does not
 * decode, was made by another list, or names a key outside this list throws a
 * ValidationError on `cursor`.
 */
export function decodeCursor(scope: ListScope, cursor: string | undefined): Cursor | undefined {
  if (cursor === undefined) return undefined;
  const invalid = () =>
    new ValidationError(
      'The cursor is not one this list returned; pass nextCursor exactly as received, to the same list (same path and filters).',
      { field: 'cursor' },
    );
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!isRecord(value) || Object.keys(value).length !== 2 || value.l !== scopeHash(scope))
    throw invalid();
  const key = value.k;
  if (!isRecord(key)) throw invalid();
  const entries = Object.entries(key);
  if (entries.length !== scope.keys.length) throw invalid();
  for (const [name, part] of entries) {
    if (!scope.keys.includes(name) || typeof part !== 'string' || part.length > MAX_PART)
      throw invalid();
  }
  if (!scope.contains(key as Cursor)) throw invalid();
  return key as Cursor;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
