/**
 * A summary: how many addresses of its blocks were allocated (`a`), leased (`l`)
 * and in their cool-down (`q`) at `at`, and `next`, the first moment after which
 * time alone changes one of those counts (a lease's expiry, a cool-down's start or
 * end; absent: never). It is exact from `at` until `next`; a reader outside that
 * span goes below it (./cells.ts). It knows nothing of pools or gateway, so a pool
 * or gateway change leaves every summary right: `free` is pool arithmetic at read
 * time. Items: store/keys.ts `mapKeys`; a block's summary carries `v`, the stream
 * sequence number of the image it was made from; a sum carries `rev` (its writes
 * are optimistic, ./refresh.ts); an empty one carries `ttl`, so a deleted subnet's
 * summaries go by themselves.
 */
import type { IpamContext } from '../store/context.js';
import { mapKeys } from '../store/keys.js';
import { queryPages } from '../store/query.js';
import type { BlockState } from '../subnets/blocks.js';
import { kindOf } from './kinds.js';

export interface Summary {
  readonly a: number;
  readonly l: number;
  readonly q: number;
  /** Epoch seconds the counts hold from. */
  readonly at: number;
  /** Epoch seconds from which they may be wrong; undefined: never. */
  readonly next: number | undefined;
}

export interface StoredSummary extends Summary {
  readonly index: bigint;
  /** Sums only: bumped by every write. */
  readonly rev: number | undefined;
}

export const EMPTY_SUMMARY: Summary = { a: 0, l: 0, q: 0, at: 0, next: undefined };

export function heldIn(summary: Summary): number {
  return summary.a + summary.l + summary.q;
}

export function isEmpty(summary: Summary): boolean {
  return heldIn(summary) === 0 && summary.next === undefined;
}

/** Whether the counts hold at `now` (epoch seconds). */
export function holdsAt(summary: Summary, now: number): boolean {
  return summary.at <= now && (summary.next === undefined || now < summary.next);
}

/** A block's summary at `now`: its counts, and its next lease or cool-down moment. */
export function blockSummary(block: BlockState, now: number): Summary {
  let a = 0;
  let l = 0;
  let q = 0;
  let next: number | undefined;
  const later = (moment: number | undefined) => {
    if (moment !== undefined && moment > now && (next === undefined || moment < next)) {
      next = moment;
    }
  };
  for (const offset of block.used) {
    const kind = kindOf(block, offset, now);
    if (kind === 'allocated') a++;
    else if (kind === 'leased') l++;
    else if (kind === 'quarantined') q++;
    later(block.cooling.get(offset));
    later(block.leases.get(offset));
  }
  return { a, l, q, at: now, next };
}

/** The sum of summaries: exact where all of them are. */
export function sumOf(parts: Iterable<Summary>): Summary {
  let a = 0;
  let l = 0;
  let q = 0;
  let at = 0;
  let next: number | undefined;
  for (const part of parts) {
    a += part.a;
    l += part.l;
    q += part.q;
    if (part.at > at) at = part.at;
    if (part.next !== undefined && (next === undefined || part.next < next)) next = part.next;
  }
  return { a, l, q, at, next };
}

export function sameSummary(x: Summary, y: Summary): boolean {
  return x.a === y.a && x.l === y.l && x.q === y.q && x.at === y.at && x.next === y.next;
}

export function summaryFromItem(item: Record<string, unknown>, index: bigint): StoredSummary {
  return {
    index,
    a: Number(item.a ?? 0),
    l: Number(item.l ?? 0),
    q: Number(item.q ?? 0),
    at: Number(item.at ?? 0),
    next: typeof item.next === 'number' ? item.next : undefined,
    rev: typeof item.rev === 'number' ? item.rev : undefined,
  };
}

/** The summary attributes of an item (no keys, no version). */
export function summaryAttributes(summary: Summary): Record<string, unknown> {
  return {
    type: 'mapSummary',
    a: summary.a,
    l: summary.l,
    q: summary.q,
    at: summary.at,
    ...(summary.next === undefined ? {} : { next: summary.next }),
  };
}

/**
 * The stored summaries of `level` from index `first` to `last` (one partition), by
 * index; a missing one is empty.
 */
export async function readSummaries(
  ctx: IpamContext,
  subnetId: string,
  level: number,
  first: bigint,
  last: bigint,
  consistent: boolean,
  tally?: { read: number },
): Promise<Map<bigint, StoredSummary>> {
  const base = (first >> 8n) << 8n;
  const found = new Map<bigint, StoredSummary>();
  const pages = queryPages(
    ctx,
    {
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
      ExpressionAttributeValues: {
        ':pk': mapKeys.partition(subnetId, level, first),
        ':first': mapKeys.sortOf(first),
        ':last': mapKeys.sortOf(last),
      },
      ConsistentRead: consistent,
    },
    tally,
  );
  for await (const items of pages) {
    for (const item of items) {
      const index = base + BigInt(`0x${String(item.sk)}`);
      found.set(index, summaryFromItem(item, index));
    }
  }
  return found;
}
