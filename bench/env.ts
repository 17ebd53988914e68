/**
 * The benchmark's world: its own DynamoDB Local and table, a metered client per
 * simulated Lambda container, batch writes for pre-filling, and the ledger of every
 * address handed out (checked against a full Scan at the end).
 */
import { randomBytes } from 'node:crypto';
import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { type LocalDynamoDb, startLocalDynamoDb } from '../local/dynamoDbLocal.js';
import { tableDefinition } from '../local/tables.js';
import { Allocator } from '../shared/allocator/index.js';
import { createDocumentClient, createDynamoClient } from '../shared/store/client.js';
import type { IpamContext } from '../shared/store/context.js';
import { backoffMs, sleep } from '../shared/store/retry.js';
import type { SubnetView } from '../shared/subnets/subnet.js';
import { createSubnet } from '../shared/subnets/subnets.js';
import { Meter, type Pricing } from './metrics.js';

/** Lines of progress go to stderr, so `--json` keeps stdout for the result. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** One simulated Lambda container: its own client, meter and allocator (own caches). */
export interface Container {
  readonly client: DynamoDBClient;
  readonly doc: DynamoDBDocumentClient;
  readonly ctx: IpamContext;
  readonly meter: Meter;
  readonly allocator: Allocator;
}

/** Who holds an address, as the benchmark handed it out. */
export type Holder = { readonly call: string } | { readonly token: string };

export class BenchEnv {
  private spaces = 0;
  private calls = 0;
  /** subnetId → address value → holder: every address handed out and not released. */
  readonly ledger = new Map<string, Map<bigint, Holder>>();
  /** Addresses handed out while the ledger said someone held them. */
  doubleHandOuts = 0;
  /** Subnets whose blocks and counters are pre-filled lazily (see prefill.ts). */
  readonly lazySubnets = new Set<string>();
  /** Neutron-style baseline partitions. */
  readonly baselinePartitions = new Set<string>();
  private readonly clients: DynamoDBClient[] = [];
  readonly admin: IpamContext;
  pricing: Pricing = { factor: 1, perItem: true, observed: { oneItem: 0, threeItems: 0 } };

  private constructor(
    readonly dynamo: LocalDynamoDb,
    readonly tableName: string,
    private readonly adminClient: DynamoDBClient,
  ) {
    this.admin = { doc: createDocumentClient(adminClient), tableName, now: Date.now };
  }

  static async start(): Promise<BenchEnv> {
    const dynamo = await startLocalDynamoDb();
    const tableName = 'ipam-bench';
    const adminClient = createDynamoClient({ endpoint: dynamo.endpoint, region: 'local' });
    await adminClient.send(new CreateTableCommand(tableDefinition(tableName)));
    const env = new BenchEnv(dynamo, tableName, adminClient);
    env.pricing = await env.calibratePricing();
    return env;
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.destroy();
    this.adminClient.destroy();
    await this.dynamo.stop();
  }

  /** A fresh, unmetered client (pre-fills, releases outside measurement, the Scan). */
  rawClient(): { client: DynamoDBClient; doc: DynamoDBDocumentClient } {
    const client = createDynamoClient({ endpoint: this.dynamo.endpoint, region: 'local' });
    this.clients.push(client);
    return { client, doc: createDocumentClient(client) };
  }

  /** A new simulated container (default allocator options, as a handler would build it). */
  container(setup?: (client: DynamoDBClient) => void): Container {
    const { client, doc } = this.rawClient();
    setup?.(client);
    const meter = new Meter(this.pricing).attach(client);
    const ctx: IpamContext = { doc, tableName: this.tableName, now: Date.now };
    return { client, doc, ctx, meter, allocator: new Allocator(ctx) };
  }

  containers(count: number, setup?: (client: DynamoDBClient) => void): Container[] {
    return Array.from({ length: count }, () => this.container(setup));
  }

  /** Retires clients no longer needed (their sockets), keeping the process lean. */
  retire(containers: readonly { client: DynamoDBClient }[]): void {
    for (const { client } of containers) {
      client.destroy();
      const index = this.clients.indexOf(client);
      if (index >= 0) this.clients.splice(index, 1);
    }
  }

  /** A subnet in a space of its own, so benchmark subnets never overlap. */
  async subnet(cidr: string, label: string): Promise<SubnetView> {
    this.spaces++;
    return createSubnet(this.admin, { cidr, space: `bench-${label}-${this.spaces}`, name: label });
  }

  nextCall(): string {
    this.calls++;
    return `call-${this.calls}`;
  }

  hold(subnetId: string, value: bigint, holder: Holder): void {
    let held = this.ledger.get(subnetId);
    if (held === undefined) {
      held = new Map();
      this.ledger.set(subnetId, held);
    }
    if (held.has(value)) this.doubleHandOuts++;
    held.set(value, holder);
  }

  free(subnetId: string, value: bigint): void {
    this.ledger.get(subnetId)?.delete(value);
  }

  /**
   * Writes items with BatchWriteItem (25 a request) from `concurrency` clients,
   * retrying unprocessed items. Items come from a generator so huge pre-fills stream.
   */
  async batchWrite(items: Iterable<Record<string, unknown>>, concurrency = 16): Promise<number> {
    const iterator = items[Symbol.iterator]();
    let written = 0;
    const nextChunk = (): Record<string, unknown>[] => {
      const chunk: Record<string, unknown>[] = [];
      while (chunk.length < 25) {
        const next = iterator.next();
        if (next.done) break;
        chunk.push(next.value);
      }
      return chunk;
    };
    const writers = Array.from({ length: concurrency }, () => this.rawClient());
    await Promise.all(
      writers.map(async ({ doc }) => {
        for (;;) {
          const chunk = nextChunk();
          if (chunk.length === 0) return;
          let request: Record<string, unknown>[] = chunk.map((Item) => ({ PutRequest: { Item } }));
          for (let attempt = 0; request.length > 0; attempt++) {
            const result = await doc.send(
              new BatchWriteCommand({ RequestItems: { [this.tableName]: request as never } }),
            );
            request = (result.UnprocessedItems?.[this.tableName] ?? []) as Record<
              string,
              unknown
            >[];
            if (request.length > 0) await sleep(backoffMs(attempt));
          }
          written += chunk.length;
        }
      }),
    );
    this.retire(writers);
    return written;
  }

  /**
   * How DynamoDB Local prices TransactWriteItems: one small item, then three small
   * items. DynamoDB charges 2 WCU per item per started KB (2 and 6 here).
   */
  private async calibratePricing(): Promise<Pricing> {
    const { doc } = this.rawClient();
    const put = () => ({
      Put: {
        TableName: this.tableName,
        Item: { pk: `CALIBRATE#${randomBytes(6).toString('hex')}`, sk: 'X', v: 'x'.repeat(100) },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    });
    const units = async (count: number) => {
      const result = await doc.send(
        new TransactWriteCommand({
          TransactItems: Array.from({ length: count }, put),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      return (result.ConsumedCapacity ?? []).reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
    };
    const oneItem = await units(1);
    const threeItems = await units(3);
    const factor = oneItem > 0 ? 2 / oneItem : 1;
    return { factor, perItem: threeItems * factor >= 6, observed: { oneItem, threeItems } };
  }
}

/** Runs `count` workers to completion; a worker's error stops nothing else but is rethrown. */
export async function runWorkers(
  count: number,
  worker: (index: number) => Promise<void>,
): Promise<void> {
  const results = await Promise.allSettled(Array.from({ length: count }, (_, i) => worker(i)));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
}

export function seconds(ms: number): number {
  return ms / 1000;
}
