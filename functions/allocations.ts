/** Lambda for allocation routes: parse → shared/allocator → respond. */
import { listByMac, listByOwner, lookupAddress } from '../shared/allocator/index.js';
import { LIMITS } from '../shared/limits.js';
import { parseIp, parseMac } from '../shared/net/address.js';
import { groupHandler, type Operations, withIdempotency } from './http/index.js';
import { allocator, ctx, idempotencyStore, logger } from './runtime.js';

const pageOf = (query: { limit?: number; cursor?: string }) => ({
  limit: query.limit ?? LIMITS.pageSize.default,
  ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
});

const operations: Operations<'allocations'> = {
  allocate: withIdempotency(
    async ({ path, body, who }) => ({
      status: 201,
      body: { allocations: await allocator.allocate(path.subnetId, body, who) },
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
  updateAllocation: async ({ path, body, who }) => ({
    status: 200,
    body: await allocator.update(path.subnetId, parseIp(path.ip), body, who),
  }),
  release: async ({ path, query, who }) => {
    await allocator.release(path.subnetId, parseIp(path.ip), query.owner, who);
    return { status: 204 };
  },
  // The query schema admits exactly one of owner and macAddress.
  listByOwner: async ({ query }) => ({
    status: 200,
    body:
      query.macAddress === undefined
        ? await listByOwner(ctx, query.owner ?? '', pageOf(query))
        : await listByMac(ctx, parseMac(query.macAddress), pageOf(query)),
  }),
  lookupAddress: async ({ path, query }) => ({
    status: 200,
    body: await lookupAddress(ctx, parseIp(path.ip), query.space),
  }),
};

export const handler = groupHandler('allocations', operations, logger);
