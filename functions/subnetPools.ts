/** Lambda for /subnet-pools routes: parse → shared/subnetPools → respond. */
import { LIMITS } from '../shared/limits.js';
import {
  carveSubnet,
  createPool,
  deletePool,
  getPool,
  listPools,
  previewNextCidr,
} from '../shared/pools/index.js';
import { withWho } from '../shared/store/context.js';
import { groupHandler, type Operations } from './http/index.js';
import { ctx, logger } from './runtime.js';

const operations: Operations<'subnetPools'> = {
  createPool: async ({ body }) => ({ status: 201, body: await createPool(ctx, body) }),
  listPools: async ({ query }) => ({
    status: 200,
    body: await listPools(ctx, { ...query, limit: query.limit ?? LIMITS.pageSize.default }),
  }),
  getPool: async ({ path }) => ({ status: 200, body: await getPool(ctx, path.poolId) }),
  deletePool: async ({ path }) => {
    await deletePool(ctx, path.poolId);
    return { status: 204 };
  },
  carveSubnet: async ({ path, body, who }) => ({
    status: 201,
    body: await carveSubnet(withWho(ctx, who), path.poolId, body),
  }),
  nextCidr: async ({ path, query }) => ({
    status: 200,
    body: await previewNextCidr(ctx, path.poolId, query.prefixLength),
  }),
};

export const handler = groupHandler('subnetPools', operations, logger);
