/**
 * Test-only request accounting: an SDK middleware that counts a client's DynamoDB
 * requests by command and the items its reads went through (a Query's
 * `ScannedCount`, a GetItem's item, a BatchGetItem's items), so a test can state
 * what an operation costs in requests rather than in time.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';

export class RequestCount {
  readonly byCommand = new Map<string, number>();
  itemsRead = 0;

  /** Requests of every command since the last reset. */
  get requests(): number {
    return [...this.byCommand.values()].reduce((sum, count) => sum + count, 0);
  }

  reset(): void {
    this.byCommand.clear();
    this.itemsRead = 0;
  }

  /** Installs the counting middleware on `client`. */
  install(client: DynamoDBClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName).replace(/Command$/, '');
        this.byCommand.set(command, (this.byCommand.get(command) ?? 0) + 1);
        const result = await next(args);
        const output = result.output as {
          ScannedCount?: number;
          Item?: unknown;
          Responses?: Record<string, unknown[]>;
        };
        if (command === 'Query') this.itemsRead += output.ScannedCount ?? 0;
        if (command === 'GetItem' && output.Item !== undefined) this.itemsRead += 1;
        if (command === 'BatchGetItem')
          for (const items of Object.values(output.Responses ?? {})) this.itemsRead += items.length;
        return result;
      },
      { step: 'initialize', name: 'countRequests' },
    );
  }
}

/** A context on its own client whose requests `count` sees; `now` replaces the clock if given. */
export function countedContext(
  base: IpamContext,
  endpoint: string,
  count: RequestCount,
  now?: () => number,
): IpamContext {
  const client = createDynamoClient({ endpoint, region: 'local' });
  count.install(client);
  return { ...base, doc: createDocumentClient(client), ...(now === undefined ? {} : { now }) };
}
