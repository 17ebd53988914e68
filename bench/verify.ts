/**
 * The final check: a full Scan of the table, compared with the ledger of every
 * address the benchmark was handed (and not released).
 *
 * - duplicates: an address handed out while another live holder had it, or whose
 *   allocation item belongs to someone other than the holder it was handed to;
 * - lost: handed out, but no allocation item;
 * - strays: an allocation item nobody was handed;
 * - for subnets written in full: every taken offset of a block has its allocation
 *   item, every item's offset is taken in its block, and each shard counter's `n`
 *   equals the offsets its blocks hold. (Lazily pre-filled subnets: only the
 *   benchmark's own allocations are checked against their blocks.)
 */
import { ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import { parseCidr, parseIp } from '../shared/net/address.js';
import { parseBlockSort } from '../shared/store/keys.js';
import { BLOCK_BITS } from '../shared/subnets/geometry.js';
import type { BenchEnv } from './env.js';

export interface VerifyResult {
  itemsScanned: number;
  allocationItems: number;
  heldByLedger: number;
  duplicates: number;
  lost: number;
  strays: number;
  offsetsWithoutItem: number;
  itemsOutsideBlocks: number;
  counterMismatches: number;
  seconds: number;
}

interface SubnetFacts {
  network?: bigint;
  /** value → the item's description and reqToken */
  readonly items: Map<bigint, { description: unknown; reqToken: unknown }>;
  /** block → taken offsets */
  readonly blocks: Map<bigint, ReadonlySet<number>>;
  /** shard → block offsets counted */
  readonly shardOffsets: Map<string, number>;
  readonly counters: Map<string, number>;
}

export async function verify(env: BenchEnv, segments = 2): Promise<VerifyResult> {
  const started = Date.now();
  const subnets = new Map<string, SubnetFacts>();
  const facts = (id: string): SubnetFacts => {
    let found = subnets.get(id);
    if (found === undefined) {
      found = { items: new Map(), blocks: new Map(), shardOffsets: new Map(), counters: new Map() };
      subnets.set(id, found);
    }
    return found;
  };
  let itemsScanned = 0;
  let allocationItems = 0;
  const clients = Array.from({ length: segments }, () => env.rawClient());
  await Promise.all(
    clients.map(async ({ doc }, segment) => {
      let startKey: Record<string, unknown> | undefined;
      do {
        const page: ScanCommandOutput = await doc.send(
          new ScanCommand({
            TableName: env.tableName,
            Segment: segment,
            TotalSegments: segments,
            ProjectionExpression: 'pk, sk, u, #type, subnetId, ip, description, reqToken, n, cidr',
            ExpressionAttributeNames: { '#type': 'type' },
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of page.Items ?? []) {
          itemsScanned++;
          const pk = String(item.pk);
          const sk = String(item.sk);
          if (item.type === 'allocation') {
            allocationItems++;
            facts(String(item.subnetId)).items.set(parseIp(String(item.ip)).value, {
              description: item.description,
              reqToken: item.reqToken,
            });
            continue;
          }
          const shardMatch = /^SUBNET#(.+)#S#(\d+)$/.exec(pk);
          if (shardMatch !== null) {
            const subnet = facts(shardMatch[1]!);
            const shard = shardMatch[2]!;
            if (sk === 'COUNT') subnet.counters.set(shard, Number(item.n ?? 0));
            if (sk.startsWith('BLOCK#')) {
              const used = new Set([...((item.u as Set<number> | undefined) ?? [])].map(Number));
              subnet.blocks.set(parseBlockSort(sk), used);
              subnet.shardOffsets.set(shard, (subnet.shardOffsets.get(shard) ?? 0) + used.size);
            }
            continue;
          }
          const subnetMatch = /^SUBNET#([^#]+)$/.exec(pk);
          if (subnetMatch !== null && sk === 'META') {
            facts(subnetMatch[1]!).network = parseCidr(String(item.cidr)).network;
          }
        }
        startKey = page.LastEvaluatedKey;
      } while (startKey !== undefined);
    }),
  );
  env.retire(clients);

  let duplicates = env.doubleHandOuts;
  let lost = 0;
  let strays = 0;
  let offsetsWithoutItem = 0;
  let itemsOutsideBlocks = 0;
  let counterMismatches = 0;
  let heldByLedger = 0;
  for (const [subnetId, held] of env.ledger) {
    const items = subnets.get(subnetId)?.items ?? new Map();
    for (const [value, holder] of held) {
      heldByLedger++;
      const item = items.get(value);
      if (item === undefined) lost++;
      else if (
        'call' in holder ? item.description !== holder.call : item.reqToken !== holder.token
      ) {
        duplicates++;
      }
    }
  }
  for (const [subnetId, subnet] of subnets) {
    const held = env.ledger.get(subnetId);
    for (const value of subnet.items.keys()) if (held?.has(value) !== true) strays++;
    if (subnet.network === undefined) continue; // the baseline: no blocks
    const lazy = env.lazySubnets.has(subnetId);
    const network = subnet.network;
    for (const value of subnet.items.keys()) {
      const relative = value - network;
      const used = subnet.blocks.get(relative >> BLOCK_BITS);
      if (used?.has(Number(relative & 0xffn)) !== true) itemsOutsideBlocks++;
    }
    if (lazy) continue;
    for (const [block, used] of subnet.blocks) {
      for (const offset of used) {
        const value = network + (block << BLOCK_BITS) + BigInt(offset);
        if (!subnet.items.has(value)) offsetsWithoutItem++;
      }
    }
    for (const [shard, n] of subnet.counters) {
      if (n !== (subnet.shardOffsets.get(shard) ?? 0)) counterMismatches++;
    }
  }
  return {
    itemsScanned,
    allocationItems,
    heldByLedger,
    duplicates,
    lost,
    strays,
    offsetsWithoutItem,
    itemsOutsideBlocks,
    counterMismatches,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}
