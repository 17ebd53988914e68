/** Starts one DynamoDB Local (in memory, free port) for the whole run. */
import type { TestProject } from 'vitest/node';
import { type LocalDynamoDb, startLocalDynamoDb } from '../../local/dynamoDbLocal.js';

let dynamo: LocalDynamoDb | undefined;

export async function setup(project: TestProject): Promise<void> {
  dynamo = await startLocalDynamoDb();
  project.provide('dynamoEndpoint', dynamo.endpoint);
}

export async function teardown(): Promise<void> {
  await dynamo?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
  }
}
