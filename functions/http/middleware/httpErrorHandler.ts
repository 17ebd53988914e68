/**
 * Turns every error into the one error shape (middy's http-error-handler, our table).
 * Caller errors keep their code and message; DynamoDB throttling that outlasted the
 * retries is a 503 with Retry-After; anything else is logged with the request id and
 * answered with a bare 500 — never a stack trace or an SDK message.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { AllocationContentionError, IpamError } from '../../../shared/errors.js';
import { type ErrorCode, HttpError, isRetryableAwsError, STATUS_BY_CODE } from '../errors.js';
import { errorResponse } from '../response.js';
import { requestIdOf } from './requestId.js';

type HttpRequest = Request<APIGatewayProxyEvent, APIGatewayProxyResult>;

export interface HttpErrorHandlerOptions {
  readonly logger: Logger;
}

export function httpErrorHandler(
  options: HttpErrorHandlerOptions,
): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const { logger } = options;

  const httpErrorHandlerOnError = (request: HttpRequest): void => {
    const error = request.error;
    const requestId = requestIdOf(request.event);
    if (error instanceof IpamError && isErrorCode(error.code)) {
      const headers: Record<string, string> =
        error instanceof HttpError ? { ...error.headers } : {};
      if (error instanceof AllocationContentionError) {
        headers['Retry-After'] = String(error.retryAfterSeconds);
      }
      if (STATUS_BY_CODE[error.code] >= 500) {
        logger.warn('Request failed with a retryable error', { requestId, code: error.code });
      }
      request.response = errorResponse(error.code, error.message, error.details, headers);
    } else if (isRetryableAwsError(error)) {
      logger.warn('DynamoDB is throttling or unavailable', { requestId, error });
      request.response = errorResponse(
        'SERVICE_UNAVAILABLE',
        'The database is busy or unavailable right now; nothing was changed by the failed step. Retry shortly.',
        {},
        { 'Retry-After': '1' },
      );
    } else {
      logger.error('Unhandled error', { requestId, error });
      request.response = internalErrorResponse(requestId);
    }
  };

  return { onError: httpErrorHandlerOnError };
}

/** The bare 500: only the request id, under which the log has the details. */
export function internalErrorResponse(requestId: string): APIGatewayProxyResult {
  return errorResponse(
    'INTERNAL_ERROR',
    'An internal error occurred. Quote the request id when reporting it.',
    { requestId },
  );
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(STATUS_BY_CODE, code);
}
