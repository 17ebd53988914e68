/** Lambda for allocation routes: parse → shared/allocator → respond. */
import { listByOwner } from '../shared/allocator/index.js';
import { LIMITS } from '../shared/limits.js';
import { parseIp } from '../shared/net/address.js';
import { groupHandler, type Operations, withIdempotency } from './http/index.js';
import { allocator, ctx, idempotencyStore, logger } from './runtime.js';

const pageOf = (query: { limit?: number; cursor?: string }) => ({
  limit: query.limit ?? LIMITS.pageSize.default,
  ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
});

const operations: Operations<'allocations'> = {
  allocate: withIdempotency(
    async ({ path, body }) => ({
      status: 201,
      body: { allocations: await allocator.allocate(path.subnetId, body) },
    }),
    idempotencyStore,
  ),
  listAllocations: async ({ path, query }) => ({
    status: 200,
    body: await allocator.list(path.subnetId, {
      ...pageOf(query),
      ...(query.owner === undefined ? {} : { owner: query.owner }),
    }),
  }),
  getAllocation: async ({ path }) => ({
    status: 200,
    body: await allocator.get(path.subnetId, parseIp(path.ip)),
  }),
  updateAllocation: async ({ path, body }) => ({
    status: 200,
    body: await allocator.update(path.subnetId, parseIp(path.ip), body),
  }),
  release: async ({ path, query }) => {
    await allocator.release(path.subnetId, parseIp(path.ip), query.owner);
    return { status: 204 };
  },
  listByOwner: async ({ query }) => ({
    status: 200,
    body: await listByOwner(ctx, query.owner, pageOf(query)),
  }),
};

export const handler = groupHandler('allocations', operations, logger);
