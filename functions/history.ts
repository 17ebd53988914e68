/** Lambda for the history routes: parse → shared/history → respond (never a 404). */
// Not the folder's index: that would bundle the stream processor's writes too.
import { addressHistory, subnetHistory } from '../shared/history/history.js';
import { LIMITS } from '../shared/limits.js';
import { parseIp } from '../shared/net/address.js';
import { groupHandler, type Operations } from './http/index.js';
import { ctx, logger } from './runtime.js';

const pageOf = (query: { limit?: number; cursor?: string }) => ({
  limit: query.limit ?? LIMITS.pageSize.default,
  ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
});

const operations: Operations<'history'> = {
  addressHistory: async ({ path, query }) => ({
    status: 200,
    body: await addressHistory(ctx, path.subnetId, parseIp(path.ip), pageOf(query)),
  }),
  subnetHistory: async ({ path, query }) => ({
    status: 200,
    body: await subnetHistory(ctx, path.subnetId, pageOf(query)),
  }),
};

export const handler = groupHandler('history', operations, logger);
