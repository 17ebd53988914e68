/**
 * A history entry: what the routes answer, what is stored, and what an event
 * carries (the entry plus where it happened).
 */
import type { EventAction } from '../events/event.js';

/** The actions of API.md, per address and per subnet. */
export const HistoryAction = {
  ALLOCATED: 'ALLOCATED',
  UPDATED: 'UPDATED',
  RENEWED: 'RENEWED',
  RELEASED: 'RELEASED',
  EXPIRED: 'EXPIRED',
  REPAIRED: 'REPAIRED',
  SUBNET_CREATED: 'SUBNET_CREATED',
  SUBNET_UPDATED: 'SUBNET_UPDATED',
  SUBNET_DELETED: 'SUBNET_DELETED',
} as const satisfies Record<EventAction, EventAction>;
export type HistoryAction = (typeof HistoryAction)[keyof typeof HistoryAction];

/** Actors that are not a caller. */
export const SYSTEM_ACTOR = 'system';
export const AUDIT_ACTOR = 'audit';
/** The writer recorded no actor (items written before actors existed). */
export const UNKNOWN_ACTOR = 'unknown';

/** A view (allocation or subnet) as JSON. */
export type ViewJson = Record<string, unknown>;

/** One entry as `GET …/history` answers it. */
export interface HistoryEntryView {
  readonly at: string;
  readonly action: HistoryAction;
  readonly actor: string;
  readonly requestId: string | null;
  readonly owner: string | null;
  readonly before: ViewJson | null;
  readonly after: ViewJson | null;
}

/** Where an entry happened: what an event adds to the entry. */
export interface EntryPlace {
  readonly subnetId: string;
  /** The address (allocation entries); null for a subnet's own entries. */
  readonly ip: string | null;
  readonly cidr: string | null;
  readonly space: string | null;
}

/** The stored entry. */
export interface HistoryItem extends HistoryEntryView, EntryPlace {
  readonly pk: string;
  readonly sk: string;
  readonly type: 'history';
  /** Stable across redeliveries: consumers dedupe events on it. */
  readonly eventId: string;
  /** Set once its event is published (always true without a publisher). */
  readonly published: boolean;
  /** Epoch seconds: DynamoDB's TTL removes the entry after the retention. */
  readonly ttl: number;
  /** Epoch ms when the processor wrote it (set by the put; store.ts). */
  readonly writtenAt?: number;
}

/** The API's fields of a stored entry. */
export function entryView(item: HistoryItem): HistoryEntryView {
  return {
    at: item.at,
    action: item.action,
    actor: item.actor,
    requestId: item.requestId ?? null,
    owner: item.owner ?? null,
    before: item.before ?? null,
    after: item.after ?? null,
  };
}
