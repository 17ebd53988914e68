/**
 * Pre-filling subnets to a fill level without paying for the allocator: batch
 * writes of exactly the items the allocator itself writes (see planWrites in
 * shared/allocator/reservationPlan.ts and shared/subnets/counters.ts) — per taken
 * offset `o` of a block, `o` in the block's number set `u` and `t<o>` = the
 * request's token; one
 * allocation item per address; per shard a counter with `n`/`p` = live allocations,
 * `l` = 0 leases, `ver` = writes applied, `pv` = the subnet's configVersion.
 * `checkShapes` compares these with what a real allocation writes, so a change in
 * the allocator's layout stops the benchmark instead of skewing it.
 *
 * Two ways:
 * - eager (`fillTo`): blocks, allocation items and counters, all written (the /24
 *   and the /16 of the size comparison).
 * - lazy (`prefillLazily`), for the /8 and the IPv6 /64, whose 8.4 M and 2^63
 *   addresses no benchmark can write, and for the churn's /16: exact counters up
 *   front, and each block written at the fill level the first time any request
 *   touches it (a middleware on every client of the subnet, before the request is
 *   sent: GetItem and transaction keys, and the range of a whole-shard Query).
 *   Every item the allocator reads is then exactly what a real fill would show it;
 *   what is never written — untouched blocks and the allocation items of
 *   pre-filled addresses — is never read by a random allocation (its Put's
 *   condition concerns a free address, whose item is absent in both worlds), and
 *   the churn releases only addresses the benchmark itself allocated.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { formatIp, parseIp } from '../shared/net/address.js';
import { sampleWithoutReplacement } from '../shared/net/random.js';
import { UNKNOWN_WHO, writerStamps } from '../shared/store/context.js';
import { keys, parseBlockSort } from '../shared/store/keys.js';
import { isConditionalCheckFailed } from '../shared/store/retry.js';
import { emptyBlock, freeOffsets } from '../shared/subnets/blocks.js';
import { newCounterItem } from '../shared/subnets/counters.js';
import {
  addressAt,
  BLOCK_SIZE,
  type Geometry,
  geometryOf,
  poolSizePerShard,
  positionOf,
  shardBlocks,
  shardOfBlock,
  shardRange,
} from '../shared/subnets/geometry.js';
import { clipPools } from '../shared/subnets/rules.js';
import { address, type Subnet } from '../shared/subnets/subnet.js';
import { loadSubnet } from '../shared/subnets/subnets.js';
import type { BenchEnv } from './env.js';

const token = () => randomBytes(12).toString('base64url');

function blockItem(
  subnet: Subnet,
  g: Geometry,
  block: bigint,
  taken: ReadonlyMap<number, string>,
): Record<string, unknown> {
  const item: Record<string, unknown> = {
    ...keys.block(subnet.id, shardOfBlock(g, block), block),
    u: new Set(taken.keys()),
  };
  for (const [offset, by] of taken) item[`t${offset}`] = by;
  return item;
}

function allocationItem(
  subnet: Subnet,
  value: bigint,
  reqToken: string,
  createdAt: string,
): Record<string, unknown> {
  const g = geometryOf(subnet.cidr);
  const ip = address(subnet.cidr.version, value);
  return {
    ...keys.allocation(subnet.id, positionOf(g, value).shard, ip),
    type: 'allocation',
    subnetId: subnet.id,
    ip: formatIp(ip),
    owner: null,
    description: null,
    tags: {},
    macAddress: null,
    createdAt,
    expiresAt: null,
    // What the bench's allocators write: no actor is known to them.
    createdBy: UNKNOWN_WHO.actor,
    ...writerStamps(UNKNOWN_WHO),
    reqToken,
    pv: subnet.configVersion,
  };
}

function counterItem(subnet: Subnet, shard: number, n: bigint, ver: bigint) {
  const base = newCounterItem(subnet.id, shard, subnet.configVersion);
  const number = (value: bigint) =>
    value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  return { ...base, n: number(n), p: number(n), l: 0, ver: number(ver) };
}

/** Pool offsets of a block, ascending. */
function poolOffsets(subnet: Subnet, g: Geometry, block: bigint): number[] {
  return freeOffsets(g, emptyBlock(block), subnet.pools, 0);
}

export interface FillResult {
  readonly subnet: Subnet;
  /** Allocations in the subnet after the fill. */
  readonly allocated: number;
  readonly poolSize: number;
  readonly itemsWritten: number;
  readonly ms: number;
}

/**
 * Raises a small-shard subnet to `fraction` of its pool addresses taken, each block
 * to the same fraction (rounded), at random offsets. Reads what is there first, so
 * it also tops up a partly filled subnet; nothing else may write it meanwhile.
 */
export async function fillTo(
  env: BenchEnv,
  subnetId: string,
  fraction: number,
): Promise<FillResult> {
  const started = Date.now();
  const subnet = await loadSubnet(env.admin, subnetId);
  const g = geometryOf(subnet.cidr);
  if (g.blockCount > 1n << 16n) throw new Error('fillTo is for subnets of ≤ 65,536 blocks');
  const createdAt = new Date().toISOString();
  const blocks: Record<string, unknown>[] = [];
  const allocations: Record<string, unknown>[] = [];
  const counters: Record<string, unknown>[] = [];
  let allocated = 0;
  let poolSize = 0;
  for (let shard = 0; shard < g.shardCount; shard++) {
    const existing = await readShard(env, subnet, shard);
    let n = 0n;
    let added = 0n;
    const { first, last } = shardBlocks(g, shard);
    for (let block = first; block <= last; block++) {
      const pool = poolOffsets(subnet, g, block);
      poolSize += pool.length;
      const taken = new Map(existing.blocks.get(block) ?? []);
      const want = Math.round(pool.length * fraction);
      const free = pool.filter((offset) => !taken.has(offset));
      const adding = sampleWithoutReplacement(free, Math.max(0, want - taken.size));
      for (const offset of adding) {
        const by = token();
        taken.set(offset, by);
        const value = addressAt(g, block, offset);
        allocations.push(allocationItem(subnet, value, by, createdAt));
        env.hold(subnet.id, value, { token: by });
      }
      if (adding.length > 0) blocks.push(blockItem(subnet, g, block, taken));
      n += BigInt(taken.size);
      added += BigInt(adding.length);
    }
    allocated += Number(n);
    counters.push(counterItem(subnet, shard, n, existing.ver + added));
  }
  const itemsWritten = await env.batchWrite([...blocks, ...allocations, ...counters], 24);
  return { subnet, allocated, poolSize, itemsWritten, ms: Date.now() - started };
}

/** The taken offsets (with their tokens) of a shard's blocks, and its counter's `ver`. */
async function readShard(
  env: BenchEnv,
  subnet: Subnet,
  shard: number,
): Promise<{ blocks: Map<bigint, Map<number, string>>; ver: bigint }> {
  const blocks = new Map<bigint, Map<number, string>>();
  const pk = keys.shardPartition(subnet.id, shard);
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await env.admin.doc.send(
      new QueryCommand({
        TableName: env.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :block)',
        ExpressionAttributeValues: { ':pk': pk, ':block': 'BLOCK#' },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const taken = new Map<number, string>();
      for (const offset of (item.u as Set<number> | undefined) ?? []) {
        taken.set(Number(offset), String(item[`t${offset}`] ?? token()));
      }
      blocks.set(parseBlockSort(String(item.sk)), taken);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  const counter = await env.admin.doc.send(
    new GetCommand({
      TableName: env.tableName,
      Key: keys.counter(subnet.id, shard),
      ConsistentRead: true,
    }),
  );
  return { blocks, ver: BigInt(String(counter.Item?.ver ?? 0)) };
}

export interface LazyFill {
  readonly subnet: Subnet;
  readonly fraction: number;
  /** Pool addresses counted as taken by the counters. */
  readonly allocated: bigint;
  readonly poolSize: bigint;
  /** Installs the first-touch middleware on a client that will talk about this subnet. */
  install(client: DynamoDBClient): void;
  /** Blocks written so far. */
  readonly materialized: () => number;
}

/**
 * Pre-fills a subnet of huge shards to `fraction`: exact counters now, each block on
 * first touch (see the module comment).
 */
export async function prefillLazily(
  env: BenchEnv,
  subnetId: string,
  fraction: number,
): Promise<LazyFill> {
  const subnet = await loadSubnet(env.admin, subnetId);
  const g = geometryOf(subnet.cidr);
  const perFullBlock = BigInt(Math.round(Number(BLOCK_SIZE) * fraction));
  const counters: Record<string, unknown>[] = [];
  let allocated = 0n;
  const poolPerShard = poolSizePerShard(g, subnet.pools);
  for (let shard = 0; shard < g.shardCount; shard++) {
    // Blocks wholly inside a pool hold round(256 × fraction); the few blocks a pool
    // boundary cuts are counted one by one, exactly as they will be written.
    const range = shardRange(g, shard);
    const edges = new Set<bigint>();
    for (const pool of clipPools(subnet.pools, range.start, range.end)) {
      edges.add(positionOf(g, pool.start).block);
      edges.add(positionOf(g, pool.end).block);
    }
    let n = 0n;
    let edgePool = 0n;
    for (const block of edges) {
      const pool = poolOffsets(subnet, g, block);
      edgePool += BigInt(pool.length);
      n += BigInt(Math.round(pool.length * fraction));
    }
    const whole = ((poolPerShard[shard] ?? 0n) - edgePool) / BLOCK_SIZE;
    n += whole * perFullBlock;
    allocated += n;
    counters.push(counterItem(subnet, shard, n, n));
  }
  await env.batchWrite(counters, 4);
  env.lazySubnets.add(subnet.id);
  const { doc } = env.rawClient();
  const pending = new Map<string, Promise<void>>();
  const prefix = `SUBNET#${subnet.id}#S#`;
  const materialize = (pk: string, sk: string): Promise<void> => {
    const key = `${pk}|${sk}`;
    let done = pending.get(key);
    if (done === undefined) {
      const block = parseBlockSort(sk);
      const pool = poolOffsets(subnet, g, block);
      const taken = new Map(
        sampleWithoutReplacement(pool, Math.round(pool.length * fraction)).map((offset) => [
          offset,
          token(),
        ]),
      );
      done =
        taken.size === 0
          ? Promise.resolve()
          : doc
              .send(
                new PutCommand({
                  TableName: env.tableName,
                  Item: blockItem(subnet, g, block, taken),
                  ConditionExpression: 'attribute_not_exists(pk)',
                }),
              )
              .then(
                () => undefined,
                (error: unknown) => {
                  if (!isConditionalCheckFailed(error)) throw error;
                },
              );
      pending.set(key, done);
    }
    return done;
  };
  const isBlock = (key: Record<string, unknown> | undefined) =>
    key !== undefined && String(key.pk).startsWith(prefix) && String(key.sk).startsWith('BLOCK#');
  return {
    subnet,
    fraction,
    allocated,
    poolSize: poolPerShard.reduce((sum, size) => sum + size, 0n),
    materialized: () => pending.size,
    install(client: DynamoDBClient) {
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const command = String(context.commandName).replace(/Command$/, '');
          const input = args.input as Record<string, unknown>;
          const touched: Record<string, unknown>[] = [];
          if (command === 'GetItem') touched.push(input.Key as Record<string, unknown>);
          if (command === 'TransactWriteItems') {
            for (const item of input.TransactItems as Record<
              string,
              { Key?: Record<string, unknown> }
            >[]) {
              const key = item.Update?.Key ?? item.Delete?.Key ?? item.ConditionCheck?.Key;
              if (key !== undefined) touched.push(key);
            }
          }
          if (command === 'Query') {
            // A whole small shard read by range (the /16): write its blocks first.
            const values = (input.ExpressionAttributeValues ?? {}) as Record<string, unknown>;
            const pk = String(values[':pk'] ?? '');
            const bounds = Object.values(values)
              .map(String)
              .filter((value) => value.startsWith('BLOCK#'))
              .map(parseBlockSort);
            if (pk.startsWith(prefix) && bounds.length > 0) {
              const [low, high] = [...bounds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
              if (
                bounds.length !== 2 ||
                low === undefined ||
                high === undefined ||
                high - low >= 256n
              ) {
                throw new Error(
                  `The lazy pre-fill of ${subnet.id} cannot serve this Query of blocks (${String(input.KeyConditionExpression)}).`,
                );
              }
              for (let block = low; block <= high; block++) {
                touched.push({ pk, sk: keys.blockSort(block) });
              }
            }
          }
          await Promise.all(
            touched.filter(isBlock).map((key) => materialize(String(key.pk), String(key.sk))),
          );
          return next(args);
        },
        { step: 'initialize', name: 'benchLazyPrefill', priority: 'high' },
      );
    },
  };
}

/**
 * Allocates one address with the real allocator and compares the items it wrote
 * with what the pre-fill would write for the same address and token.
 */
export async function checkShapes(env: BenchEnv): Promise<string> {
  const view = await env.subnet('192.0.2.0/24', 'shape-check');
  const subnet = await loadSubnet(env.admin, view.id);
  const g = geometryOf(subnet.cidr);
  const container = env.container();
  const [allocation] = await container.allocator.allocate(subnet.id, {});
  env.retire([container]);
  const value = parseIp(allocation!.ip).value;
  const pos = positionOf(g, value);
  const read = async (key: Record<string, unknown>) =>
    (
      await env.admin.doc.send(
        new GetCommand({ TableName: env.tableName, Key: key, ConsistentRead: true }),
      )
    ).Item ?? {};
  const realItem = await read(keys.allocation(subnet.id, pos.shard, address(4, value)));
  const realBlock = await read(keys.block(subnet.id, pos.shard, pos.block));
  const realCounter = await read(keys.counter(subnet.id, pos.shard));
  const by = String(realItem.reqToken);
  env.hold(subnet.id, value, { token: by });
  const ours = {
    item: allocationItem(subnet, value, by, String(realItem.createdAt)),
    block: blockItem(subnet, g, pos.block, new Map([[pos.offset, by]])),
    counter: counterItem(subnet, pos.shard, 1n, 1n),
  };
  const problems = [
    ...compare('allocation item', realItem, ours.item),
    ...compare('block item', realBlock, ours.block),
    ...compare('counter item', realCounter, ours.counter),
  ];
  if (problems.length > 0) {
    throw new Error(
      `The pre-fill no longer writes what the allocator writes; update bench/prefill.ts:\n  ${problems.join('\n  ')}`,
    );
  }
  return 'pre-fill items match a real allocation (allocation, block and counter items)';
}

function compare(
  what: string,
  real: Record<string, unknown>,
  ours: Record<string, unknown>,
): string[] {
  const problems: string[] = [];
  const names = new Set([...Object.keys(real), ...Object.keys(ours)]);
  for (const name of names) {
    if (!(name in real)) problems.push(`${what}: we write ${name}, the allocator does not`);
    else if (!(name in ours)) problems.push(`${what}: the allocator writes ${name}, we do not`);
    else if (kind(real[name]) !== kind(ours[name])) {
      problems.push(`${what}: ${name} is ${kind(real[name])} there, ${kind(ours[name])} here`);
    } else if (kind(real[name]) !== 'object' && !sameValue(real[name], ours[name])) {
      problems.push(`${what}: ${name} is ${show(real[name])} there, ${show(ours[name])} here`);
    }
  }
  return problems;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (value instanceof Set) return 'set';
  return typeof value;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Set && b instanceof Set) {
    return a.size === b.size && [...a].every((element) => b.has(element));
  }
  return a === b;
}

function show(value: unknown): string {
  return value instanceof Set ? `{${[...value].join(',')}}` : JSON.stringify(value);
}
