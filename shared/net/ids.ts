import { randomBytes } from 'node:crypto';

/** Unguessable ids: a prefix and 128 random bits, URL-safe. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}

export function isId(prefix: string, text: string): boolean {
  return new RegExp(`^${prefix}_[A-Za-z0-9_-]{22}$`).test(text);
}
