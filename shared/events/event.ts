/**
 * The events of API.md "Events": one per history entry, `source: "ipam"`, a
 * detail-type per action, and the entry plus where it happened as the detail.
 */

/**
 * The entry fields an event carries. Spelled here, not imported, so that events
 * depend on nothing above them (shared/history uses this folder, not the reverse).
 */
export interface EntryFields {
  readonly at: string;
  readonly action: EventAction;
  readonly actor: string;
  readonly requestId: string | null;
  readonly owner: string | null;
  readonly before: Record<string, unknown> | null;
  readonly after: Record<string, unknown> | null;
}

export const EVENT_SOURCE = 'ipam';

/** The detail-type of each history action. */
export const DETAIL_TYPES = {
  ALLOCATED: 'Allocation Created',
  UPDATED: 'Allocation Updated',
  RENEWED: 'Allocation Renewed',
  RELEASED: 'Allocation Released',
  EXPIRED: 'Lease Expired',
  REPAIRED: 'Allocation Repaired',
  SUBNET_CREATED: 'Subnet Created',
  SUBNET_UPDATED: 'Subnet Updated',
  SUBNET_DELETED: 'Subnet Deleted',
} as const;
/** The history actions (shared/history checks that its own are these). */
export type EventAction = keyof typeof DETAIL_TYPES;
export type DetailType = (typeof DETAIL_TYPES)[EventAction];

/** The entry, where it happened, and a stable id (the same on every redelivery). */
export type EventDetail = EntryFields & {
  readonly subnetId: string;
  readonly cidr: string | null;
  readonly space: string | null;
  /** Absent for subnet events. */
  readonly ip?: string;
  readonly eventId: string;
};

export interface IpamEvent {
  readonly source: typeof EVENT_SOURCE;
  readonly detailType: DetailType;
  readonly detail: EventDetail;
}

/** The event of a history entry. */
export function eventOf(
  entry: EntryFields & {
    readonly subnetId: string;
    readonly ip: string | null;
    readonly cidr: string | null;
    readonly space: string | null;
    readonly eventId: string;
  },
): IpamEvent {
  const detail: EventDetail = {
    at: entry.at,
    action: entry.action,
    actor: entry.actor,
    requestId: entry.requestId,
    owner: entry.owner,
    before: entry.before,
    after: entry.after,
    subnetId: entry.subnetId,
    cidr: entry.cidr,
    space: entry.space,
    ...(entry.ip === null ? {} : { ip: entry.ip }),
    eventId: entry.eventId,
  };
  return { source: EVENT_SOURCE, detailType: DETAIL_TYPES[entry.action], detail };
}
