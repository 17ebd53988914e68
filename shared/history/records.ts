/**
 * Stream records in one shape, whichever way they came: a Lambda DynamoDB Streams
 * event (images as AttributeValue JSON, time in epoch seconds) or the DynamoDB
 * Streams API read by the local poller (time as a Date). Images are unmarshalled
 * here, once.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

/** What both sources give; the structural subset this module reads. */
export interface StreamRecordInput {
  readonly eventID?: string | undefined;
  readonly eventName?: string | undefined;
  readonly dynamodb?:
    | {
        readonly ApproximateCreationDateTime?: number | Date | undefined;
        readonly Keys?: Record<string, unknown> | undefined;
        readonly NewImage?: Record<string, unknown> | undefined;
        readonly OldImage?: Record<string, unknown> | undefined;
        readonly SequenceNumber?: string | undefined;
      }
    | undefined;
  /** Lambda spells its fields in camelCase, the Streams API in PascalCase. */
  readonly userIdentity?:
    | {
        readonly principalId?: string | undefined;
        readonly type?: string | undefined;
        readonly PrincipalId?: string | undefined;
        readonly Type?: string | undefined;
      }
    | undefined;
}

export type ChangeKind = 'INSERT' | 'MODIFY' | 'REMOVE';

export type Item = Record<string, unknown>;

/** One committed change of one item. */
export interface ChangeRecord {
  readonly eventId: string;
  readonly sequenceNumber: string;
  readonly kind: ChangeKind;
  /** When DynamoDB wrote the record (ms; DynamoDB rounds it down to the second). */
  readonly approximateAtMs: number;
  readonly pk: string;
  readonly sk: string;
  readonly newImage: Item | undefined;
  readonly oldImage: Item | undefined;
  /** Deleted by DynamoDB's TTL, not by a caller. */
  readonly byTtl: boolean;
}

/** The principal DynamoDB's TTL deletions carry (userIdentity.principalId). */
const TTL_PRINCIPAL = 'dynamodb.amazonaws.com';

export class MalformedStreamRecordError extends Error {
  override readonly name = 'MalformedStreamRecordError';
}

/** The record as a ChangeRecord; throws MalformedStreamRecordError for what is not one. */
export function toChangeRecord(record: StreamRecordInput): ChangeRecord {
  const data = record.dynamodb;
  const kind = record.eventName;
  if (data === undefined || (kind !== 'INSERT' && kind !== 'MODIFY' && kind !== 'REMOVE')) {
    throw new MalformedStreamRecordError(`stream record ${record.eventID}: no change in it`);
  }
  const sequenceNumber = data.SequenceNumber;
  if (sequenceNumber === undefined || !/^[0-9]{1,40}$/.test(sequenceNumber)) {
    throw new MalformedStreamRecordError(`stream record ${record.eventID}: no sequence number`);
  }
  const keys = image(data.Keys) ?? {};
  const pk = keys.pk;
  const sk = keys.sk;
  if (typeof pk !== 'string' || typeof sk !== 'string') {
    throw new MalformedStreamRecordError(`stream record ${record.eventID}: no pk/sk keys`);
  }
  const at = data.ApproximateCreationDateTime;
  return {
    eventId: record.eventID ?? sequenceNumber,
    sequenceNumber,
    kind,
    approximateAtMs: at === undefined ? 0 : at instanceof Date ? at.getTime() : at * 1000,
    pk,
    sk,
    newImage: image(data.NewImage),
    oldImage: image(data.OldImage),
    byTtl: kind === 'REMOVE' && deletedByTtl(record.userIdentity),
  };
}

function deletedByTtl(identity: StreamRecordInput['userIdentity']): boolean {
  if (identity === undefined) return false;
  const type = identity.type ?? identity.Type;
  const principal = identity.principalId ?? identity.PrincipalId;
  return type === 'Service' && principal === TTL_PRINCIPAL;
}

function image(value: Record<string, unknown> | undefined): Item | undefined {
  if (value === undefined) return undefined;
  // Both sources use DynamoDB's JSON; the Lambda event types merely spell it apart.
  return unmarshall(repaired(value) as Record<string, AttributeValue>);
}

/**
 * DynamoDB Local's stream (through the Streams client) hands an empty map as `{}`
 * instead of `{"M": {}}`, which unmarshall refuses; put the `M` back, at any depth.
 */
function repaired(map: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, attribute] of Object.entries(map)) out[name] = repairedValue(attribute);
  return out;
}

function repairedValue(attribute: unknown): unknown {
  if (typeof attribute !== 'object' || attribute === null) return attribute;
  const value = attribute as { M?: Record<string, unknown>; L?: unknown[] };
  const defined = Object.entries(value).filter(([, part]) => part !== undefined);
  if (defined.length === 0) return { M: {} };
  if (value.M !== undefined) return { M: repaired(value.M) };
  if (value.L !== undefined) return { L: value.L.map(repairedValue) };
  return attribute;
}
