/**
 * The HTTP answer to a failure thrown by a domain call: a subnets handler whose
 * every operation throws `failure`, run through the real middy pipeline with a
 * synthetic `GET /subnets/sub_x` event (request id `req-1`).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { groupHandler } from '../../functions/http/dispatch.js';

const logger = new Logger({ logLevel: 'SILENT' });

export async function answerTo(failure: unknown) {
  const fail = async (): Promise<never> => {
    throw failure;
  };
  const handler = groupHandler(
    'subnets',
    {
      createSubnet: fail,
      listSubnets: fail,
      getSubnet: fail,
      updateSubnet: fail,
      deleteSubnet: fail,
      subnetMap: fail,
    },
    logger,
  );
  const event = {
    resource: '/subnets/{subnetId}',
    path: '/subnets/sub_x',
    httpMethod: 'GET',
    headers: {},
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { subnetId: 'sub_x' },
    stageVariables: null,
    requestContext: { requestId: 'req-1' } as APIGatewayProxyEvent['requestContext'],
    body: null,
    isBase64Encoded: false,
  } satisfies APIGatewayProxyEvent;
  const response = await handler(event, {} as Context);
  return { ...response, json: JSON.parse(response.body) };
}
