/**
 * Test-only DynamoDB realism: SDK middleware that makes DynamoDB Local behave more
 * like DynamoDB, which is eventually consistent by default, refuses transactions
 * that collide with one in flight, and cancels transactions for capacity.
 *
 * Apply it to the DynamoDBClient under a DynamoDBDocumentClient (as every IPAM
 * context has): the middleware runs at the `initialize` step, so it sees requests
 * and answers in document form (plain JS values), before marshalling.
 *
 * (a) Eventually consistent reads. A per-key log of committed images is kept: the
 *     first write of a key through any client of the layer first reads the key's
 *     image before it (a consistent GetItem on a raw client that bypasses the
 *     middleware), and every write (Put/Update/Delete, TransactWriteItems,
 *     BatchWriteItem) is followed by a consistent read of each key it wrote,
 *     stamped with the moment the writer gets its answer (after those reads, so the
 *     layer's own reads never eat the window). A GetItem, Query (base table or GSI)
 *     or BatchGetItem without `ConsistentRead: true` is, with probability
 *     `staleReads.probability`, answered as of a moment up to `staleReads.maxAgeMs`
 *     before it was sent: each returned item is replaced by its image then (dropped if it did not
 *     exist yet), and — for single-page queries without a FilterExpression whose key
 *     condition is `a = :v [AND begins_with(b, :w) | b <op> :w | b BETWEEN …]` —
 *     items deleted since are put back. Only writes made through clients of this
 *     layer are known (share one layer between the clients of a test).
 * (b) TransactionConflict. A TransactWriteItems is in flight from its send until
 *     `conflicts.windowMs` after its answer. A transaction that touches an item of
 *     another in-flight transaction (another ClientRequestToken) fails before it is
 *     sent with TransactionCanceledException, CancellationReasons `TransactionConflict`
 *     for the colliding items and `None` for the rest; a single write touching such
 *     an item fails with TransactionConflictException. Nothing is applied.
 * (c) Capacity. A TransactWriteItems fails, before it is sent, with probability
 *     `capacityCancellations.rate`, with CancellationReasons `ThrottlingError` or
 *     `ProvisionedThroughputExceeded` on one item and `None` on the rest.
 * (e) `writeLatencyMs`: a delay before each write is sent, as a network adds.
 * (d) Throttling, 5xx, and time-outs after the write committed, from ./faults.ts,
 *     at rate `faults.rate` over every command.
 *
 * Every random choice comes from one seeded generator (`seed`), so a run can be
 * replayed as far as the interleaving allows; `counters` says what was injected.
 */
import { performance } from 'node:perf_hooks';
import {
  type DynamoDBClient,
  TransactionCanceledException,
  TransactionConflictException,
} from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { seededRandom } from '../../local/seededRandom.js';
import { injectFaults } from './faults.js';

/** The generator behind every choice (local/seededRandom.ts), for the tests and the soak. */
export { seededRandom };

export interface RealismOptions {
  /** Seed of the generator behind every random choice (default 1). */
  readonly seed?: number;
  readonly staleReads?: { readonly probability: number; readonly maxAgeMs: number };
  readonly conflicts?: { readonly windowMs: number; readonly probability?: number };
  readonly capacityCancellations?: { readonly rate: number };
  /** Throttling / 5xx / lost-response faults over every command (faults.ts). */
  readonly faults?: { readonly rate: number };
  /** Network latency before each write is sent (widens the read-to-write gap of read-then-write code). */
  readonly writeLatencyMs?: number;
  /** The layer's clock in ms (default `performance.now`); tests may drive it. */
  readonly clock?: () => number;
  /** The table's key attributes (default pk, sk). */
  readonly keyAttributes?: readonly string[];
}

export interface RealismCounters {
  staleGets: number;
  staleQueries: number;
  staleBatchGets: number;
  transactionConflicts: number;
  writeConflicts: number;
  capacityCancellations: number;
  faults: Record<string, number>;
  imageReads: number;
}

type Item = Record<string, unknown>;
interface Version {
  readonly at: number;
  readonly image: Item | undefined;
}
interface InFlight {
  readonly token: string;
  until: number;
}

const FAULTS = [
  { error: 'ProvisionedThroughputExceededException', afterSend: false },
  { error: 'ThrottlingException', afterSend: false },
  { error: 'InternalServerError', afterSend: false },
  { error: 'TimeoutError', afterSend: true },
] as const;

/** Versions kept per key beyond the staleness horizon (bounded memory). */
const MAX_VERSIONS = 32;

export class Realism {
  readonly counters: RealismCounters = {
    staleGets: 0,
    staleQueries: 0,
    staleBatchGets: 0,
    transactionConflicts: 0,
    writeConflicts: 0,
    capacityCancellations: 0,
    faults: {},
    imageReads: 0,
  };
  readonly random: () => number;
  private readonly log = new Map<string, Version[]>();
  private readonly inFlight = new Map<string, InFlight[]>();
  private readonly keyAttributes: readonly string[];

  /** @param raw a document client on a DynamoDBClient without this layer (for image reads). */
  constructor(
    private readonly raw: DynamoDBDocumentClient,
    readonly options: RealismOptions,
  ) {
    this.random = seededRandom(options.seed ?? 1);
    this.keyAttributes = options.keyAttributes ?? ['pk', 'sk'];
    this.now = options.clock ?? (() => performance.now());
  }

  private readonly now: () => number;

  /** Adds the layer to `client` (the DynamoDBClient under a document client). */
  apply(client: DynamoDBClient): void {
    const { faults } = this.options;
    if (faults !== undefined && faults.rate > 0) {
      // Outermost, so a lost response still passes through the image capture below.
      let next: string = FAULTS[0].error;
      injectFaults(
        client,
        FAULTS.map((fault) => ({
          command: '*',
          when: () => {
            if (fault === FAULTS[0]) {
              next = '';
              if (this.random() < faults.rate)
                next = (FAULTS[Math.floor(this.random() * FAULTS.length)] ?? FAULTS[0]).error;
            }
            const hit = next === fault.error;
            if (hit)
              this.counters.faults[fault.error] = (this.counters.faults[fault.error] ?? 0) + 1;
            return hit;
          },
          error: fault.error,
          afterSend: fault.afterSend,
        })),
      );
    }
    client.middlewareStack.add(
      (next, context) => async (args) => {
        type Answer = Awaited<ReturnType<typeof next>>;
        const command = String(context.commandName);
        const input = args.input as Item;
        const rewrite = async (change: (output: Item) => Item): Promise<Answer> => {
          const result = await next(args);
          return {
            ...result,
            output: change(result.output as unknown as Item),
          } as unknown as Answer;
        };
        switch (command) {
          case 'GetItemCommand': {
            const stale = await this.staleGet(input);
            return stale === undefined
              ? next(args)
              : ({ output: stale, response: {} } as unknown as Answer);
          }
          case 'QueryCommand': {
            // The moment is drawn when the read is sent: its own round trip does not eat the window.
            const at = this.staleMoment(input);
            return rewrite((output) => this.staleQuery(input, output, at));
          }
          case 'BatchGetItemCommand': {
            const moments = this.batchMoments(input);
            return rewrite((output) => this.staleBatchGet(input, output, moments));
          }
          case 'TransactWriteItemsCommand':
          case 'PutItemCommand':
          case 'UpdateItemCommand':
          case 'DeleteItemCommand':
          case 'BatchWriteItemCommand':
            return this.write(command, input, () => next(args));
          default:
            return next(args);
        }
      },
      { step: 'initialize', name: 'dynamoRealism' },
    );
  }

  // -------------------------------------------------------------------------
  // Writes: conflicts, capacity, and the version log

  private async write<T>(command: string, input: Item, send: () => Promise<T>): Promise<T> {
    const targets = writeTargets(command, input).map(({ table, key }) => ({
      table,
      key: Object.fromEntries(
        this.keyAttributes.filter((name) => name in key).map((name) => [name, key[name]]),
      ),
    }));
    const keys = targets.map((t) => this.keyOf(t.table, t.key));
    const now = this.now();
    const conflicts = this.options.conflicts;
    const token = String(input.ClientRequestToken ?? `single-${now}-${this.random()}`);
    if (conflicts !== undefined) {
      const colliding = keys.map((key) =>
        (this.inFlight.get(key) ?? []).some((entry) => entry.token !== token && entry.until >= now),
      );
      if (colliding.some(Boolean) && this.random() < (conflicts.probability ?? 1)) {
        if (command === 'TransactWriteItemsCommand') {
          this.counters.transactionConflicts++;
          throw canceled(colliding.map((hit) => (hit ? 'TransactionConflict' : 'None')));
        }
        this.counters.writeConflicts++;
        throw new TransactionConflictException({
          message: 'Transaction is ongoing for the item',
          $metadata: {},
        });
      }
    }
    const capacity = this.options.capacityCancellations;
    if (
      command === 'TransactWriteItemsCommand' &&
      capacity !== undefined &&
      this.random() < capacity.rate
    ) {
      this.counters.capacityCancellations++;
      const victim = Math.floor(this.random() * keys.length);
      const code = this.random() < 0.5 ? 'ThrottlingError' : 'ProvisionedThroughputExceeded';
      throw canceled(keys.map((_, i) => (i === victim ? code : 'None')));
    }
    // Before the first write of a key, what it was (so a stale read can say "not there yet").
    if (this.options.staleReads !== undefined) {
      await Promise.all(
        targets.map(async (t, i) => {
          const key = keys[i] as string;
          if (!this.log.has(key))
            this.log.set(key, [
              { at: Number.NEGATIVE_INFINITY, image: await this.readImage(t.table, t.key) },
            ]);
        }),
      );
    }
    const entries: InFlight[] = [];
    if (command === 'TransactWriteItemsCommand' && conflicts !== undefined) {
      for (const key of keys) {
        const entry = { token, until: Number.POSITIVE_INFINITY };
        entries.push(entry);
        this.inFlight.set(key, [
          ...(this.inFlight.get(key) ?? []).filter((e) => e.until >= now),
          entry,
        ]);
      }
    }
    try {
      if (this.options.writeLatencyMs !== undefined)
        await new Promise((resolve) => setTimeout(resolve, this.options.writeLatencyMs));
      return await send();
    } finally {
      const done = this.now();
      for (const entry of entries) entry.until = done + (conflicts?.windowMs ?? 0);
      if (this.options.staleReads !== undefined) {
        const images = await Promise.all(
          targets.map((t) => this.readImage(t.table, t.key).catch(() => undefined)),
        );
        // Stamped when the writer gets its answer, after the image reads: on a slow
        // machine those take longer than a short window, and stamped at `done` a
        // read sent after the answer would never be older than the write. Any
        // moment in between is a committed state, so either stamp is true.
        const answered = this.now();
        for (const [i, image] of images.entries())
          this.remember(keys[i] as string, answered, image);
      }
    }
  }

  private async readImage(table: string, key: Item): Promise<Item | undefined> {
    this.counters.imageReads++;
    const result = await this.raw.send(
      new GetCommand({ TableName: table, Key: key, ConsistentRead: true }),
    );
    return result.Item;
  }

  private remember(key: string, at: number, image: Item | undefined): void {
    const versions = this.log.get(key) ?? [];
    versions.push({ at, image });
    versions.sort((a, b) => a.at - b.at);
    const horizon = this.now() - (this.options.staleReads?.maxAgeMs ?? 0);
    // Keep the newest version older than the horizon, and everything after it.
    let first = 0;
    while (first + 1 < versions.length && (versions[first + 1] as Version).at <= horizon) first++;
    this.log.set(key, versions.slice(Math.max(first, versions.length - MAX_VERSIONS)));
  }

  // -------------------------------------------------------------------------
  // Reads: serve an older committed state

  /** A moment in the past to read as of, or undefined to read now. */
  private staleMoment(input: Item): number | undefined {
    const stale = this.options.staleReads;
    if (stale === undefined || input.ConsistentRead === true) return undefined;
    if (this.random() >= stale.probability) return undefined;
    return this.now() - this.random() * stale.maxAgeMs;
  }

  /** The image of `key` at `at`; `known: false` when the log has never seen the key. */
  private imageAt(key: string, at: number): { known: boolean; image: Item | undefined } {
    const versions = this.log.get(key);
    if (versions === undefined) return { known: false, image: undefined };
    let image: Item | undefined;
    let found = false;
    for (const version of versions) {
      if (version.at > at) break;
      image = version.image;
      found = true;
    }
    return found ? { known: true, image } : { known: false, image: undefined };
  }

  private async staleGet(input: Item): Promise<Item | undefined> {
    const at = this.staleMoment(input);
    if (at === undefined) return undefined;
    const { known, image } = this.imageAt(
      this.keyOf(String(input.TableName), input.Key as Item),
      at,
    );
    const latest = this.latest(this.keyOf(String(input.TableName), input.Key as Item));
    if (!known || fingerprint(image) === fingerprint(latest)) return undefined;
    this.counters.staleGets++;
    const projected = image === undefined ? undefined : project(image, input);
    return { $metadata: {}, ...(projected === undefined ? {} : { Item: projected }) };
  }

  private latest(key: string): Item | undefined {
    const versions = this.log.get(key);
    return versions?.[versions.length - 1]?.image;
  }

  private staleQuery(input: Item, output: Item, at: number | undefined): Item {
    if (at === undefined) return output;
    const table = String(input.TableName);
    const items = (output.Items as Item[] | undefined) ?? [];
    const { changed, result } = this.rewind(table, items, at, input);
    const condition = parseKeyCondition(input);
    let extra: Item[] = [];
    if (
      condition !== undefined &&
      output.LastEvaluatedKey === undefined &&
      input.FilterExpression === undefined
    ) {
      const present = new Set(items.map((item) => this.keyOf(table, item)));
      for (const [key, versions] of this.log) {
        if (!key.startsWith(`${table}\u0000`) || present.has(key) || versions.length === 0)
          continue;
        const { image } = this.imageAt(key, at);
        if (image !== undefined && condition.matches(image)) extra.push(project(image, input));
      }
      if (condition.sortAttribute !== undefined) {
        const name = condition.sortAttribute;
        extra = [...result, ...extra].sort((a, b) => compare(a[name], b[name]));
        if (input.ScanIndexForward === false) extra.reverse();
        const limit = typeof input.Limit === 'number' ? input.Limit : undefined;
        const merged = limit === undefined ? extra : extra.slice(0, limit);
        if (!changed && merged.length === result.length) return output;
        this.counters.staleQueries++;
        return { ...output, Items: merged, Count: merged.length };
      }
    }
    if (!changed && extra.length === 0) return output;
    this.counters.staleQueries++;
    const merged = [...result, ...extra];
    return { ...output, Items: merged, Count: merged.length };
  }

  /** The moment each table of a BatchGetItem is read as of (undefined: now), drawn when it is sent. */
  private batchMoments(input: Item): Map<string, number | undefined> {
    return new Map(
      Object.entries(batchRequests(input)).map(([table, request]) => [
        table,
        this.staleMoment(request),
      ]),
    );
  }

  private staleBatchGet(
    input: Item,
    output: Item,
    moments: ReadonlyMap<string, number | undefined>,
  ): Item {
    const requests = batchRequests(input);
    const responses = { ...((output.Responses ?? {}) as Record<string, Item[]>) };
    let changed = false;
    for (const [table, request] of Object.entries(requests)) {
      const at = moments.get(table);
      if (at === undefined) continue;
      const unprocessed = new Set(
        (
          (output.UnprocessedKeys as Record<string, { Keys: Item[] }> | undefined)?.[table]?.Keys ??
          []
        ).map((key) => this.keyOf(table, key)),
      );
      const got = new Map((responses[table] ?? []).map((item) => [this.keyOf(table, item), item]));
      const rewound: Item[] = [];
      for (const key of request.Keys) {
        const id = this.keyOf(table, key);
        if (unprocessed.has(id)) continue;
        const { known, image } = this.imageAt(id, at);
        const current = got.get(id);
        if (!known) {
          if (current !== undefined) rewound.push(current);
          continue;
        }
        if (fingerprint(image) !== fingerprint(this.latest(id))) changed = true;
        if (image !== undefined) rewound.push(project(image, request));
      }
      responses[table] = rewound;
    }
    if (!changed) return output;
    this.counters.staleBatchGets++;
    return { ...output, Responses: responses };
  }

  /** Each item as of `at` (dropped when it did not exist yet). */
  private rewind(
    table: string,
    items: Item[],
    at: number,
    input: Item,
  ): { changed: boolean; result: Item[] } {
    let changed = false;
    const result: Item[] = [];
    for (const item of items) {
      const key = this.keyOf(table, item);
      const { known, image } = this.imageAt(key, at);
      if (!known || fingerprint(image) === fingerprint(this.latest(key))) {
        result.push(item);
        continue;
      }
      changed = true;
      if (image !== undefined) result.push(project(image, input));
    }
    return { changed, result };
  }

  private keyOf(table: string, item: Item): string {
    return `${table}\u0000${JSON.stringify(this.keyAttributes.map((name) => item[name] ?? null))}`;
  }
}

type BatchRequest = {
  Keys: Item[];
  ConsistentRead?: boolean;
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
};

function batchRequests(input: Item): Record<string, BatchRequest> {
  return (input.RequestItems ?? {}) as Record<string, BatchRequest>;
}

/**
 * An image as text for comparing versions. JSON.stringify writes every Set as `{}`,
 * so two blocks that differ only in their offsets would compare equal: sets are
 * written as their sorted members.
 */
function fingerprint(image: Item | undefined): string | undefined {
  return JSON.stringify(image, (_, value: unknown) =>
    value instanceof Set ? { set: [...value].map(String).sort() } : value,
  );
}

/** A layer on `client`, with image reads through `raw` (a document client on a client without the layer). */
export function applyRealism(
  client: DynamoDBClient,
  raw: DynamoDBDocumentClient,
  options: RealismOptions,
): Realism {
  const realism = new Realism(raw, options);
  realism.apply(client);
  return realism;
}

function canceled(codes: string[]): TransactionCanceledException {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) =>
      Code === 'None' ? { Code } : { Code, Message: injectedMessage(Code) },
    ),
  });
}

function injectedMessage(code: string): string {
  if (code === 'TransactionConflict') return 'Transaction is ongoing for the item';
  if (code === 'ThrottlingError')
    return 'Throughput exceeds the current capacity for one or more global secondary indexes.';
  return 'The level of configured provisioned throughput for the table was exceeded.';
}

/** The items a write touches, in request order (a ConditionCheck counts: it is part of the transaction). */
function writeTargets(command: string, input: Item): { table: string; key: Item }[] {
  const keyOfItem = (body: Item) => (body.Key as Item | undefined) ?? (body.Item as Item);
  if (command === 'TransactWriteItemsCommand') {
    return ((input.TransactItems as Item[] | undefined) ?? []).map((entry) => {
      const body = (entry.Put ?? entry.Update ?? entry.Delete ?? entry.ConditionCheck) as Item;
      return { table: String(body.TableName), key: keyOfItem(body) };
    });
  }
  if (command === 'BatchWriteItemCommand') {
    return Object.entries((input.RequestItems ?? {}) as Record<string, Item[]>).flatMap(
      ([table, requests]) =>
        requests.map((request) => ({
          table,
          key: ((request.PutRequest as Item | undefined)?.Item ??
            (request.DeleteRequest as Item | undefined)?.Key) as Item,
        })),
    );
  }
  return [{ table: String(input.TableName), key: keyOfItem(input) }];
}

/** Applies a simple top-level ProjectionExpression (`a, #b`) to an image. */
function project(image: Item, input: Item): Item {
  const expression = input.ProjectionExpression;
  if (typeof expression !== 'string') return image;
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const picked: Item = {};
  for (const part of expression.split(',')) {
    const name = part.trim();
    const attribute = names[name] ?? name;
    if (attribute in image) picked[attribute] = image[attribute];
  }
  return picked;
}

interface KeyCondition {
  readonly sortAttribute: string | undefined;
  matches(item: Item): boolean;
}

/** Parses `a = :v`, optionally `AND begins_with(b, :w)`, `AND b <op> :w` or `AND b BETWEEN :w AND :x`. */
function parseKeyCondition(input: Item): KeyCondition | undefined {
  const expression = input.KeyConditionExpression;
  if (typeof expression !== 'string') return undefined;
  const names = (input.ExpressionAttributeNames ?? {}) as Record<string, string>;
  const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
  const name = (token: string) => names[token] ?? token;
  const partition = /^\s*([#\w]+)\s*=\s*(:\w+)\s*(?:AND\s+(.*))?$/i.exec(expression);
  if (partition === null) return undefined;
  const partitionName = name(partition[1] as string);
  const partitionValue = values[partition[2] as string];
  const rest = partition[3]?.trim();
  let sortAttribute: string | undefined;
  let sortTest: (value: unknown) => boolean = () => true;
  if (rest !== undefined) {
    const begins = /^begins_with\(\s*([#\w]+)\s*,\s*(:\w+)\s*\)$/i.exec(rest);
    const between = /^([#\w]+)\s+BETWEEN\s+(:\w+)\s+AND\s+(:\w+)$/i.exec(rest);
    const comparison = /^([#\w]+)\s*(=|<=|>=|<|>)\s*(:\w+)$/.exec(rest);
    if (begins !== null) {
      sortAttribute = name(begins[1] as string);
      const prefix = String(values[begins[2] as string]);
      sortTest = (value) => typeof value === 'string' && value.startsWith(prefix);
    } else if (between !== null) {
      sortAttribute = name(between[1] as string);
      const low = values[between[2] as string];
      const high = values[between[3] as string];
      sortTest = (value) => compare(value, low) >= 0 && compare(value, high) <= 0;
    } else if (comparison !== null) {
      sortAttribute = name(comparison[1] as string);
      const operand = values[comparison[3] as string];
      const op = comparison[2];
      sortTest = (value) => {
        const c = compare(value, operand);
        return op === '='
          ? c === 0
          : op === '<'
            ? c < 0
            : op === '<='
              ? c <= 0
              : op === '>'
                ? c > 0
                : c >= 0;
      };
    } else {
      return undefined;
    }
  }
  return {
    sortAttribute,
    matches: (item) =>
      item[partitionName] === partitionValue &&
      (sortAttribute === undefined
        ? true
        : item[sortAttribute] !== undefined && sortTest(item[sortAttribute])),
  };
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
