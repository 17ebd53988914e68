/**
 * The CLI's HTTP client: JSON in and out, SigV4 when configured, bounded retries
 * of 503 and network errors (honouring Retry-After), and an Idempotency-Key on
 * every POST that stays the same across the retries of that POST.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { ApiError, CliError, ExitCode, UnreachableError, UsageError } from './errors.js';
import { type AwsCredentials, signRequest } from './sigv4.js';

export interface Signing {
  readonly region: string;
  readonly credentials: () => Promise<AwsCredentials>;
}

export interface ClientOptions {
  readonly endpoint: string;
  readonly signing?: Signing | undefined;
  /** Retries after the first attempt (default 4). */
  readonly retries?: number;
  /** Used for the first POST of this invocation; later POSTs get `<key>.<n>`. */
  readonly idempotencyKey?: string | undefined;
  readonly timeoutMs?: number;
  /** Longest wait between attempts, whatever Retry-After says. */
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  readonly query?: Query;
  readonly body?: unknown;
  /**
   * Safe to resend after an error that may have reached the server (a reset
   * connection, a time-out). GET, PATCH and DELETE are; a POST is when the route
   * honours Idempotency-Key. A refused connection is always retried (nothing was
   * sent), and so is a 503 (the server says it did nothing).
   */
  readonly resendable?: boolean;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: unknown;
  readonly text: string;
}

const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export class ApiClient {
  readonly endpoint: URL;
  private readonly retries: number;
  private readonly baseKey: string;
  private postCount = 0;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: ClientOptions) {
    try {
      this.endpoint = new URL(options.endpoint);
    } catch {
      throw new UsageError(`--endpoint ${JSON.stringify(options.endpoint)} is not a URL`);
    }
    if (this.endpoint.protocol !== 'http:' && this.endpoint.protocol !== 'https:') {
      throw new UsageError(`--endpoint must be http:// or https://, not ${this.endpoint.protocol}`);
    }
    this.retries = options.retries ?? 4;
    this.baseKey = options.idempotencyKey ?? randomUUID();
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** The URL of an API path (segments already encoded) under the endpoint's base path. */
  url(path: string, query: Query = {}): string {
    const base = this.endpoint.pathname.replace(/\/+$/, '');
    // RFC 3986 encoding (a space is %20, never +), the form SigV4 canonicalises to.
    const search = Object.entries(query)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${rfc3986(key)}=${rfc3986(String(value))}`)
      .join('&');
    return `${this.endpoint.origin}${base}${path}${search === '' ? '' : `?${search}`}`;
  }

  /** Sends a request and returns the 2xx response; throws ApiError for an error answer. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse> {
    const url = this.url(path, options.query);
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method === 'POST') {
      headers['idempotency-key'] =
        this.postCount === 0 ? this.baseKey : `${this.baseKey}.${this.postCount}`;
      this.postCount++;
    }
    const resendable = options.resendable ?? method !== 'POST';
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.retries;
      let response: ApiResponse;
      try {
        response = await this.send(method, url, headers, body);
      } catch (error) {
        if (error instanceof CliError) throw error;
        const code = (error as NodeJS.ErrnoException).code ?? '';
        const retry = !last && (resendable || NOT_SENT.has(code));
        if (retry) {
          await this.sleep(this.backoff(attempt));
          continue;
        }
        throw new UnreachableError(
          `cannot reach ${this.endpoint.origin} (${code || (error as Error).message}); is the server running? Set --endpoint or IPAM_ENDPOINT.`,
          { cause: error },
        );
      }
      if (response.status < 400) return response;
      const apiError = toApiError(response);
      const retryable =
        response.status === 503 ||
        response.status === 429 ||
        (apiError.code === 'IDEMPOTENCY_IN_PROGRESS' && method === 'POST');
      if (retryable && !last) {
        await this.sleep(this.retryAfter(response) ?? this.backoff(attempt));
        continue;
      }
      throw apiError;
    }
  }

  private backoff(attempt: number): number {
    const base = Math.min(4000, 250 * 2 ** attempt);
    return Math.min(this.options.maxDelayMs ?? 20_000, base / 2 + Math.random() * (base / 2));
  }

  private retryAfter(response: ApiResponse): number | undefined {
    const value = response.headers['retry-after'];
    if (typeof value !== 'string') return undefined;
    const seconds = Number(value);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
    if (!Number.isFinite(ms)) return undefined;
    return Math.min(this.options.maxDelayMs ?? 20_000, Math.max(0, ms));
  }

  private async send(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<ApiResponse> {
    let sendHeaders = headers;
    if (this.options.signing !== undefined) {
      sendHeaders = await signRequest(
        { method, url, headers, body },
        { credentials: this.options.signing.credentials, region: this.options.signing.region },
      );
    }
    if (body !== undefined)
      sendHeaders = { ...sendHeaders, 'content-length': `${Buffer.byteLength(body)}` };
    const target = new URL(url);
    const transport = target.protocol === 'https:' ? https : http;
    return new Promise<ApiResponse>((resolve, reject) => {
      const req = transport.request(
        target,
        { method, headers: sendHeaders, timeout: this.options.timeoutMs ?? 60_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            if (text.length > 0) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = undefined;
              }
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, text });
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function toApiError(response: ApiResponse): ApiError {
  const error = (
    response.body as { error?: { code?: unknown; message?: unknown; details?: unknown } }
  )?.error;
  if (error && typeof error.code === 'string') {
    return new ApiError(
      response.status,
      error.code,
      typeof error.message === 'string' ? error.message : '',
      (error.details as Record<string, unknown>) ?? {},
      response.body,
    );
  }
  // API Gateway's own answers ({"message": "..."}) for auth failures and throttling.
  const message =
    (response.body as { message?: unknown } | undefined)?.message ?? response.text.slice(0, 200);
  const code =
    response.status === 403 || response.status === 401
      ? 'ACCESS_DENIED'
      : response.status === 429
        ? 'THROTTLED'
        : `HTTP_${response.status}`;
  return new ApiError(response.status, code, String(message), {}, response.body);
}

/** Throws for a 2xx answer that is not the JSON the route promises. */
export function expectJson(response: ApiResponse): unknown {
  if (response.body === undefined) {
    throw new CliError(
      `the server answered ${response.status} without a JSON body`,
      ExitCode.OTHER,
    );
  }
  return response.body;
}
