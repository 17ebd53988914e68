/**
 * The middy pipeline every HTTP Lambda wears, one middleware per job: Lambda context
 * in the logs, header names normalised, X-Request-Id and the security headers on
 * every response, and every error in the one error shape.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  headerNormalizer,
  httpErrorHandler,
  requestId,
  securityHeaders,
} from './middleware/index.js';

export type HttpHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

/** `handler` inside the pipeline. */
export function httpPipeline(logger: Logger, handler: HttpHandler) {
  // middy runs onError in reverse order of use: the error handler answers first,
  // then the header middlewares stamp that answer too.
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(injectLambdaContext(logger))
    .use(headerNormalizer())
    .use(requestId())
    .use(securityHeaders())
    .use(httpErrorHandler({ logger }))
    .handler(handler);
}
