/**
 * `X-Content-Type-Options: nosniff` and `Cache-Control: no-store` on every response:
 * a JSON answer is never sniffed into something a browser runs, and answers about
 * who holds what are never kept by a cache.
 */
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { SECURITY_HEADERS } from '../response.js';

type HttpRequest = Request<APIGatewayProxyEvent, APIGatewayProxyResult>;

export function securityHeaders(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const stamp = (request: HttpRequest): void => {
    const response = request.response;
    if (response === null || response === undefined) return;
    response.headers = { ...response.headers, ...SECURITY_HEADERS };
  };
  return { after: stamp, onError: stamp };
}
