/**
 * From one committed change (a stream record) to the history entries it makes:
 * zero, one, or — when an expired lease is taken over — two. Pure: no I/O, so a
 * redelivered record derives exactly the same entries. The rules are listed in
 * ./index.ts.
 */
import { type AllocationItem, viewFromItem } from '../allocator/items.js';
import { keys, PREFIX, parseItemKey } from '../store/keys.js';
import { AUDIT_ACTOR, HistoryAction, SYSTEM_ACTOR, UNKNOWN_ACTOR, type ViewJson } from './entry.js';
import { isHistoryKey } from './keys.js';
import { type ChangeRecord, type Item, MalformedStreamRecordError } from './records.js';

export type EntryTarget =
  | {
      readonly kind: 'address';
      readonly subnetId: string;
      readonly addressHex: string;
      readonly ip: string;
    }
  | { readonly kind: 'subnet'; readonly subnetId: string };

/** An entry as derived, before it is placed (cidr, space) and stored. */
export interface DerivedEntry {
  readonly target: EntryTarget;
  /** Its place among the record's entries (part of its key). */
  readonly index: number;
  readonly at: string;
  readonly action: HistoryAction;
  readonly actor: string;
  readonly requestId: string | null;
  readonly owner: string | null;
  readonly before: ViewJson | null;
  readonly after: ViewJson | null;
  /** The subnet's cidr and space, when the record's images carry them. */
  readonly cidr?: string;
  readonly space?: string;
  /** Actor and request id are this note's, when the change wrote one ({@link withNote}). */
  readonly note?: WriterNote;
  /** A change of an item of a multi-step request: held back until it commits (./held.ts). */
  readonly held?: HeldFor;
}

/** The multi-step request an entry waits for, and its item's address. */
export interface HeldFor {
  readonly subnetId: string;
  readonly token: string;
  readonly allocationSort: string;
}

/**
 * A note a deleting transaction writes beside what it deletes, naming the writer
 * the stream's REMOVE does not carry: a subnet's deletion note (`deletedBy`) or an
 * allocation's release note (`releasedBy`). Read consistently when the REMOVE is
 * processed.
 */
export interface WriterNote {
  readonly key: { readonly pk: string; readonly sk: string };
  readonly actorAttribute: 'deletedBy' | 'releasedBy';
}

/** Subnet attributes that are bookkeeping, not part of the subnet's view. */
const SUBNET_INTERNAL = [
  'pk',
  'sk',
  'type',
  'version',
  'configVersion',
  'gsi1pk',
  'gsi1sk',
  'reuseDelayFrom',
];
/** Attributes every write changes: a MODIFY that changes only these changes nothing. */
const WRITE_STAMPS = ['updatedAt', 'updatedBy', 'requestId', 'ttl'];

type Omitted = Omit<DerivedEntry, 'index' | 'target'>;

/** The entries a change makes; throws MalformedStreamRecordError for an unreadable item. */
export function deriveEntries(record: ChangeRecord): DerivedEntry[] {
  if (isHistoryKey(record.pk)) return [];
  const key = parseItemKey(record.pk, record.sk);
  let entries: Omitted[] = [];
  let target: EntryTarget;
  if (key.kind === 'shardItem' && key.what === 'allocation') {
    const image = record.newImage ?? record.oldImage;
    const ip = image?.ip;
    if (typeof ip !== 'string') {
      throw new MalformedStreamRecordError(`${record.pk} ${record.sk}: allocation without ip`);
    }
    target = {
      kind: 'address',
      subnetId: key.subnetId,
      addressHex: record.sk.slice(PREFIX.allocation.length),
      ip,
    };
    entries = allocationEntries(record, key.subnetId).map((entry) => withHold(entry, record));
  } else if (key.kind === 'subnet') {
    target = { kind: 'subnet', subnetId: key.subnetId };
    entries = subnetEntries(record, key.subnetId);
  } else {
    return [];
  }
  return entries.map((entry, index) => ({ ...entry, target, index }));
}

// --- Allocations -------------------------------------------------------------------

type State = 'none' | 'live' | 'tombstone';

function stateOf(image: Item | undefined): State {
  if (image === undefined) return 'none';
  if (image.releasedAt !== undefined) return 'tombstone';
  if (typeof image.createdAt !== 'string' || typeof image.subnetId !== 'string') {
    throw new MalformedStreamRecordError(
      `${String(image.pk)} ${String(image.sk)}: allocation without createdAt/subnetId`,
    );
  }
  return 'live';
}

function allocationEntries(record: ChangeRecord, subnetId: string): Omitted[] {
  const old = record.oldImage;
  const next = record.newImage;
  const was = stateOf(old);
  const now = stateOf(next);
  if (old !== undefined && was === 'live') {
    if (next !== undefined && now === 'live') return liveToLive(record, old, next);
    if (next !== undefined && now === 'tombstone') return [released(record, old, next)];
    return [removed(record, old, subnetId)];
  }
  // From nothing or a tombstone: a live item is a new allocation, anything else none.
  if (next !== undefined && now === 'live') return [allocated(record, next)];
  return [];
}

function liveToLive(record: ChangeRecord, old: Item, next: Item): Omitted[] {
  if (old.reqToken !== next.reqToken || old.createdAt !== next.createdAt) {
    // Another allocation took the address over: the old one must have expired.
    const changeMs = timeOf(record, next.createdAt);
    const lost = isExpired(old, changeMs)
      ? expired(old)
      : byWriter(
          {
            at: iso(Math.max(changeMs, stampOf(old))),
            action: HistoryAction.RELEASED,
            actor: UNKNOWN_ACTOR,
            requestId: null,
            owner: ownerOf(old),
            before: view(old),
            after: null,
          },
          undefined,
        );
    return [lost, allocated(record, next)];
  }
  const before = view(old);
  const after = view(next);
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const action =
    before.expiresAt !== after.expiresAt ? HistoryAction.RENEWED : HistoryAction.UPDATED;
  return [
    byWriter(
      {
        at: iso(Math.max(timeOf(record, next.updatedAt), stampOf(old))),
        action,
        actor: text(next.updatedBy) ?? UNKNOWN_ACTOR,
        requestId: text(next.requestId),
        owner: ownerOf(next),
        before,
        after,
      },
      next.updatedBy,
    ),
  ];
}

/**
 * An entry about an item that a multi-step request wrote (`multiStep`) waits for the
 * request's outcome (./held.ts): the item it is about is the new image where the
 * entry has an `after`, else the old one.
 */
function withHold(entry: Omitted, record: ChangeRecord): Omitted {
  const subject = entry.after !== null ? record.newImage : record.oldImage;
  const token = text(subject?.reqToken);
  if (subject?.multiStep !== true || token === null) return entry;
  return {
    ...entry,
    held: { subnetId: String(subject.subnetId), token, allocationSort: record.sk },
  };
}

function allocated(record: ChangeRecord, next: Item): Omitted {
  return byWriter(
    {
      at: iso(timeOf(record, next.updatedAt ?? next.createdAt)),
      action: HistoryAction.ALLOCATED,
      actor: text(next.updatedBy) ?? text(next.createdBy) ?? UNKNOWN_ACTOR,
      requestId: text(next.requestId),
      owner: ownerOf(next),
      before: null,
      after: view(next),
    },
    next.updatedBy ?? next.createdBy,
  );
}

/** A release that leaves a tombstone: the tombstone says who and when. */
function released(record: ChangeRecord, old: Item, tombstone: Item): Omitted {
  const changeMs = Math.max(timeOf(record, tombstone.releasedAt), stampOf(old));
  if (isExpired(old, changeMs)) return expired(old);
  return byWriter(
    {
      at: iso(changeMs),
      action: HistoryAction.RELEASED,
      actor: text(tombstone.releasedBy) ?? UNKNOWN_ACTOR,
      requestId: text(tombstone.requestId),
      owner: ownerOf(old),
      before: view(old),
      after: null,
    },
    tombstone.releasedBy,
  );
}

/**
 * A live item deleted: TTL or a sweep of an expired lease, else a release, whose
 * writer the release note names (the same transaction wrote it; keyed by the
 * allocation's request token and address, so never another allocation's).
 */
function removed(record: ChangeRecord, old: Item, subnetId: string): Omitted {
  const changeMs = Math.max(record.approximateAtMs, stampOf(old));
  if (record.byTtl || isExpired(old, changeMs)) return expired(old);
  const releasedBy = text(old.releasedBy);
  const reqToken = text(old.reqToken);
  return byWriter(
    {
      at: iso(changeMs),
      action: HistoryAction.RELEASED,
      actor: releasedBy ?? UNKNOWN_ACTOR,
      requestId: releasedBy === null ? null : text(old.requestId),
      owner: ownerOf(old),
      before: view(old),
      after: null,
      ...(releasedBy !== null || reqToken === null
        ? {}
        : {
            note: {
              key: keys.releaseNote(subnetId, record.sk, reqToken),
              actorAttribute: 'releasedBy' as const,
            },
          }),
    },
    old.releasedBy,
  );
}

/**
 * The entry with the writer its note names (`note`: the item read, undefined when
 * there is none — the actor stays "unknown"). A release note naming the audit makes
 * the release a repair. A release note's `releasedAt` (milliseconds) dates
 * the entry when later than the record's time, which streams give in whole seconds;
 * the key may depend on it because the note outlives the stream's 24 h (a
 * redelivery finds it and computes the same key). A subnet's entry keeps the
 * record's time.
 */
export function withNote(
  entry: DerivedEntry,
  note: Record<string, unknown> | undefined,
): DerivedEntry {
  if (entry.note === undefined || note === undefined) return entry;
  const actor = text(note[entry.note.actorAttribute]);
  const noted = { ...entry, actor: actor ?? UNKNOWN_ACTOR, requestId: text(note.requestId) };
  if (entry.note.actorAttribute !== 'releasedBy') return noted;
  const releasedMs = Date.parse(text(note.releasedAt) ?? '');
  const at =
    Number.isFinite(releasedMs) && releasedMs > Date.parse(entry.at) ? iso(releasedMs) : entry.at;
  return byWriter({ ...noted, at }, actor);
}

/** The lease ran out: dated at its expiry, by nobody. */
function expired(old: Item): Omitted {
  return {
    at: String(old.expiresAt),
    action: HistoryAction.EXPIRED,
    actor: SYSTEM_ACTOR,
    requestId: null,
    owner: ownerOf(old),
    before: view(old),
    after: null,
  };
}

/** A change the audit wrote is a repair, whatever it did, with the audit's id. */
function byWriter<T extends Omitted>(entry: T, writer: unknown): T {
  if (writer !== AUDIT_ACTOR) return entry;
  return { ...entry, action: HistoryAction.REPAIRED, actor: AUDIT_ACTOR };
}

function isExpired(item: Item, atMs: number): boolean {
  return typeof item.expiresAt === 'string' && Date.parse(item.expiresAt) <= atMs;
}

/**
 * The allocation view in an entry, without `createdBy`/`updatedBy`: the entry's
 * actor says who, and a PATCH that changes nothing but the writer is no change.
 */
function view(item: Item): ViewJson {
  const {
    createdBy: _created,
    updatedBy: _updated,
    ...rest
  } = viewFromItem(item as unknown as AllocationItem);
  return { ...rest };
}

function ownerOf(item: Item): string | null {
  return text(item.owner);
}

// --- Subnets -----------------------------------------------------------------------

function subnetEntries(record: ChangeRecord, subnetId: string): Omitted[] {
  const old = record.oldImage;
  const next = record.newImage;
  if (next !== undefined && old === undefined) {
    return [
      {
        at: iso(timeOf(record, next.createdAt)),
        action: HistoryAction.SUBNET_CREATED,
        actor: text(next.createdBy) ?? text(next.updatedBy) ?? UNKNOWN_ACTOR,
        requestId: text(next.requestId),
        owner: null,
        before: null,
        after: subnetView(next),
        ...placeOf(next),
      },
    ];
  }
  if (next !== undefined && old !== undefined) {
    if (!subnetChanged(old, next)) return [];
    return [
      {
        at: iso(Math.max(timeOf(record, next.updatedAt), stampOf(old))),
        action: HistoryAction.SUBNET_UPDATED,
        actor: text(next.updatedBy) ?? UNKNOWN_ACTOR,
        requestId: text(next.requestId),
        owner: null,
        before: subnetView(old),
        after: subnetView(next),
        ...placeOf(next),
      },
    ];
  }
  if (old !== undefined) {
    return [
      {
        at: iso(Math.max(record.approximateAtMs, stampOf(old))),
        action: HistoryAction.SUBNET_DELETED,
        actor: UNKNOWN_ACTOR,
        requestId: null,
        owner: null,
        before: subnetView(old),
        after: null,
        note: { key: keys.subnetDeletionNote(subnetId), actorAttribute: 'deletedBy' },
        ...placeOf(old),
      },
    ];
  }
  return [];
}

function subnetView(item: Item): ViewJson {
  // The item stores the cool-down only when there is one; the view always says it.
  const result: ViewJson = { reuseDelaySeconds: 0 };
  for (const [name, value] of Object.entries(item)) {
    if (!SUBNET_INTERNAL.includes(name) && name !== 'requestId' && name !== 'ttl')
      result[name] = value;
  }
  return result;
}

function subnetChanged(old: Item, next: Item): boolean {
  const visible = (item: Item) => {
    const fields = subnetView(item);
    for (const stamp of WRITE_STAMPS) delete fields[stamp];
    return JSON.stringify(fields, Object.keys(fields).sort());
  };
  return visible(old) !== visible(next);
}

function placeOf(item: Item): { cidr?: string; space?: string } {
  return {
    ...(typeof item.cidr === 'string' ? { cidr: item.cidr } : {}),
    ...(typeof item.space === 'string' ? { space: item.space } : {}),
  };
}

// --- Time --------------------------------------------------------------------------

/** The change's time: the writer's own stamp when it left one, else the record's. */
function timeOf(record: ChangeRecord, stamp: unknown): number {
  const ms = typeof stamp === 'string' ? Date.parse(stamp) : Number.NaN;
  return Number.isNaN(ms) ? record.approximateAtMs : ms;
}

/**
 * The latest time the previous version states. The record's own time is rounded
 * down to the second, so without a writer's stamp a change could seem older than
 * the version it replaced; no entry is dated before its predecessor.
 */
function stampOf(item: Item): number {
  let latest = 0;
  for (const name of ['createdAt', 'updatedAt', 'releasedAt']) {
    const value = item[name];
    const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (!Number.isNaN(ms)) latest = Math.max(latest, ms);
  }
  return latest;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}
