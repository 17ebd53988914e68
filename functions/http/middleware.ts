/**
 * The middy middleware every handler wears: it stamps X-Request-Id on every
 * response and turns every error into the one error shape. Caller errors keep
 * their code and message; anything else is logged with the request id and
 * answered with a bare 500 — never a stack trace or an SDK message.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { AllocationContentionError, IpamError } from '../../shared/errors.js';
import { type ErrorCode, HttpError, isRetryableAwsError, STATUS_BY_CODE } from './errors.js';
import { errorResponse } from './response.js';

type HttpRequest = Request<APIGatewayProxyEvent, APIGatewayProxyResult>;

export function requestIdOf(event: APIGatewayProxyEvent): string {
  return event.requestContext?.requestId ?? 'unknown';
}

export function httpApi(options: {
  logger: Logger;
}): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const { logger } = options;

  const httpApiAfter = (request: HttpRequest): void => {
    const response = request.response;
    if (response === null || response === undefined) return;
    response.headers = { ...response.headers, 'X-Request-Id': requestIdOf(request.event) };
  };

  const httpApiOnError = (request: HttpRequest): void => {
    const error = request.error;
    const requestId = requestIdOf(request.event);
    let response: APIGatewayProxyResult;
    if (error instanceof IpamError && error.code in STATUS_BY_CODE) {
      const headers: Record<string, string> =
        error instanceof HttpError ? { ...error.headers } : {};
      if (error instanceof AllocationContentionError)
        headers['Retry-After'] = String(error.retryAfterSeconds);
      response = errorResponse(error.code as ErrorCode, error.message, error.details, headers);
      if (STATUS_BY_CODE[error.code as ErrorCode] >= 500) {
        logger.warn('Request failed with a retryable error', { requestId, code: error.code });
      }
    } else if (isRetryableAwsError(error)) {
      logger.warn('DynamoDB is throttling or unavailable', { requestId, error });
      response = errorResponse(
        'SERVICE_UNAVAILABLE',
        'The database is busy or unavailable right now; nothing was changed by the failed step. Retry shortly.',
        {},
        { 'Retry-After': '1' },
      );
    } else {
      logger.error('Unhandled error', { requestId, error });
      response = errorResponse(
        'INTERNAL_ERROR',
        'An internal error occurred. Quote the request id when reporting it.',
        {
          requestId,
        },
      );
    }
    request.response = { ...response, headers: { ...response.headers, 'X-Request-Id': requestId } };
  };

  return { after: httpApiAfter, onError: httpApiOnError };
}
