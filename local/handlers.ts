/** The deployed Lambdas, wired to local routes exactly as API Gateway wires them. */
import { handler as allocations } from '../functions/allocations.js';
import { handler as audits } from '../functions/audits.js';
import { handler as history } from '../functions/history.js';
import { type Group, matchRoute } from '../functions/http/index.js';
import { handler as meta } from '../functions/meta.js';
import { client, idempotencyTableName, tableName } from '../functions/runtime.js';
import { handler as subnetPools } from '../functions/subnetPools.js';
import { handler as subnets } from '../functions/subnets.js';
import type { LambdaHandler, RouteResolver } from './server.js';
import { ensureTables } from './tables.js';

const HANDLERS: Record<Group, LambdaHandler> = {
  subnets,
  allocations,
  subnetPools,
  audits,
  history,
  meta,
};

export const routeResolver: RouteResolver = {
  resolve(method, segments) {
    const match = segments === undefined ? undefined : matchRoute(method, segments);
    const handler =
      match === undefined || match === 'method' ? undefined : HANDLERS[match.route.group];
    if (match === undefined || match === 'method' || handler === undefined) {
      return {
        handler: meta,
        resource: '/{proxy+}',
        pathParameters: { proxy: segments?.raw.join('/') ?? '' },
      };
    }
    return {
      handler,
      resource: match.route.path,
      pathParameters: match.pathParameters,
    };
  },
};

/** Creates the main and the idempotency table when missing. */
export function prepareTables(options: { stream: boolean }): Promise<void> {
  return ensureTables(client, tableName, idempotencyTableName, options);
}
