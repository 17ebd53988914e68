/**
 * What every handler shares, created once per Lambda container (module scope):
 * the DynamoDB clients, the domain context, the allocator, the logger and the tracer.
 * The tracer records each DynamoDB call as an X-Ray subsegment; outside Lambda
 * (no AWS_EXECUTION_ENV: `npm start`, tests) it is off and leaves the client as it is.
 *
 * IPAM_TABLE_NAME (default `ipam`), IPAM_IDEMPOTENCY_TABLE_NAME (default
 * `<table>-idempotency`), IPAM_DYNAMODB_ENDPOINT (DynamoDB Local; AWS when unset).
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { Allocator } from '../shared/allocator/index.js';
import { createDocumentClient, createDynamoClient } from '../shared/store/client.js';
import { createContext } from '../shared/store/context.js';
import { DEFAULT_TABLE_NAME } from '../shared/store/table.js';

export const tableName = process.env.IPAM_TABLE_NAME ?? DEFAULT_TABLE_NAME;
export const idempotencyTableName =
  process.env.IPAM_IDEMPOTENCY_TABLE_NAME ?? `${tableName}-idempotency`;
const endpoint = process.env.IPAM_DYNAMODB_ENDPOINT;

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'ipam';
export const tracer = new Tracer({ serviceName });
export const client = tracer.captureAWSv3Client(
  createDynamoClient(endpoint === undefined ? {} : { endpoint }),
);
export const ctx = createContext(createDocumentClient(client), tableName);
export const allocator = new Allocator(ctx);
export const logger = new Logger({ serviceName });
export const idempotencyStore = new DynamoDBPersistenceLayer({
  tableName: idempotencyTableName,
  awsSdkV3Client: client,
});
