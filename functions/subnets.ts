/** Lambda for /subnets routes: parse → shared/subnets (and the map, shared/map) → respond. */
// The map's read only, not shared/map's index: that would bundle the stream processor's writes.
import { LIMITS } from '../shared/limits.js';
import { subnetMap } from '../shared/map/map.js';
import { onSubnetDeleted } from '../shared/pools/index.js';
import { withWho } from '../shared/store/context.js';
import {
  createSubnet,
  deleteSubnet,
  getSubnet,
  listSubnets,
  updateSubnet,
} from '../shared/subnets/subnets.js';
import { groupHandler, type Operations, withIdempotency } from './http/index.js';
import { ctx, idempotencyStore, logger } from './runtime.js';

const operations: Operations<'subnets'> = {
  createSubnet: withIdempotency(
    async ({ body, who }) => ({ status: 201, body: await createSubnet(withWho(ctx, who), body) }),
    idempotencyStore,
  ),
  listSubnets: async ({ query }) => ({
    status: 200,
    body: await listSubnets(ctx, { ...query, limit: query.limit ?? LIMITS.pageSize.default }),
  }),
  getSubnet: async ({ path }) => ({ status: 200, body: await getSubnet(ctx, path.subnetId) }),
  updateSubnet: async ({ path, body, who }) => ({
    status: 200,
    body: await updateSubnet(withWho(ctx, who), path.subnetId, body),
  }),
  deleteSubnet: async ({ path, who }) => {
    // A carved subnet's block goes back to its pool at once.
    await deleteSubnet(withWho(ctx, who), path.subnetId, onSubnetDeleted);
    return { status: 204 };
  },
  subnetMap: async ({ path, query }) => ({
    status: 200,
    body: await subnetMap(ctx, path.subnetId, query.cell),
  }),
};

export const handler = groupHandler('subnets', operations, logger);
