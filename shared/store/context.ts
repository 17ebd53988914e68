/**
 * What every domain operation needs: the table and a clock (tests may move time), and
 * for a request's writes, who makes them.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Who makes a write: recorded on the items it writes, read back by the history. */
export interface Who {
  /** The caller's identity (an IAM ARN, `local`, `audit`, a stack id). */
  readonly actor: string;
  /** The request that made it (the response's X-Request-Id, the audit's id), if any. */
  readonly requestId: string | null;
}

/** The writer of changes made outside any request (direct calls, scripts, old code). */
export const UNKNOWN_WHO: Who = { actor: 'unknown', requestId: null };

export interface IpamContext {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
  /** Who this context's writes are made by; unset: UNKNOWN_WHO. */
  readonly who?: Who;
}

export function createContext(doc: DynamoDBDocumentClient, tableName: string): IpamContext {
  return { doc, tableName, now: Date.now };
}

/** A per-request context: the shared one, with the writes attributed to `who`. */
export function withWho(ctx: IpamContext, who: Who): IpamContext {
  return { ...ctx, who };
}

/** Who a context's writes are made by. */
export function whoOf(ctx: IpamContext): Who {
  return ctx.who ?? UNKNOWN_WHO;
}

/**
 * The attributes a write stamps on the item it creates or changes, read by the
 * history: `updatedBy` and `requestId` (none when the request has no id).
 */
export function writerStamps(who: Who): { updatedBy: string; requestId?: string } {
  return {
    updatedBy: who.actor,
    ...(who.requestId === null ? {} : { requestId: who.requestId }),
  };
}
