/**
 * Request accounting for the benchmark. One middleware per DynamoDB client (each
 * allocator has its own client, as each Lambda container would) counts, for the
 * work the caller is doing right now: requests by command, failed conditional
 * writes, consumed capacity at real DynamoDB prices, and the partition key of
 * every item written. The allocator never sees any of it.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Additive counts of DynamoDB work. */
export class Usage {
  requests = 0;
  readonly byCommand = new Map<string, number>();
  /** Requests refused on a condition: TransactionCanceled (ConditionalCheckFailed) or ConditionalCheckFailed. */
  failedConditional = 0;
  /** Transactions cancelled with TransactionConflict (and no failed condition). */
  conflicts = 0;
  /** Read capacity as DynamoDB charges it (no transactional reads are used). */
  rcu = 0;
  /** Write capacity as DynamoDB charges it: bounds, see `Pricing`. */
  wcuLow = 0;
  wcuHigh = 0;
  /** Write capacity as DynamoDB Local reports it. */
  wcuLocal = 0;
  /** Items written (Put, Update, Delete; in transactions and batches), by partition key. */
  readonly writesByKey = new Map<string, number>();

  add(other: Usage): void {
    this.requests += other.requests;
    for (const [command, count] of other.byCommand) addTo(this.byCommand, command, count);
    this.failedConditional += other.failedConditional;
    this.conflicts += other.conflicts;
    this.rcu += other.rcu;
    this.wcuLow += other.wcuLow;
    this.wcuHigh += other.wcuHigh;
    this.wcuLocal += other.wcuLocal;
    for (const [key, count] of other.writesByKey) addTo(this.writesByKey, key, count);
  }

  get writes(): number {
    let total = 0;
    for (const count of this.writesByKey.values()) total += count;
    return total;
  }

  /** Share of all writes that went to the most written partition key (0 when none). */
  hottestKeyShare(): number {
    let max = 0;
    for (const count of this.writesByKey.values()) max = Math.max(max, count);
    const total = this.writes;
    return total === 0 ? 0 : max / total;
  }
}

function addTo(map: Map<string, number>, key: string, count: number): void {
  map.set(key, (map.get(key) ?? 0) + count);
}

/**
 * How DynamoDB Local prices a transaction, found by `calibratePricing`: DynamoDB
 * charges each item of a TransactWriteItems 2 WCU per started KB; DynamoDB Local
 * (measured) charges 2 WCU per started KB of the items' *total* size, so a
 * 3-item transaction of small items shows 2 WCU where DynamoDB charges 6.
 */
export interface Pricing {
  /** Multiply Local's transactional units by this so a one-small-item transaction costs 2. */
  readonly factor: number;
  /** Local already rounds per item (then no correction is needed). */
  readonly perItem: boolean;
  /** What the calibration saw, for the report. */
  readonly observed: { readonly oneItem: number; readonly threeItems: number };
}

/** The meter of one client: `take()` returns what was counted since the last take. */
export class Meter {
  private current = new Usage();

  constructor(private readonly pricing: Pricing) {}

  take(): Usage {
    const usage = this.current;
    this.current = new Usage();
    return usage;
  }

  /** Installs the counting middleware (and ReturnConsumedCapacity: TOTAL on every command). */
  attach(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const command = String(context.commandName).replace(/Command$/, '');
        const input = args.input as Record<string, unknown>;
        input.ReturnConsumedCapacity = 'TOTAL';
        const written = writtenKeys(command, input);
        const usage = this.current;
        try {
          const result = await next(args);
          const output = result.output as {
            ConsumedCapacity?: Capacity | Capacity[];
            $metadata?: { attempts?: number };
          };
          this.count(usage, command, output.$metadata?.attempts, written);
          this.charge(usage, command, input, output.ConsumedCapacity);
          return result;
        } catch (error) {
          const failure = error as {
            name?: string;
            CancellationReasons?: { Code?: string }[];
            $metadata?: { attempts?: number };
          };
          this.count(usage, command, failure.$metadata?.attempts, written);
          const codes = (failure.CancellationReasons ?? []).map((reason) => reason.Code);
          if (
            failure.name === 'ConditionalCheckFailedException' ||
            (failure.name === 'TransactionCanceledException' &&
              codes.includes('ConditionalCheckFailed'))
          ) {
            usage.failedConditional++;
          } else if (codes.includes('TransactionConflict')) {
            usage.conflicts++;
          }
          // DynamoDB reports no capacity for a refused write, yet charges it: count the
          // 1 KB minimum of each item (2 WCU in a transaction, 1 otherwise).
          const minimum = command === 'TransactWriteItems' ? 2 * transactItems(input).length : 1;
          if (isWrite(command)) {
            usage.wcuLow += minimum;
            usage.wcuHigh += minimum;
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'benchMeter' },
    );
    return this;
  }

  private count(
    usage: Usage,
    command: string,
    attempts: number | undefined,
    written: string[],
  ): void {
    const requests = attempts ?? 1;
    usage.requests += requests;
    addTo(usage.byCommand, command, requests);
    for (const key of written) addTo(usage.writesByKey, key, 1);
  }

  private charge(
    usage: Usage,
    command: string,
    input: Record<string, unknown>,
    consumed: Capacity | Capacity[] | undefined,
  ): void {
    const entries = consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed];
    let units = 0;
    for (const entry of entries) units += entry.CapacityUnits ?? 0;
    if (!isWrite(command)) {
      usage.rcu += units;
      return;
    }
    usage.wcuLocal += units;
    if (command !== 'TransactWriteItems') {
      usage.wcuLow += units;
      usage.wcuHigh += units;
      return;
    }
    const { low, high } = transactionPrice(units, transactItems(input), this.pricing);
    usage.wcuLow += low;
    usage.wcuHigh += high;
  }
}

interface Capacity {
  CapacityUnits?: number;
}

const WRITE_COMMANDS = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'TransactWriteItems',
]);

function isWrite(command: string): boolean {
  return WRITE_COMMANDS.has(command);
}

type TransactItem = {
  Put?: { Item?: Record<string, unknown> };
  Update?: { Key?: Record<string, unknown> };
  Delete?: { Key?: Record<string, unknown> };
  ConditionCheck?: { Key?: Record<string, unknown> };
};

function transactItems(input: Record<string, unknown>): TransactItem[] {
  return (input.TransactItems as TransactItem[] | undefined) ?? [];
}

/** A key attribute as the document client (plain) or the low-level client ({S}) gives it. */
function stringOf(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'S' in value) {
    return String((value as { S: unknown }).S);
  }
  return String(value);
}

/** The `pk` of every item a write command writes. */
export function writtenKeys(command: string, input: Record<string, unknown>): string[] {
  switch (command) {
    case 'PutItem':
      return [stringOf((input.Item as Record<string, unknown>).pk)];
    case 'UpdateItem':
    case 'DeleteItem':
      return [stringOf((input.Key as Record<string, unknown>).pk)];
    case 'TransactWriteItems':
      return transactItems(input).flatMap((item) => {
        if (item.Put?.Item !== undefined) return [stringOf(item.Put.Item.pk)];
        if (item.Update?.Key !== undefined) return [stringOf(item.Update.Key.pk)];
        if (item.Delete?.Key !== undefined) return [stringOf(item.Delete.Key.pk)];
        return [];
      });
    case 'BatchWriteItem': {
      const tables = (input.RequestItems ?? {}) as Record<
        string,
        {
          PutRequest?: { Item: Record<string, unknown> };
          DeleteRequest?: { Key: Record<string, unknown> };
        }[]
      >;
      return Object.values(tables).flatMap((requests) =>
        requests.map((request) =>
          stringOf(request.PutRequest?.Item.pk ?? request.DeleteRequest?.Key.pk),
        ),
      );
    }
    default:
      return [];
  }
}

/**
 * The real price of a successful transaction from what DynamoDB Local reported.
 * Put items are sized exactly here and usage counters are known to be tiny; for the
 * others (block updates, deletes) only their total is known from Local's figure,
 * so the price is bounded: `low` assumes they round up as little as possible,
 * `high` as much as possible (the two differ by at most 2 WCU per such item).
 */
export function transactionPrice(
  reported: number,
  items: readonly TransactItem[],
  pricing: Pricing,
): { low: number; high: number } {
  const scaled = reported * pricing.factor;
  if (pricing.perItem) return { low: scaled, high: scaled };
  const totalKb = Math.max(1, Math.round(scaled / 2));
  let putBytes = 0;
  let putUnits = 0;
  let others = 0;
  for (const item of items) {
    if (item.Put?.Item !== undefined) {
      const bytes = itemSize(item.Put.Item);
      putBytes += bytes;
      putUnits += Math.max(1, Math.ceil(bytes / 1024));
    } else if (isCounter(item)) {
      // A usage counter: keys and five small numbers, always under 1 KB.
      putBytes += COUNTER_BYTES;
      putUnits += 1;
    } else {
      others++;
    }
  }
  if (others === 0) return { low: 2 * putUnits, high: 2 * putUnits };
  // Local's total: ceil((putBytes + rest) / 1 KB) = totalKb, so rest lies in (min, max].
  const restMin = Math.max(others, (totalKb - 1) * 1024 - putBytes + 1);
  const restMax = Math.max(restMin, totalKb * 1024 - putBytes);
  const low = Math.max(others, Math.ceil(restMin / 1024));
  const high = Math.max(low, Math.ceil(restMax / 1024) + others - 1);
  return { low: 2 * (putUnits + low), high: 2 * (putUnits + high) };
}

/** Size of a shard counter item (pk of ~40 bytes, sk, n, p, l, ver, pv). */
const COUNTER_BYTES = 80;

function isCounter(item: TransactItem): boolean {
  const key = item.Update?.Key ?? item.Delete?.Key;
  return key !== undefined && stringOf(key.sk) === 'COUNT';
}

/** DynamoDB's item size: attribute names plus values (UTF-8 strings, numbers ~1 byte per 2 digits). */
export function itemSize(item: Record<string, unknown>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    size += Buffer.byteLength(name) + valueSize(value);
  }
  return size;
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (typeof value === 'number' || typeof value === 'bigint') {
    const digits = String(value).replace(/[-.]/g, '').replace(/^0+/, '').length;
    return Math.ceil(digits / 2) + 1;
  }
  if (typeof value === 'boolean' || value === null) return 1;
  if (value instanceof Set) {
    let size = 0;
    for (const element of value) size += valueSize(element);
    return size;
  }
  if (Array.isArray(value)) {
    return 3 + value.reduce((sum: number, element) => sum + valueSize(element) + 1, 0);
  }
  if (typeof value === 'object') {
    let size = 3;
    for (const [name, element] of Object.entries(value as Record<string, unknown>)) {
      if (element !== undefined) size += Buffer.byteLength(name) + valueSize(element) + 1;
    }
    return size;
  }
  return 0;
}

/** Percentile by nearest rank (p in 0–100) of unsorted numbers; 0 when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Commands per unit of work, e.g. { Query: 1, TransactWriteItems: 1.02 }. */
export function perUnit(
  byCommand: ReadonlyMap<string, number>,
  units: number,
): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [command, count] of [...byCommand].sort(([a], [b]) => a.localeCompare(b))) {
    result[command] = units === 0 ? 0 : round(count / units, 3);
  }
  return result;
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
