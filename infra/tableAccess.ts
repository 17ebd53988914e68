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
  /** `states:StartExecution` on the audit job's state machine (functions/audit/launch.ts). */
  readonly startsAuditJob: boolean;
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
 * The allocator bundles subnets but not subnet pools: no BatchWriteItem. A subnet
 * update's gateway check is a ConditionCheck item.
 */
const ALLOCATOR_READ_WRITE: readonly TableAction[] = [
  'GetItem',
  'BatchGetItem',
  'Query',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'ConditionCheckItem',
];

/**
 * Starting an audit job (shared/audit/job.ts startAuditJob): the lock (put, get,
 * delete on failure), DescribeTable's item count, the report, the latest-started
 * pointer, and marking a job whose lease expired `failed`.
 */
const AUDIT_START: readonly TableAction[] = ['DescribeTable', 'GetItem', 'PutItem', 'DeleteItem'];

/**
 * A job's steps that read and repair (the segments and the merge): the allocator's
 * and subnets' item actions. Only a segment Scans; only the merge lists subnets
 * (the index, INDEX_USERS).
 */
const AUDIT_REPAIR: readonly TableAction[] = ALLOCATOR_READ_WRITE;

/**
 * Main-table actions per function: an HTTP route group (functions/<group>.ts), the
 * scheduled audit, the audit job's steps (functions/audit/, infra/constructs/AuditJob.ts)
 * or the CloudFormation custom-resource provider. The audit functions get what they
 * call with `IPAM_AUDIT_STATE_MACHINE_ARN` set, as the stack sets it: without it
 * launch.ts would run the whole job in process, and Scan would be refused. A
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
  /** Starts jobs, reads reports and their segments' progress (a Query of the job's items). */
  audits: [...AUDIT_START, 'Query'],
  /** With the state machine set (the stack sets it) the schedule only starts jobs. */
  auditSchedule: AUDIT_START,
  auditSegment: [...AUDIT_REPAIR, 'Scan'],
  auditMerge: AUDIT_REPAIR,
  /** Reads the report, saves it `failed`, deletes the lock. */
  auditFail: ['GetItem', 'PutItem', 'DeleteItem'],
  /** The history routes read one history partition. */
  history: ['Query'],
  /**
   * The stream processor (functions/stream/handler.ts): writes entries
   * conditionally, marks them published, reads a subnet's cidr/space and its
   * deletion note (GetItem), or its first history entry (Query); keeps the address
   * map's summaries (shared/map/refresh.ts: a sum's `rev` by GetItem, its children
   * by Query, conditional PutItem); with `deriveHints`, the blocks' hints
   * (shared/hints/apply.ts: GetItem, conditional PutItem).
   */
  stream: ['GetItem', 'Query', 'PutItem', 'UpdateItem'],
  /** Carves, deletes and updates subnets, allocates and releases: what those groups do. */
  customResource: ITEM_READ_WRITE,
};

/**
 * Functions that list through the index (subnet lists, an owner's allocations, the
 * audit merge's subnet list; the provider finds an earlier attempt's allocation
 * among its owner's).
 */
const INDEX_USERS = new Set([
  'subnets',
  'allocations',
  'subnetPools',
  'auditMerge',
  'customResource',
]);

/** Functions that start audit jobs: POST /audits and the schedule. */
const AUDIT_JOB_STARTERS = new Set(['audits', 'auditSchedule']);

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
    startsAuditJob: AUDIT_JOB_STARTERS.has(name),
  };
}
