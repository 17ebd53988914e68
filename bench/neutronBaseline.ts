/**
 * The baseline: how OpenStack Neutron's IPAM allocates (neutrondb_ipam driver),
 * on the same table. One allocation item per address — the same attributes as
 * ours — all in one partition per subnet (Neutron's IPAllocation rows of the
 * subnet). To allocate: read every allocation of the subnet (paged Query), walk
 * the pools for the first 1,000 free addresses (Neutron's MAX_WIN), pick one at
 * random, put it on condition that it does not exist; on a collision, start over.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { PutCommand, QueryCommand, type QueryCommandOutput } from '@aws-sdk/lib-dynamodb';
import { formatIp, parseCidr } from '../shared/net/address.js';
import type { IpamContext } from '../shared/store/context.js';
import { isConditionalCheckFailed } from '../shared/store/retry.js';
import { type AddressRange, defaultGateway, defaultPools } from '../shared/subnets/rules.js';
import { address } from '../shared/subnets/subnet.js';
import { type BenchEnv, progress, runWorkers } from './env.js';
import { Meter, round, Usage } from './metrics.js';

const WINDOW = 1000;
const MAX_ATTEMPTS = 20;

export interface BaselineSubnet {
  readonly id: string;
  readonly version: 4 | 6;
  readonly pools: readonly AddressRange[];
}

export const baselinePartition = (subnetId: string) => `NEUTRON#${subnetId}`;
const sortKey = (value: bigint, version: 4 | 6) =>
  `IP#${value.toString(16).padStart(version === 4 ? 8 : 32, '0')}`;

function allocationItem(
  subnet: BaselineSubnet,
  value: bigint,
  description: string | null,
  reqToken: string,
) {
  return {
    pk: baselinePartition(subnet.id),
    sk: sortKey(value, subnet.version),
    type: 'allocation',
    subnetId: subnet.id,
    ip: formatIp(address(subnet.version, value)),
    owner: null,
    description,
    tags: {},
    macAddress: null,
    createdAt: new Date().toISOString(),
    expiresAt: null,
    reqToken,
  };
}

export class NeutronStyleAllocator {
  constructor(
    private readonly ctx: IpamContext,
    private readonly subnet: BaselineSubnet,
  ) {}

  /** Allocates one address; returns it and how many collisions it took. */
  async allocate(description: string): Promise<{ value: bigint; collisions: number }> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const taken = await this.readAllocations();
      const window: bigint[] = [];
      for (const pool of this.subnet.pools) {
        for (let value = pool.start; value <= pool.end && window.length < WINDOW; value++) {
          if (!taken.has(value)) window.push(value);
        }
        if (window.length === WINDOW) break;
      }
      if (window.length === 0) throw new Error(`baseline subnet ${this.subnet.id} is full`);
      const value = window[randomInt(window.length)]!;
      try {
        await this.ctx.doc.send(
          new PutCommand({
            TableName: this.ctx.tableName,
            Item: allocationItem(
              this.subnet,
              value,
              description,
              randomBytes(12).toString('base64url'),
            ),
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return { value, collisions: attempt };
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
    }
    throw new Error(`baseline: ${MAX_ATTEMPTS} collisions in a row`);
  }

  /** Every allocated address of the subnet. DynamoDB charges whole items whatever the projection. */
  private async readAllocations(): Promise<Set<bigint>> {
    const taken = new Set<bigint>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const page: QueryCommandOutput = await this.ctx.doc.send(
        new QueryCommand({
          TableName: this.ctx.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': baselinePartition(this.subnet.id) },
          ProjectionExpression: 'sk',
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) taken.add(BigInt(`0x${String(item.sk).slice(3)}`));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return taken;
  }
}

export interface BaselineResult {
  cidr: string;
  fillPercent: number;
  allocations: number;
  concurrency: number;
  allocsPerSec: number;
  rcuPerAlloc: number;
  wcuPerAlloc: number;
  requestsPerAlloc: number;
  collisionsPerAlloc: number;
  prefillItems: number;
  prefillSeconds: number;
}

/** Pre-fills a /16 to `fraction` by batch writes, then measures `allocations` allocations. */
export async function runBaseline(
  env: BenchEnv,
  options: {
    cidr: string;
    fraction: number;
    allocations: number;
    concurrency: number;
    maxMs: number;
  },
): Promise<BaselineResult> {
  const cidr = parseCidr(options.cidr);
  const subnet: BaselineSubnet = {
    id: `neutron_${randomBytes(8).toString('hex')}`,
    version: cidr.version,
    pools: defaultPools(cidr, defaultGateway(cidr)),
  };
  env.baselinePartitions.add(baselinePartition(subnet.id));
  const values: bigint[] = [];
  for (const pool of subnet.pools) for (let v = pool.start; v <= pool.end; v++) values.push(v);
  const count = Math.round(values.length * options.fraction);
  for (let i = 0; i < count; i++) {
    const j = i + randomInt(values.length - i);
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  const prefillStarted = Date.now();
  const chosen = values.slice(0, count);
  const prefillItems = await env.batchWrite(
    (function* () {
      for (const value of chosen) {
        const reqToken = randomBytes(12).toString('base64url');
        env.hold(subnet.id, value, { token: reqToken });
        yield allocationItem(subnet, value, null, reqToken);
      }
    })(),
    24,
  );
  const prefillSeconds = (Date.now() - prefillStarted) / 1000;
  progress(`  baseline pre-filled ${prefillItems} items in ${round(prefillSeconds, 1)} s`);
  const usage = new Usage();
  let remaining = options.allocations;
  let done = 0;
  let collisions = 0;
  const started = Date.now();
  const deadline = started + options.maxMs;
  await runWorkers(options.concurrency, async () => {
    const { client, doc } = env.rawClient();
    const meter = new Meter(env.pricing).attach(client);
    const allocator = new NeutronStyleAllocator(
      { doc, tableName: env.tableName, now: Date.now },
      subnet,
    );
    // At most `allocations`, and none started after the deadline once one is done.
    while (remaining > 0 && (done === 0 || Date.now() < deadline)) {
      remaining--;
      const call = env.nextCall();
      const result = await allocator.allocate(call);
      env.hold(subnet.id, result.value, { call });
      usage.add(meter.take());
      collisions += result.collisions;
      done++;
    }
    env.retire([{ client }]);
  });
  const elapsed = (Date.now() - started) / 1000;
  const per = (value: number, digits = 1) => round(value / Math.max(1, done), digits);
  return {
    cidr: options.cidr,
    fillPercent: round((100 * count) / values.length, 2),
    allocations: done,
    concurrency: options.concurrency,
    allocsPerSec: round(done / elapsed, 2),
    rcuPerAlloc: per(usage.rcu),
    wcuPerAlloc: per(usage.wcuHigh, 2),
    requestsPerAlloc: per(usage.requests),
    collisionsPerAlloc: per(collisions, 3),
    prefillItems,
    prefillSeconds: round(prefillSeconds, 1),
  };
}
