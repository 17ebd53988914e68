/**
 * The console's only door to the API: same-origin fetches (the local server, or
 * `ipam console`'s signing proxy). An error answer becomes an ApiError carrying the
 * API's code and message exactly as sent, which the pages show as they are.
 */
import type { Page } from './types.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | undefined>;

/** `/a/b` from raw segments, each percent-encoded (addresses hold `:`, names spaces). */
export function path(...segments: string[]): string {
  return segments.map((segment) => `/${encodeURIComponent(segment)}`).join('');
}

function withQuery(url: string, query: Query = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) search.set(key, String(value));
  }
  const text = search.toString().replace(/\+/g, '%20');
  return text === '' ? url : `${url}?${text}`;
}

export async function request<T>(
  method: string,
  url: string,
  options: { query?: Query; body?: unknown } = {},
): Promise<T> {
  const init: RequestInit = { method, headers: { accept: 'application/json' } };
  if (options.body !== undefined) {
    init.body = JSON.stringify(options.body);
    init.headers = { ...init.headers, 'content-type': 'application/json' };
  }
  let response: Response;
  try {
    response = await fetch(withQuery(url, options.query), init);
  } catch (error) {
    throw new ApiError(0, 'UNREACHABLE', `Cannot reach the API: ${(error as Error).message}`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.ok) return body as T;
  const error = (body as { error?: { code?: string; message?: string; details?: object } })?.error;
  if (error?.code !== undefined) {
    throw new ApiError(
      response.status,
      error.code,
      error.message ?? '',
      (error.details ?? {}) as Record<string, unknown>,
    );
  }
  // Not the API's shape: API Gateway's own answers ({"message"}) through the proxy.
  const message = (body as { message?: string } | undefined)?.message ?? text.slice(0, 200);
  throw new ApiError(response.status, `HTTP_${response.status}`, message);
}

export const get = <T>(url: string, query?: Query) =>
  request<T>('GET', url, query === undefined ? {} : { query });

/** Every item of a paged list, following nextCursor. */
export async function getAll<T>(url: string, query: Query = {}): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await get<Page<T>>(url, { ...query, limit: 1000, cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return items;
}
