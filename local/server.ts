/**
 * Serves the Lambda handlers over node:http, turning each request into the API
 * Gateway (REST, v1) proxy event that the deployed stage would send, so the same
 * code answers locally and in AWS. Binds 127.0.0.1 only.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

export type LambdaHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

export interface RouteResolver {
  /** The handler and API Gateway resource for a request; unknown routes go to the fallback. */
  resolve(
    method: string,
    segments: string[],
  ): { handler: LambdaHandler; resource: string; pathParameters: Record<string, string> };
}

/** Bodies beyond this are not read at all (the handlers reject anything over 64 KiB). */
const MAX_READ_BYTES = 1024 * 1024;

export function createLocalServer(resolver: RouteResolver): Server {
  return createServer((request, response) => {
    handle(resolver, request, response).catch((error: unknown) => {
      console.error(
        JSON.stringify({ level: 'ERROR', message: 'local server failure', error: String(error) }),
      );
      if (!response.headersSent) response.writeHead(500, { 'Content-Type': 'application/json' });
      response.end(
        JSON.stringify({
          error: { code: 'INTERNAL_ERROR', message: 'An internal error occurred.', details: {} },
        }),
      );
    });
  });
}

async function handle(
  resolver: RouteResolver,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const requestId = randomUUID();
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const method = request.method ?? 'GET';
  const body = await readBody(request);
  if (body === undefined) {
    response.writeHead(413, {
      'Content-Type': 'application/json',
      'X-Request-Id': requestId,
      Connection: 'close',
    });
    response.end(
      JSON.stringify({
        error: {
          code: 'PAYLOAD_TOO_LARGE',
          message: 'The request body is over 64 KiB.',
          details: { maxBytes: 65536 },
        },
      }),
    );
    return;
  }
  let segments: string[];
  try {
    segments = url.pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    segments = ['%'];
  }
  const { handler, resource, pathParameters } = resolver.resolve(method, segments);
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
      httpMethod: method,
      path: url.pathname,
      resourcePath: resource,
      stage: 'local',
    },
    body: body.length > 0 ? body.toString('utf8') : null,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEvent;
  const result = await handler(event, lambdaContext(requestId));
  response.writeHead(result.statusCode, result.headers as Record<string, string>);
  response.end(result.body);
}

/** The body, or undefined when it is larger than the server will read. */
function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_READ_BYTES) tooLarge = true;
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
