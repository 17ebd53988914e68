/**
 * Where the audit keeps its own items, in the service's one table (the audit's scan
 * skips every `AUDIT#` partition):
 *
 * | item           | pk                          | sk                      | attributes                                                          |
 * | -------------- | --------------------------- | ----------------------- | ------------------------------------------------------------------- |
 * | report         | `AUDIT#<id>`                | `REPORT`                | status, startedAt, finishedAt, `report` (JSON), `checkpoint` (JSON, while partial), `version` |
 * | latest pointer | `AUDIT#LATEST`              | `POINTER`               | auditId, finishedAt — moved only by a complete audit                |
 * | sighting       | `AUDIT#SIGHTING#<subnetId>` | `<kind>#<where>`        | fingerprint, firstSeenAt (ms), auditId, `ttl` (a week)              |
 * | sightings      | `AUDIT#SIGHTING#<subnetId>` | `<kind>#<where>`        | `states` (JSON: part → fingerprint, firstSeenAt, auditId), `ttl`    |
 *
 * A **sighting** is how the audit ages a state that carries no timestamp of its own
 * (a block offset that no allocation names, the items of a deleted subnet): the
 * first audit to see it records when, and a later audit repairs it only when it
 * sees the very same state (same fingerprint) and the first sighting is older than
 * the grace period.
 */
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { IpamContext } from '../store/context.js';
import { auditKeys, PREFIX } from '../store/keys.js';
import { isConditionalCheckFailed } from '../store/retry.js';

/** Adds up the capacity every request reports (`ReturnConsumedCapacity: 'TOTAL'`). */
export class CapacityMeter {
  readUnits = 0;
  writeUnits = 0;

  read(consumed: ConsumedCapacity | readonly ConsumedCapacity[] | undefined): void {
    this.readUnits += units(consumed);
  }

  write(consumed: ConsumedCapacity | readonly ConsumedCapacity[] | undefined): void {
    this.writeUnits += units(consumed);
  }
}

function units(consumed: ConsumedCapacity | readonly ConsumedCapacity[] | undefined): number {
  if (consumed === undefined) return 0;
  const all: readonly ConsumedCapacity[] = Array.isArray(consumed)
    ? consumed
    : [consumed as ConsumedCapacity];
  return all.reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
}

/** Partitions that belong to the audit itself. */
export const AUDIT_PARTITION_PREFIX = PREFIX.audit;

export interface StoredAudit {
  readonly report: unknown;
  readonly checkpoint: unknown;
  readonly version: number;
}

/** Thrown when another run saved the same audit meanwhile (two resumes of one audit). */
export class AuditConflictError extends Error {
  override readonly name = 'AuditConflictError';
}

export async function readAudit(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
): Promise<StoredAudit | undefined> {
  const result = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: auditKeys.report(auditId),
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.read(result.ConsumedCapacity);
  const item = result.Item;
  if (item === undefined || typeof item.report !== 'string') return undefined;
  return {
    report: JSON.parse(item.report),
    checkpoint: typeof item.checkpoint === 'string' ? JSON.parse(item.checkpoint) : undefined,
    version: Number(item.version ?? 0),
  };
}

/**
 * Saves the report (and the checkpoint of a partial audit) on condition that no
 * other run saved it since `expectedVersion` was read (undefined: a new audit).
 * Returns the new version.
 */
export async function writeAudit(
  ctx: IpamContext,
  meter: CapacityMeter,
  report: { id: string; status: string; startedAt: string; finishedAt: string | null },
  checkpoint: unknown,
  expectedVersion: number | undefined,
): Promise<number> {
  const version = (expectedVersion ?? 0) + 1;
  try {
    const result = await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: {
          ...auditKeys.report(report.id),
          type: 'audit',
          id: report.id,
          status: report.status,
          startedAt: report.startedAt,
          finishedAt: report.finishedAt,
          report: JSON.stringify(report),
          ...(checkpoint === undefined ? {} : { checkpoint: JSON.stringify(checkpoint) }),
          version,
        },
        ConditionExpression:
          expectedVersion === undefined ? 'attribute_not_exists(pk)' : 'version = :version',
        ...(expectedVersion === undefined
          ? {}
          : { ExpressionAttributeValues: { ':version': expectedVersion } }),
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    meter.write(result.ConsumedCapacity);
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
    throw new AuditConflictError(
      `Audit ${report.id} was saved by another run meanwhile; resume it from its latest checkpoint.`,
    );
  }
  return version;
}

/** Points `AUDIT#LATEST` at a complete audit, unless a later-finishing one holds it already. */
export async function markLatest(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
  finishedAt: string,
): Promise<void> {
  try {
    const result = await ctx.doc.send(
      new PutCommand({
        TableName: ctx.tableName,
        Item: { ...auditKeys.latest, type: 'auditPointer', auditId, finishedAt },
        ConditionExpression: 'attribute_not_exists(pk) OR finishedAt <= :finishedAt',
        ExpressionAttributeValues: { ':finishedAt': finishedAt },
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    meter.write(result.ConsumedCapacity);
  } catch (error) {
    if (!isConditionalCheckFailed(error)) throw error;
  }
}

/** The audit id a pointer item (`auditKeys.latest`, `auditKeys.latestStarted`) names, read consistently. */
export async function readAuditPointer(
  ctx: IpamContext,
  meter: CapacityMeter,
  key: Record<string, string>,
): Promise<string | undefined> {
  const result = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: key,
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.read(result.ConsumedCapacity);
  const id = result.Item?.auditId;
  return typeof id === 'string' ? id : undefined;
}

export interface Sighting {
  /** When an audit first saw this exact state (ms since the epoch). */
  readonly firstSeenMs: number;
  /** Whether an earlier audit (not this one) recorded it: two independent reads agree. */
  readonly byEarlierAudit: boolean;
}

const SIGHTING_LIFETIME_SECONDS = 7 * 24 * 3600;

/**
 * Records that this audit sees `what` in the state `fingerprint`, and returns the
 * first sighting of that same state. A different fingerprint starts a new sighting.
 */
export async function sight(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
  subnetId: string,
  what: string,
  fingerprint: string,
): Promise<Sighting> {
  const key = auditKeys.sighting(subnetId, what);
  const found = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: key,
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.read(found.ConsumedCapacity);
  const item = found.Item;
  if (item !== undefined && item.fingerprint === fingerprint) {
    return { firstSeenMs: Number(item.firstSeenAt), byEarlierAudit: item.auditId !== auditId };
  }
  const nowMs = ctx.now();
  const written = await ctx.doc.send(
    new PutCommand({
      TableName: ctx.tableName,
      Item: {
        ...key,
        type: 'auditSighting',
        fingerprint,
        firstSeenAt: nowMs,
        auditId,
        // The table's TTL removes sightings of states that went away by themselves.
        ttl: Math.floor(nowMs / 1000) + SIGHTING_LIFETIME_SECONDS,
      },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.write(written.ConsumedCapacity);
  return { firstSeenMs: nowMs, byEarlierAudit: false };
}

export async function forgetSighting(
  ctx: IpamContext,
  meter: CapacityMeter,
  subnetId: string,
  what: string,
): Promise<void> {
  const result = await ctx.doc.send(
    new DeleteCommand({
      TableName: ctx.tableName,
      Key: auditKeys.sighting(subnetId, what),
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.write(result.ConsumedCapacity);
}

interface PartSighting {
  readonly fingerprint: string;
  readonly firstSeenAt: number;
  readonly auditId: string;
}

/**
 * {@link sight} for the parts of one thing at once (a block's offsets), in one item:
 * each part keeps its own first sighting while its fingerprint stays, whatever the
 * other parts do; a part not seen now is dropped. Returns each part's first sighting.
 */
export async function sightEach(
  ctx: IpamContext,
  meter: CapacityMeter,
  auditId: string,
  subnetId: string,
  what: string,
  fingerprints: ReadonlyMap<string, string>,
): Promise<Map<string, Sighting>> {
  const key = auditKeys.sighting(subnetId, what);
  const found = await ctx.doc.send(
    new GetCommand({
      TableName: ctx.tableName,
      Key: key,
      ConsistentRead: true,
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.read(found.ConsumedCapacity);
  const stored: Record<string, PartSighting> =
    typeof found.Item?.states === 'string' ? JSON.parse(found.Item.states) : {};
  const nowMs = ctx.now();
  const states: Record<string, PartSighting> = {};
  const sightings = new Map<string, Sighting>();
  let changed = Object.keys(stored).length !== fingerprints.size;
  for (const [part, fingerprint] of fingerprints) {
    const before = stored[part];
    const state =
      before?.fingerprint === fingerprint ? before : { fingerprint, firstSeenAt: nowMs, auditId };
    if (state !== before) changed = true;
    states[part] = state;
    sightings.set(part, {
      firstSeenMs: state.firstSeenAt,
      byEarlierAudit: state.auditId !== auditId,
    });
  }
  if (!changed) return sightings;
  const written = await ctx.doc.send(
    new PutCommand({
      TableName: ctx.tableName,
      Item: {
        ...key,
        type: 'auditSightings',
        states: JSON.stringify(states),
        ttl: Math.floor(nowMs / 1000) + SIGHTING_LIFETIME_SECONDS,
      },
      ReturnConsumedCapacity: 'TOTAL',
    }),
  );
  meter.write(written.ConsumedCapacity);
  return sightings;
}
