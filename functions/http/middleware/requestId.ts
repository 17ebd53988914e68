/** Stamps `X-Request-Id` (API Gateway's request id) on every response, errors included. */
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

type HttpRequest = Request<APIGatewayProxyEvent, APIGatewayProxyResult>;

export const REQUEST_ID_HEADER = 'X-Request-Id';

export function requestIdOf(event: APIGatewayProxyEvent): string {
  return event.requestContext?.requestId ?? 'unknown';
}

export function requestId(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const stamp = (request: HttpRequest): void => {
    const response = request.response;
    if (response === null || response === undefined) return;
    response.headers = { ...response.headers, [REQUEST_ID_HEADER]: requestIdOf(request.event) };
  };
  // onError runs after the error handler (middy runs onError in reverse order of use).
  return { after: stamp, onError: stamp };
}
