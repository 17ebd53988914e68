/**
 * Paged queries. Kept apart from table set-up (local/tables.ts) so that a Lambda
 * bundle importing this does not appear to call DescribeTable/CreateTable
 * (test/infra checks each function's grants against the DynamoDB calls in its bundle).
 */
import {
  type DynamoDBDocumentClient,
  paginateQuery,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';

/**
 * The items of a query, one page at a time (bounded memory): lib-dynamodb's
 * `paginateQuery`, which follows `LastEvaluatedKey` to the end.
 *
 * @param ctx - the client and table
 * @param input - the query without table name and start key (`Limit` caps each page)
 * @param tally - when given, each page's consumed read capacity is added to it
 * @returns an async iterator of each page's items (an empty page is possible)
 */
export async function* queryPages(
  ctx: { readonly doc: DynamoDBDocumentClient; readonly tableName: string },
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  tally?: { read: number },
): AsyncGenerator<Record<string, unknown>[]> {
  for await (const page of paginateQuery(
    { client: ctx.doc },
    {
      ...input,
      TableName: ctx.tableName,
      ...(tally === undefined ? {} : { ReturnConsumedCapacity: 'TOTAL' as const }),
    },
  )) {
    if (tally !== undefined) tally.read += page.ConsumedCapacity?.CapacityUnits ?? 0;
    yield page.Items ?? [];
  }
}
