/**
 * Which DynamoDB actions each function may call, and on what: explicit lists
 * instead of `grantReadWriteData`, which would also grant Scan, DescribeTable and
 * the stream actions (GetRecords, GetShardIterator) to functions that never use
 * them. test/infra/tableAccess.test.ts reads the code each function bundles and
 * fails when a function calls an action it is not granted here (or is granted one
 * it no longer calls), so this table cannot drift from the code silently.
 */
import { ROUTES } from '../functions/http/routes.js';

export type TableAction =
  | 'DescribeTable'
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'Scan'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'ConditionCheckItem'
  | 'BatchWriteItem';

export interface TableAccess {
  /** Actions on the main table itself. */
  readonly table: readonly TableAction[];
  /** Query on the list index `gsi1` (its own ARN). */
  readonly index: boolean;
  /** Powertools Idempotency's record table (get, put, update, delete of one record). */
  readonly idempotency: boolean;
}

/** What Powertools' DynamoDBPersistenceLayer calls on the idempotency table. */
export const IDEMPOTENCY_ACTIONS: readonly TableAction[] = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
];

/**
 * The domain's item reads and conditional writes, for the functions that bundle
 * subnet pools (the subnets group gives carved blocks back on delete; the provider
 * carves). BatchWriteItem can only put and delete, which PutItem and DeleteItem
 * already allow, so it adds no capability.
 */
const ITEM_READ_WRITE: readonly TableAction[] = [
  'GetItem',
  'BatchGetItem',
  'Query',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'ConditionCheckItem',
  'BatchWriteItem',
];

/**
 * The allocator bundles subnets but not subnet pools: no BatchWriteItem, and its
 * transactions hold no ConditionCheck item.
 */
const ALLOCATOR_READ_WRITE: readonly TableAction[] = [
  'GetItem',
  'BatchGetItem',
  'Query',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
];

/** The audit bundles the allocator and subnets, not subnet pools, and walks the table with Scan. */
const AUDIT_READ_WRITE: readonly TableAction[] = [
  ...ALLOCATOR_READ_WRITE,
  'ConditionCheckItem',
  'Scan',
];

/**
 * Main-table actions per function: an HTTP route group (functions/<group>.ts), the
 * scheduled audit or the CloudFormation custom-resource provider. A
 * TransactWriteItems call is authorised per item, so its Put/Update/Delete/
 * ConditionCheck items need PutItem/UpdateItem/DeleteItem/ConditionCheckItem; there
 * is no separate transaction action.
 */
const TABLE_ACTIONS: Readonly<Record<string, readonly TableAction[]>> = {
  /** /health calls DescribeTable; /openapi.json and the 404/405 catch-all touch nothing. */
  meta: ['DescribeTable'],
  subnets: ITEM_READ_WRITE,
  allocations: ALLOCATOR_READ_WRITE,
  subnetPools: ITEM_READ_WRITE,
  audits: AUDIT_READ_WRITE,
  auditSchedule: AUDIT_READ_WRITE,
  /** The history routes read one history partition. */
  history: ['Query'],
  /**
   * The stream processor (functions/stream/handler.ts): writes entries
   * conditionally, marks them published, reads a subnet's cidr/space and its
   * deletion note (GetItem), or its first history entry (Query).
   */
  stream: ['GetItem', 'Query', 'PutItem', 'UpdateItem'],
  /** Carves, deletes and updates subnets, allocates and releases: what those groups do. */
  customResource: ITEM_READ_WRITE,
};

/**
 * Functions that list through the index (subnet lists, an owner's allocations, the
 * audit; the provider finds an earlier attempt's allocation among its owner's).
 */
const INDEX_USERS = new Set([
  'subnets',
  'allocations',
  'subnetPools',
  'audits',
  'auditSchedule',
  'customResource',
]);

export class UnknownFunctionAccessError extends Error {
  override readonly name = 'UnknownFunctionAccessError';
}

/**
 * The access of one function. A group with an idempotent route needs the
 * idempotency table; that follows from ROUTES. A group not listed above fails the
 * synth: deciding what a new function may touch is a review decision, not a default.
 */
export function tableAccessOf(name: string): TableAccess {
  const table = TABLE_ACTIONS[name];
  if (table === undefined) {
    throw new UnknownFunctionAccessError(
      `No DynamoDB access is declared for function '${name}': add it to TABLE_ACTIONS in infra/tableAccess.ts.`,
    );
  }
  return {
    table,
    index: INDEX_USERS.has(name),
    idempotency: ROUTES.some((route) => route.group === name && route.idempotent === true),
  };
}
