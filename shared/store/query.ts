/**
 * Paged queries. Kept apart from dynamo.ts (table set-up) so that a Lambda bundle
 * importing this does not appear to call DescribeTable/CreateTable (test/infra checks
 * each function's grants against the DynamoDB calls in its bundle).
 */
import {
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';

/** The items of a query, one page at a time (bounded memory), following LastEvaluatedKey. */
export async function* queryPages(
  ctx: { readonly doc: DynamoDBDocumentClient; readonly tableName: string },
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
): AsyncGenerator<Record<string, unknown>[]> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page: QueryCommandOutput = await ctx.doc.send(
      new QueryCommand({ ...input, TableName: ctx.tableName, ExclusiveStartKey: startKey }),
    );
    yield page.Items ?? [];
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
}
