/**
 * Lambda for /health and /openapi.json, and the catch-all that answers unknown
 * routes (404) and known paths with another method (405).
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import {
  groupHandler,
  HttpError,
  httpPipeline,
  type Operations,
  openApiDocument,
  ROUTES,
  unroutable,
} from './http/index.js';
import { client, logger, tableName } from './runtime.js';

const operations: Operations<'meta'> = {
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
};

const routed = groupHandler('meta', operations, logger);

const fallback = httpPipeline(logger, async (event) => {
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
