/**
 * Forcing a chosen interleaving: a context whose first `times` calls of `command`
 * wait until `between` (another writer) has run, so a race happens on every run.
 * `from` moves the first call that waits: only calls after a call of `after` count,
 * and the first `skip` of them pass.
 */
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import type { IpamContext } from '../../shared/store/context.js';
import type { TestDb } from './dynamo.js';

export function interrupted(
  db: TestDb,
  between: () => Promise<void>,
  command = 'TransactWriteItemsCommand',
  times = 1,
  from: { after?: string; skip?: number } = {},
): IpamContext {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  let armed = from.after === undefined;
  let skip = from.skip ?? 0;
  let pending = times;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === from.after) armed = true;
      else if (armed && pending > 0 && context.commandName === command) {
        if (skip > 0) skip--;
        else {
          pending--;
          await between();
        }
      }
      return next(args);
    },
    { step: 'initialize', name: 'interleave' },
  );
  return { ...db.ctx, doc: createDocumentClient(client) };
}
