/**
 * Lambda for /health and /openapi.json, and the catch-all that answers unknown
 * routes (404) and known paths with another method (405).
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { groupHandler, unroutable } from './http/dispatch.js';
import { HttpError } from './http/errors.js';
import { httpApi } from './http/middleware.js';
import { openApiDocument } from './http/openapi.js';
import { ROUTES } from './http/routes.js';
import { client, logger, tableName } from './runtime.js';

const routed = groupHandler(
  'meta',
  {
    health: async () => {
      try {
        await client.send(new DescribeTableCommand({ TableName: tableName }));
      } catch (error) {
        logger.warn('Health check cannot reach the table', { error });
        throw new HttpError(
          'SERVICE_UNAVAILABLE',
          'The service cannot reach its table yet.',
          {},
          { 'Retry-After': '5' },
        );
      }
      return { status: 200, body: { status: 'ok' } };
    },
    openapi: async () => ({ status: 200, body: openApiDocument() }),
  },
  logger,
);

const fallback = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(httpApi({ logger }))
  .handler(async (event) => {
    throw unroutable(event);
  });

export async function handler(
  event: APIGatewayProxyEvent,
  context: Context,
): Promise<APIGatewayProxyResult> {
  const isMetaRoute = ROUTES.some(
    (route) =>
      route.group === 'meta' && route.path === event.resource && route.method === event.httpMethod,
  );
  return isMetaRoute ? routed(event, context) : fallback(event, context);
}
