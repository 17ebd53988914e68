/**
 * Idempotency-Key support through Powertools Idempotency and its DynamoDB
 * persistence layer (records live in DynamoDB, never in Lambda memory). A key is
 * scoped to method and path — the route and its decoded parameters, so that
 * `/subnets/sub%5Fx/…` and `/subnets/sub_x/…` are one path; the same key and body within 24 hours replays the
 * first response; another body → 422; while the first runs → 409. Failed requests
 * are not recorded, so a retry after an error runs again.
 */
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import {
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  ValidationError,
} from '../../shared/errors.js';
import type { HttpResult, Operation, OperationRequest, Route } from './types.js';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The request's Idempotency-Key; expects lower-case header names (middleware/headerNormalizer.ts). */
export function idempotencyKeyOf(
  headers: Record<string, string | undefined> | null,
): string | undefined {
  const key = headers?.['idempotency-key'];
  if (key === undefined) return undefined;
  if (!KEY_PATTERN.test(key)) {
    throw new ValidationError(
      'Idempotency-Key must be 1-255 visible ASCII characters (a UUID is a good choice).',
      {
        field: 'Idempotency-Key',
      },
    );
  }
  return key;
}

/**
 * What a key is scoped to: method, route and the decoded path parameters (never the
 * path as spelled, which has many spellings of one resource).
 */
export function idempotencyScope(request: OperationRequest, key: string): string {
  return JSON.stringify([request.route.method, request.route.path, request.path, key]);
}

/** `operation`, answering a repeated Idempotency-Key from the first request's record. */
export function withIdempotency<R extends Route>(
  operation: Operation<R>,
  store: BasePersistenceLayer,
): Operation<R> {
  const config = new IdempotencyConfig({
    eventKeyJmesPath: 'key',
    payloadValidationJmesPath: 'body',
    expiresAfterSeconds: IDEMPOTENCY_TTL_SECONDS,
  });
  const run = makeIdempotent(
    async (
      _payload: { key: string; body: unknown },
      request: OperationRequest<R>,
    ): Promise<HttpResult> => operation(request),
    { persistenceStore: store, config, keyPrefix: 'ipam', dataIndexArgument: 0 },
  );
  return async (request) => {
    if (request.idempotencyKey === undefined) return operation(request);
    config.registerLambdaContext(request.context);
    const key = idempotencyScope(request, request.idempotencyKey);
    try {
      return await run({ key, body: request.rawBody ?? {} }, request);
    } catch (error) {
      if (error instanceof IdempotencyValidationError) {
        throw new IdempotencyKeyReusedError(
          'This Idempotency-Key was used with a different body; use a new key for a new request.',
          { idempotencyKey: request.idempotencyKey },
        );
      }
      if (error instanceof IdempotencyAlreadyInProgressError) {
        throw new IdempotencyInProgressError(
          'The first request with this Idempotency-Key is still running; retry in a moment to get its response.',
          { idempotencyKey: request.idempotencyKey },
        );
      }
      throw error;
    }
  };
}
