/**
 * Serves the Lambda handlers over node:http, turning each request into the API
 * Gateway (REST, v1) proxy event that the deployed stage would send, so the same
 * code answers locally and in AWS: path parameters handed on still percent-encoded,
 * the body base64-encoded (as API Gateway does for binary media types, so the
 * handler judges its bytes: UTF-8 or not). Binds 127.0.0.1 only.
 *
 * What the server answers itself (a body over the limit, a request line or headers
 * over node's limit, malformed HTTP, a failure of its own) uses the API's error shape
 * and headers, with an X-Request-Id like every other answer.
 *
 * With `console`, GET `/` and the console's asset paths serve the web console; every
 * other path is the API's.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { consoleAsset, isConsolePath } from '../console/assets.js';
import {
  type ErrorCode,
  errorResponse,
  internalErrorResponse,
  MAX_BODY_BYTES,
  type PathSegments,
  payloadTooLarge,
  REQUEST_ID_HEADER,
  SECURITY_HEADERS,
  splitPath,
} from '../functions/http/index.js';

export type LambdaHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

export interface RouteResolver {
  /**
   * The handler, API Gateway resource and (still percent-encoded) path parameters for
   * a request; unknown or undecodable paths go to the fallback.
   */
  resolve(
    method: string,
    segments: PathSegments | undefined,
  ): { handler: LambdaHandler; resource: string; pathParameters: Record<string, string> };
}

/** Node's default: the request line and headers together (a 16 KiB URL does not fit). */
const MAX_HEADER_BYTES = 16 * 1024;

export interface LocalServerOptions {
  /** Serve the web console at `/` (default true). */
  readonly console?: boolean;
}

export function createLocalServer(
  resolver: RouteResolver,
  options: LocalServerOptions = {},
): Server {
  const withConsole = options.console ?? true;
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (request, response) => {
    const requestId = randomUUID();
    const answer =
      withConsole && isConsolePath(request.method ?? 'GET', pathOf(request))
        ? serveConsole(request, response, requestId)
        : handle(resolver, request, response, requestId);
    answer.catch((error: unknown) => {
      console.error(
        JSON.stringify({
          level: 'ERROR',
          message: 'local server failure',
          requestId,
          error: String(error),
        }),
      );
      if (response.headersSent) response.end();
      else send(response, internalErrorResponse(requestId), requestId);
    });
  });
  server.on('clientError', answerClientError);
  return server;
}

async function handle(
  resolver: RouteResolver,
  request: IncomingMessage,
  response: ServerResponse,
  requestId: string,
): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const method = request.method ?? 'GET';
  const body = await readBody(request);
  if (body === undefined) {
    // Close the connection: a client sending that much may not wait for the answer.
    const tooLarge = payloadTooLarge();
    send(
      response,
      errorResponse(tooLarge.code, tooLarge.message, tooLarge.details, { Connection: 'close' }),
      requestId,
    );
    return;
  }
  const { handler, resource, pathParameters } = resolver.resolve(method, splitPath(url.pathname));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    single[name] = value;
    multi[name] = [...(multi[name] ?? []), value];
  }
  const hasQuery = Object.keys(single).length > 0;
  const event = {
    resource,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders: {},
    queryStringParameters: hasQuery ? single : null,
    multiValueQueryStringParameters: hasQuery ? multi : null,
    pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : null,
    stageVariables: null,
    requestContext: {
      requestId,
      // What API Gateway fills in from the caller's IAM signature. Locally there is no
      // signature: the caller names itself with X-Ipam-Actor (honoured here only; the
      // handlers read the context, never that header).
      identity: { userArn: actorOf(headers), caller: null },
      httpMethod: method,
      path: url.pathname,
      resourcePath: resource,
      stage: 'local',
    },
    body: body.length > 0 ? body.toString('base64') : null,
    isBase64Encoded: body.length > 0,
  } as unknown as APIGatewayProxyEvent;
  const result = await handler(event, lambdaContext(requestId));
  response.writeHead(result.statusCode, result.headers as Record<string, string>);
  response.end(result.body);
}

function pathOf(request: IncomingMessage): string {
  return new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
}

async function serveConsole(
  request: IncomingMessage,
  response: ServerResponse,
  requestId: string,
): Promise<void> {
  request.resume();
  const asset = await consoleAsset(pathOf(request));
  response.writeHead(asset.status, { ...asset.headers, [REQUEST_ID_HEADER]: requestId });
  response.end(request.method === 'HEAD' ? undefined : asset.body);
}

/** The local caller: `X-Ipam-Actor` when given, else `local`. */
function actorOf(headers: Record<string, string>): string {
  const named = headers[ACTOR_HEADER]?.trim();
  return named === undefined || named.length === 0 ? LOCAL_ACTOR : named;
}

/** node lowercases header names. */
const ACTOR_HEADER = 'x-ipam-actor';
const LOCAL_ACTOR = 'local';

/** Writes one of the server's own answers, with the headers every API answer has. */
function send(response: ServerResponse, result: APIGatewayProxyResult, requestId: string): void {
  response.writeHead(result.statusCode, headersOf(result, requestId));
  response.end(result.body);
}

function headersOf(result: APIGatewayProxyResult, requestId: string): Record<string, string> {
  const headers: Record<string, string> = { ...SECURITY_HEADERS, [REQUEST_ID_HEADER]: requestId };
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  return headers;
}

/**
 * Requests node rejects before they reach the handler: a request line and headers
 * over MAX_HEADER_BYTES (e.g. a 20,000-character URL) → 431, malformed HTTP → 400,
 * both in the error shape instead of node's bare answer. The socket is closed after.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const code: ErrorCode = tooLarge ? 'REQUEST_HEADERS_TOO_LARGE' : 'VALIDATION_ERROR';
  const result = errorResponse(
    code,
    tooLarge
      ? `The request line and headers are over ${MAX_HEADER_BYTES / 1024} KiB; send long values in the body.`
      : 'The request is not valid HTTP/1.1.',
    tooLarge ? { maxBytes: MAX_HEADER_BYTES } : {},
    { Connection: 'close' },
  );
  const headers = {
    ...headersOf(result, randomUUID()),
    'Content-Length': String(Buffer.byteLength(result.body)),
  };
  const head = [
    `HTTP/1.1 ${result.statusCode} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ].join('\r\n');
  socket.end(`${head}\r\n\r\n${result.body}`);
}

/** The body, or undefined when it is over MAX_BODY_BYTES (what follows is read and dropped). */
function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function lambdaContext(requestId: string): Context {
  const deadline = Date.now() + 30_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'ipam-local',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:ipam-local',
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: 'local',
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
