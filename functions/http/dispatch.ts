/**
 * Turns an API Gateway (REST, v1) proxy event into a typed call of one operation:
 * finds the route, decodes path parameters once, checks the query and body against
 * the route's schemas, and renders the operation's result. Each route group's
 * Lambda is `groupHandler(group, operations, logger)`.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { z } from 'zod';
import { ValidationError } from '../../shared/errors.js';
import { assertNoBody, parseJsonBody } from './body.js';
import { HttpError } from './errors.js';
import { idempotencyKeyOf } from './idempotency.js';
import { decodeParameter, parameterNames, splitPath } from './path.js';
import { httpPipeline } from './pipeline.js';
import { jsonResponse } from './response.js';
import { allowedMethods, matchRoute, type Operations, ROUTES } from './routes.js';
import type { Group, HttpResult, OperationRequest, Route } from './types.js';
import { whoOfEvent } from './who.js';

export { MAX_BODY_BYTES } from './body.js';

/** An operation as dispatch calls it: with the request its own route's schemas produced. */
type RoutedOperation = (request: OperationRequest) => Promise<HttpResult>;

/** The Lambda of one route group: every operation of the group, typed by its route. */
export function groupHandler<G extends Group>(
  group: G,
  operations: NoInfer<Operations<G>>,
  logger: Logger,
) {
  // Operations<G> types each operation by its own route; here the route is known only
  // at run time. parseRequest builds the request with exactly that route's schemas,
  // so the request an operation receives has the types its route promises.
  const byId = operations as unknown as Readonly<Record<string, RoutedOperation | undefined>>;
  return httpPipeline(logger, async (event, context) => {
    const route = ROUTES.find(
      (candidate) =>
        candidate.group === group &&
        candidate.method === event.httpMethod &&
        candidate.path === event.resource,
    );
    const operation = route === undefined ? undefined : byId[route.id];
    if (route === undefined || operation === undefined) throw unroutable(event);
    const result = await operation(parseRequest(event, context, route));
    return jsonResponse(result.status, result.body, result.headers);
  });
}

/** 404 for an unknown path, 405 (with Allow) for a known path and another method. */
export function unroutable(event: APIGatewayProxyEvent): HttpError {
  const segments = splitPath(event.path);
  const match = segments === undefined ? undefined : matchRoute(event.httpMethod, segments);
  if (match === undefined || segments === undefined) {
    return new HttpError(
      'ROUTE_NOT_FOUND',
      `There is no route ${event.httpMethod} ${event.path}; see /openapi.json.`,
      { method: event.httpMethod, path: event.path },
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

function parseRequest(
  event: APIGatewayProxyEvent,
  context: Context,
  route: Route,
): OperationRequest {
  const path = pathParameters(event, route);
  const query = validate(route.query, queryObject(event), 'query');
  const rawBody = route.body === undefined ? assertNoBody(event) : parseJsonBody(event);
  const body = route.body === undefined ? undefined : validate(route.body, rawBody, 'body');
  const idempotencyKey = route.idempotent ? idempotencyKeyOf(event.headers) : undefined;
  return {
    event,
    context,
    route,
    path,
    query,
    body,
    rawBody,
    idempotencyKey,
    who: whoOfEvent(event),
  };
}

/**
 * The route's path parameters, decoded once. API Gateway REST (and the local server)
 * pass them still percent-encoded (`2001%3Adb8%3A%3A5`).
 */
function pathParameters(event: APIGatewayProxyEvent, route: Route): Record<string, string> {
  const path: Record<string, string> = {};
  for (const name of parameterNames(route.path)) {
    const value = event.pathParameters?.[name];
    if (value === undefined || value.length === 0) throw unroutable(event);
    path[name] = decodeParameter(value);
  }
  return path;
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
  const [first] = issues;
  throw new ValidationError(
    first === undefined ? `The ${where} is not valid.` : `${first.path}: ${first.message}`,
    { issues },
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => JSON.stringify(key)).join(', ')}; check the spelling`;
  }
  return issue.message;
}
