/**
 * The deployed handler's actor: API Gateway's request context names the caller (its
 * IAM identity), and an `X-Ipam-Actor` header — honoured by the local server only —
 * changes nothing. The Lambda handlers run in-process on DynamoDB Local with the
 * event API Gateway (REST, v1) sends.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { addressHistory } from '../../shared/history/index.js';
import { parseIp } from '../../shared/net/address.js';
import { createTestDb, historyPoller, type TestDb } from '../support/dynamo.js';

type Handler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

let db: TestDb;
let subnets: Handler;
let allocations: Handler;

const ALICE = 'arn:aws:iam::123456789012:user/alice';
const BOB = 'arn:aws:sts::123456789012:assumed-role/deployer/bob';

beforeAll(async () => {
  db = await createTestDb({ stream: true });
  // functions/runtime.ts reads its table and endpoint at import.
  process.env.IPAM_TABLE_NAME = db.ctx.tableName;
  process.env.IPAM_DYNAMODB_ENDPOINT = db.endpoint;
  process.env.AWS_REGION = 'local';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  subnets = (await import('../../functions/subnets.js')).handler;
  allocations = (await import('../../functions/allocations.js')).handler;
});

let nextRequest = 0;

/** What API Gateway sends for a signed request of `userArn` (header names as sent). */
function gatewayEvent(
  method: string,
  resource: string,
  path: string,
  pathParameters: Record<string, string> | null,
  body: unknown,
  identity: { userArn: string | null; caller: string | null },
): APIGatewayProxyEvent {
  nextRequest++;
  return {
    resource,
    path,
    httpMethod: method,
    headers: { 'Content-Type': 'application/json', 'X-Ipam-Actor': 'mallory' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters,
    stageVariables: null,
    requestContext: {
      requestId: `gw-req-${nextRequest}`,
      httpMethod: method,
      path: `/prod${path}`,
      resourcePath: resource,
      stage: 'prod',
      identity: { ...identity, accountId: '123456789012', sourceIp: '192.0.2.1' },
    } as unknown as APIGatewayProxyEvent['requestContext'],
    body: body === undefined ? null : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

function lambdaContext(): Context {
  return {
    awsRequestId: `lambda-${nextRequest}`,
    functionName: 'ipam-allocations',
    getRemainingTimeInMillis: () => 30_000,
  } as unknown as Context;
}

describe('the deployed handler', () => {
  it('records the caller from the request context, never from X-Ipam-Actor', async () => {
    const created = await subnets(
      gatewayEvent(
        'POST',
        '/subnets',
        '/subnets',
        null,
        { cidr: '10.71.0.0/24', space: 'deployed' },
        { userArn: ALICE, caller: 'AIDAALICE' },
      ),
      lambdaContext(),
    );
    expect(created.statusCode).toBe(201);
    const subnetId = JSON.parse(created.body).id as string;
    const allocate = gatewayEvent(
      'POST',
      '/subnets/{subnetId}/allocations',
      `/subnets/${subnetId}/allocations`,
      { subnetId },
      { ip: '10.71.0.9', owner: 'vm-1' },
      { userArn: ALICE, caller: 'AIDAALICE' },
    );
    const allocated = await allocations(allocate, lambdaContext());
    expect(allocated.statusCode).toBe(201);
    expect(JSON.parse(allocated.body).allocations[0]).toMatchObject({
      createdBy: ALICE,
      updatedBy: ALICE,
    });
    expect(allocated.headers?.['X-Request-Id']).toBe(allocate.requestContext.requestId);
    // No userArn in the context: the caller id stands in.
    const patched = await allocations(
      gatewayEvent(
        'PATCH',
        '/subnets/{subnetId}/allocations/{ip}',
        `/subnets/${subnetId}/allocations/10.71.0.9`,
        { subnetId, ip: '10.71.0.9' },
        { owner: 'vm-2' },
        { userArn: null, caller: BOB },
      ),
      lambdaContext(),
    );
    expect(patched.statusCode).toBe(200);
    expect(JSON.parse(patched.body)).toMatchObject({ createdBy: ALICE, updatedBy: BOB });

    const poller = historyPoller(db);
    await poller.drain();
    await poller.stop();
    const entries = (await addressHistory(db.ctx, subnetId, parseIp('10.71.0.9'), { limit: 10 }))
      .items;
    expect(entries.map((entry) => [entry.action, entry.actor, entry.requestId])).toEqual([
      ['UPDATED', BOB, patched.headers?.['X-Request-Id']],
      ['ALLOCATED', ALICE, allocate.requestContext.requestId],
    ]);
  });
});
