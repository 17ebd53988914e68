/**
 * The store: DynamoDB clients, the one table and its keys, transactions that survive
 * lost answers, paged queries, list cursors (each bound to its list's scope), and
 * when to retry.
 */
export {
  createDocumentClient,
  createDynamoClient,
  DEFAULT_TIMEOUTS,
  type DynamoSettings,
} from './client.js';
export { createContext, type IpamContext } from './context.js';
export {
  ownerAllocationsScope,
  poolsScope,
  subnetAllocationsScope,
  subnetsScope,
} from './cursorScopes.js';
export {
  auditKeys,
  keys,
  mapKeys,
  PoolBlockKind,
  PREFIX,
  parseAllocationSort,
  parseBlockSort,
  parseItemKey,
  parseShardPartition,
  poolKeys,
  SORT,
} from './keys.js';
export { type Cursor, decodeCursor, encodeCursor, type ListScope, type Page } from './paging.js';
export { queryPages } from './query.js';
export {
  backoffMs,
  type CancellationReason,
  isConditionalCheckFailed,
  isRetryableAwsError,
  isRetryableCancellation,
  isTransactionCanceled,
  RETRY,
  retryRead,
  sleep,
  type TransactionCanceled,
  TransactionThrottledError,
} from './retry.js';
export {
  DEFAULT_TABLE_NAME,
  IDEMPOTENCY_TABLE,
  KEY,
  LIST_INDEX,
  TTL_ATTRIBUTE,
} from './table.js';
export {
  AmbiguousWriteError,
  TRANSACTION_ATTEMPTS,
  type TransactItem,
  type TransactItems,
  type TransactionOutcome,
  wasAmbiguous,
  writeTransaction,
} from './transactions.js';
