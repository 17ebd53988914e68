/**
 * Forcing a chosen interleaving: a context whose first `times` calls of `command`
 * wait until `between` (another writer) has run, so a race happens on every run.
 */
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import type { TestDb } from './dynamo.js';

export function interrupted(
  db: TestDb,
  between: () => Promise<void>,
  command = 'TransactWriteItemsCommand',
  times = 1,
): IpamContext {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  let pending = times;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (pending > 0 && context.commandName === command) {
        pending--;
        await between();
      }
      return next(args);
    },
    { step: 'initialize', name: 'interleave' },
  );
  return { ...db.ctx, doc: createDocumentClient(client) };
}
