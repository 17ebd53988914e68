/**
 * `ipam console`'s server: the web console's files on 127.0.0.1, and every other
 * request forwarded to the API endpoint, signed with SigV4 from the user's credentials
 * when signing is on (as `kubectl proxy` does for a cluster). The deployed stage needs no
 * new public surface: IAM stays the only door.
 *
 * Only the console's own page may use it: a request whose Host is not this server
 * (DNS rebinding) or that comes from another origin (a web page posting to 127.0.0.1)
 * is refused before anything is signed, and a body must be JSON (a cross-site form
 * cannot send that without a CORS preflight, which this server never grants).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { consoleAsset, isConsolePath } from '../console/assets.js';
import type { Signing } from './client.js';
import { signRequest } from './sigv4.js';

export interface ConsoleProxyOptions {
  /** The API's base URL (its path is kept: `https://…/prod`). */
  readonly endpoint: string;
  readonly port: number;
  readonly signing?: Signing | undefined;
}

export interface ConsoleProxy {
  readonly url: string;
  close(): Promise<void>;
}

/** Request headers the API reads; everything else (cookies, the browser's own) stays here. */
const FORWARDED_REQUEST = ['accept', 'content-type', 'idempotency-key'];
/** Response headers the console reads. */
const FORWARDED_RESPONSE = ['content-type', 'retry-after', 'x-request-id', 'allow'];

export async function startConsoleProxy(options: ConsoleProxyOptions): Promise<ConsoleProxy> {
  const endpoint = new URL(options.endpoint);
  let origin = '';
  const server = http.createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      answer(
        response,
        502,
        'PROXY_ERROR',
        `ipam console could not reach the API: ${String(error)}`,
      );
    });
  });

  async function handle(request: http.IncomingMessage, response: http.ServerResponse) {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', origin);
    const refusal = refuse(request, origin);
    if (refusal !== undefined) {
      request.resume();
      answer(response, 403, 'PROXY_FORBIDDEN', refusal);
      return;
    }
    if (isConsolePath(method, url.pathname)) {
      request.resume();
      const asset = await consoleAsset(url.pathname);
      response.writeHead(asset.status, asset.headers);
      response.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }
    const body = await readBody(request);
    const target = targetUrl(endpoint, url);
    let headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    if (options.signing !== undefined) {
      headers = await signRequest(
        { method, url: target, headers, body },
        { credentials: options.signing.credentials, region: options.signing.region },
      );
    }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const upstream = await forward(method, target, headers, body);
    const out: Record<string, string> = {};
    for (const name of FORWARDED_RESPONSE) {
      const value = upstream.headers[name];
      if (typeof value === 'string') out[name] = value;
    }
    response.writeHead(upstream.status, { ...out, 'cache-control': 'no-store' });
    response.end(upstream.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Why a request may not use the proxy, or undefined when it may. */
function refuse(request: http.IncomingMessage, origin: string): string | undefined {
  const self = new URL(origin);
  const host = request.headers.host ?? '';
  if (host !== self.host && host !== `localhost:${self.port}`) {
    return `Host ${JSON.stringify(host)} is not this console (${self.host}).`;
  }
  const from = request.headers.origin;
  if (from !== undefined && from !== origin && from !== `http://localhost:${self.port}`) {
    return `Requests from ${from} may not use this console's credentials.`;
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return `A ${site} request may not use this console's credentials.`;
  }
  const type = request.headers['content-type'];
  const hasBody =
    Number(request.headers['content-length'] ?? 0) > 0 || 'transfer-encoding' in request.headers;
  if (hasBody && !(type ?? '').startsWith('application/json')) {
    return 'A request body must be application/json.';
  }
  return undefined;
}

/**
 * The endpoint's URL for a console request: the endpoint's base path, the path as the
 * page sent it (already percent-encoded), and the query in RFC 3986 form (a space as
 * %20, never +), the form SigV4 canonicalises to.
 */
export function targetUrl(endpoint: URL, request: URL): string {
  const base = endpoint.pathname.replace(/\/+$/, '');
  const search = [...request.searchParams]
    .map(([key, value]) => `${rfc3986(key)}=${rfc3986(value)}`)
    .join('&');
  return `${endpoint.origin}${base}${request.pathname}${search === '' ? '' : `?${search}`}`;
}

function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function readBody(request: http.IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () =>
      resolve(chunks.length === 0 ? undefined : Buffer.concat(chunks).toString('utf8')),
    );
    request.on('error', reject);
  });
}

function forward(
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(target, { method, headers, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 502,
          headers: res.headers,
          body: Buffer.concat(chunks),
        }),
      );
    });
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
    if (body !== undefined) request.write(body);
    request.end();
  });
}

/** The proxy's own answers, in the API's error shape so the console shows them like any other. */
function answer(response: http.ServerResponse, status: number, code: string, message: string) {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: { code, message, details: {} } }));
}
