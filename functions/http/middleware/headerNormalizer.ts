/**
 * Lower-cases request header names once, so that everything after reads
 * `headers['content-type']` instead of searching case-insensitively (HTTP header
 * names are case-insensitive; API Gateway passes them as the client spelled them).
 */
import type { MiddlewareObj, Request } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';

export function headerNormalizer(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  const headerNormalizerBefore = ({
    event,
  }: Request<APIGatewayProxyEvent, APIGatewayProxyResult>): void => {
    event.headers = lowerCaseKeys(event.headers ?? {});
    event.multiValueHeaders = lowerCaseKeys(event.multiValueHeaders ?? {});
  };
  return { before: headerNormalizerBefore };
}

/** The same entries under lower-case names; of two spellings of one name, the later wins. */
function lowerCaseKeys<T>(headers: Record<string, T>): Record<string, T> {
  const normalised: Record<string, T> = {};
  for (const [name, value] of Object.entries(headers)) normalised[name.toLowerCase()] = value;
  return normalised;
}
