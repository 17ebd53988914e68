/**
 * The shapes the HTTP edge passes around: a route definition, the typed request an
 * operation receives and the result it returns. Types only, so that dispatch,
 * idempotency and the route table can share them without importing each other.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { z } from 'zod';
import type { Who } from '../../shared/store/context.js';
import type { ErrorCode } from './errors.js';

export type Group = 'subnets' | 'allocations' | 'subnetPools' | 'audits' | 'history' | 'meta';
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/**
 * One route: method, path template, the Lambda group that serves it, its schemas and
 * the error codes its operation can raise. The type parameters keep the literal id,
 * path and group and the schemas' own types, so an operation sees typed input.
 */
export interface RouteDefinition<
  Id extends string = string,
  Path extends string = string,
  G extends Group = Group,
  Query extends z.ZodType = z.ZodType,
  Body extends z.ZodType | undefined = z.ZodType | undefined,
> {
  readonly id: Id;
  readonly method: Method;
  /** API Gateway resource path, e.g. /subnets/{subnetId}. */
  readonly path: Path;
  readonly group: G;
  readonly summary: string;
  readonly body?: Body;
  readonly query: Query;
  readonly status: number;
  readonly response?: z.ZodType;
  /** Other success statuses, with the same response schema (e.g. `202` for a job still running). */
  readonly alsoAnswers?: readonly { readonly status: number; readonly description: string }[];
  /** What the operation itself can raise; openapi.ts adds what the edge answers. */
  readonly errors: readonly ErrorCode[];
  /** Accepts an Idempotency-Key header. */
  readonly idempotent?: boolean;
  /** Reachable without IAM auth when deployed. */
  readonly public?: boolean;
}

/** Any route of the table. */
export type Route = RouteDefinition;

type ParameterNames<Path extends string> = Path extends `${string}{${infer Name}}${infer Rest}`
  ? Name | ParameterNames<Rest>
  : never;

/** `{ subnetId: string; ip: string }` for `/subnets/{subnetId}/allocations/{ip}`. */
export type PathParameters<Path extends string> = {
  readonly [Name in ParameterNames<Path>]: string;
};

/** The body schema's output; undefined for a route without a body. */
type BodyOf<R extends Route> = [Exclude<R['body'], undefined>] extends [never]
  ? undefined
  : z.output<Exclude<R['body'], undefined>>;

/** What an operation receives: everything parsed and checked by its route's schemas. */
export interface OperationRequest<R extends Route = Route> {
  readonly event: APIGatewayProxyEvent;
  readonly context: Context;
  readonly route: R;
  /** Path parameters, URL-decoded exactly once. */
  readonly path: PathParameters<R['path']>;
  readonly query: z.output<R['query']>;
  readonly body: BodyOf<R>;
  /** The body as parsed JSON, before schema transforms (what idempotency compares). */
  readonly rawBody: unknown;
  readonly idempotencyKey: string | undefined;
  /** Who makes the request's writes (functions/http/who.ts). */
  readonly who: Who;
}

export interface HttpResult {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export type Operation<R extends Route = Route> = (
  request: OperationRequest<R>,
) => Promise<HttpResult>;
