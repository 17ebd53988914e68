/**
 * Turns an API Gateway (REST, v1) proxy event into a typed call of one operation:
 * finds the route, decodes path parameters, checks the query and body against the
 * route's schemas, and renders the operation's result. Each route group's Lambda
 * is `groupHandler(group, operations)`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { z } from 'zod';
import { ValidationError } from '../../shared/errors.js';
import { HttpError } from './errors.js';
import { idempotencyKeyOf } from './idempotency.js';
import { httpApi } from './middleware.js';
import { jsonResponse } from './response.js';
import { allowedMethods, type Group, matchRoute, ROUTES, type Route } from './routes.js';

export const MAX_BODY_BYTES = 64 * 1024;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export interface OperationRequest {
  readonly event: APIGatewayProxyEvent;
  readonly context: Context;
  readonly route: Route;
  readonly path: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: each operation narrows with its route's schema type
  readonly query: any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  readonly body: any;
  /** The body as parsed JSON, before schema transforms (what idempotency compares). */
  readonly rawBody: unknown;
  readonly idempotencyKey: string | undefined;
}

export interface HttpResult {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export type Operation = (request: OperationRequest) => Promise<HttpResult>;

export function groupHandler(group: Group, operations: Record<string, Operation>, logger: Logger) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(httpApi({ logger }))
    .handler(async (event, context) => {
      const route = ROUTES.find(
        (candidate) =>
          candidate.group === group &&
          candidate.method === event.httpMethod &&
          candidate.path === event.resource,
      );
      const operation = route === undefined ? undefined : operations[route.id];
      if (route === undefined || operation === undefined) throw unroutable(event);
      const request = parseRequest(event, context, route);
      const result = await operation(request);
      return jsonResponse(result.status, result.body, result.headers);
    });
}

/** 404 for an unknown path, 405 (with Allow) for a known path and another method. */
export function unroutable(event: APIGatewayProxyEvent): HttpError {
  const segments = pathSegments(event.path);
  const match = segments === undefined ? undefined : matchRoute(event.httpMethod, segments);
  if (match === undefined || segments === undefined) {
    return new HttpError(
      'ROUTE_NOT_FOUND',
      `There is no route ${event.httpMethod} ${event.path}; see /openapi.json.`,
      {
        method: event.httpMethod,
        path: event.path,
      },
    );
  }
  const allow = allowedMethods(segments);
  return new HttpError(
    'METHOD_NOT_ALLOWED',
    `${event.path} does not accept ${event.httpMethod}; it accepts ${allow.join(', ')}.`,
    { method: event.httpMethod, allowed: allow },
    { Allow: allow.join(', ') },
  );
}

/** URL-decoded path segments, or undefined when the path is not decodable. */
export function pathSegments(path: string): string[] | undefined {
  try {
    return path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function parseRequest(
  event: APIGatewayProxyEvent,
  context: Context,
  route: Route,
): OperationRequest {
  const path: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.pathParameters ?? {})) {
    // API Gateway may pass parameters still encoded (2001%3Adb8%3A%3A5); an address has no '%'.
    path[name] = value === undefined ? '' : safeDecode(value);
  }
  const query = validate(route.query, queryObject(event), 'query');
  const rawBody = route.body === undefined ? assertNoBody(event) : parseJsonBody(event);
  const body = route.body === undefined ? undefined : validate(route.body, rawBody, 'body');
  const idempotencyKey = route.idempotent ? idempotencyKeyOf(event.headers) : undefined;
  return { event, context, route, path, query, body, rawBody, idempotencyKey };
}

function safeDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function queryObject(event: APIGatewayProxyEvent): Record<string, string> {
  const query: Record<string, string> = {};
  const multi = event.multiValueQueryStringParameters ?? {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if ((multi[name]?.length ?? 1) > 1) {
      throw new ValidationError(`Query parameter ${name} was given more than once; give it once.`, {
        field: name,
      });
    }
    if (value !== undefined) query[name] = value;
  }
  return query;
}

function assertNoBody(event: APIGatewayProxyEvent): undefined {
  if (event.body !== null && event.body !== undefined && event.body.length > 0) {
    throw new ValidationError(
      `${event.httpMethod} ${event.resource} takes no request body; send parameters in the query.`,
    );
  }
  return undefined;
}

/** The body as a JSON object; an absent body counts as {} (every field optional). */
function parseJsonBody(event: APIGatewayProxyEvent): unknown {
  if (event.body === null || event.body === undefined || event.body.length === 0) return {};
  const text = event.isBase64Encoded
    ? Buffer.from(event.body, 'base64').toString('utf8')
    : event.body;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new HttpError(
      'PAYLOAD_TOO_LARGE',
      `The request body is over ${MAX_BODY_BYTES / 1024} KiB.`,
      {
        maxBytes: MAX_BODY_BYTES,
      },
    );
  }
  const contentType = Object.entries(event.headers ?? {}).find(
    ([name]) => name.toLowerCase() === 'content-type',
  )?.[1];
  if (contentType === undefined || !/^application\/json\s*(;.*)?$/i.test(contentType.trim())) {
    throw new HttpError(
      'UNSUPPORTED_MEDIA_TYPE',
      'Send the body as JSON with Content-Type: application/json.',
      {
        contentType: contentType ?? null,
      },
    );
  }
  let value: unknown;
  let forbidden: string | undefined;
  try {
    value = JSON.parse(text, (key, child) => {
      // Keys that reach prototypes when copied: refuse them wherever they appear.
      if (FORBIDDEN_KEYS.has(key)) forbidden = key;
      return child;
    });
  } catch (error) {
    throw new ValidationError(`The request body is not valid JSON: ${(error as Error).message}.`);
  }
  if (forbidden !== undefined) {
    throw new ValidationError(
      `The request body uses the key ${JSON.stringify(forbidden)}, which is not allowed.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('The request body must be a JSON object.');
  }
  return value;
}

function validate<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: 'query' | 'body',
): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join('.'),
    message: describeIssue(issue),
  }));
  const first = issues[0]!;
  throw new ValidationError(`${first.path}: ${first.message}`, { issues });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}; check the spelling`;
  }
  return issue.message;
}
