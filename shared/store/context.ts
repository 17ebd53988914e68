/** What every domain operation needs: the table and a clock (tests may move time). */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface IpamContext {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

export function createContext(doc: DynamoDBDocumentClient, tableName: string): IpamContext {
  return { doc, tableName, now: Date.now };
}
