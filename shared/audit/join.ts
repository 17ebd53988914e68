/**
 * The block↔allocation join of one shard: its blocks and its allocation items,
 * both in address order, walked side by side (a merge join, neither stream held
 * in memory), so that every taken offset meets the allocation item of its address.
 * Each offset is then live, an expired lease, in its release cool-down or held by
 * nobody (blockOffsets.ts);
 * items no offset names are lone items (loneItems.ts). Where the items come from
 * is the caller's business.
 */
import { type AllocationItem, tokenAttribute } from '../allocator/index.js';
import { keys, parseBlockSort } from '../store/keys.js';
import { blockFromItem, coolingUntil } from '../subnets/blocks.js';
import { addressAt, blockRange, positionOf } from '../subnets/geometry.js';
import { inPools } from '../subnets/rules.js';
import { blockWithoutAllocation, expiredLease } from './blockOffsets.js';
import type { Item } from './io.js';
import { loneItem } from './loneItems.js';
import { FindingType, NotRepaired } from './report.js';
import type { AuditScope } from './scope.js';
import {
  countAside,
  ipText,
  isLive,
  itemKey,
  itemValue,
  type SeenOffset,
  type ShardItems,
  type ShardScan,
} from './shard.js';
import { noteOutsidePool } from './utilization.js';

/** Joins the shard's blocks with its allocation items, adding to `sh.truth` what the blocks hold. */
export async function joinShard(
  scope: AuditScope,
  sh: ShardScan,
  source: ShardItems,
): Promise<void> {
  const items = source.allocations[Symbol.asyncIterator]();
  let next = await items.next();
  for await (const blockItem of source.blocks) {
    const block = parseBlockSort(String(blockItem.sk));
    const range = blockRange(sh.g, block);
    while (!next.done && itemValue(next.value) < range.start) {
      await loneItem(scope, sh, next.value as unknown as AllocationItem);
      next = await items.next();
    }
    const here = new Map<number, AllocationItem>();
    while (!next.done && itemValue(next.value) <= range.end) {
      here.set(
        Number(itemValue(next.value) - range.start),
        next.value as unknown as AllocationItem,
      );
      next = await items.next();
    }
    await auditBlock(scope, sh, block, blockItem, here);
  }
  while (!next.done) {
    await loneItem(scope, sh, next.value as unknown as AllocationItem);
    next = await items.next();
  }
}

async function auditBlock(
  scope: AuditScope,
  sh: ShardScan,
  block: bigint,
  blockItem: Item,
  here: Map<number, AllocationItem>,
): Promise<void> {
  scope.part.scanned.allocations += here.size;
  const state = blockFromItem(block, blockItem);
  for (const offset of [...state.used].sort((a, b) => a - b)) {
    const value = addressAt(sh.g, block, offset);
    const token = blockItem[tokenAttribute(offset)];
    const seen: SeenOffset = {
      block,
      offset,
      value,
      inPool: inPools(sh.subnet.pools, value),
      expiry: state.leases.get(offset),
      token: typeof token === 'string' ? token : undefined,
      item: here.get(offset),
    };
    here.delete(offset);
    sh.truth.n += 1;
    if (seen.inPool) sh.truth.p += 1;
    if (seen.expiry !== undefined) sh.truth.l += 1;
    const live = seen.item !== undefined && isLive(seen.item, sh.nowSeconds);
    if (seen.expiry !== undefined && seen.expiry <= sh.nowSeconds) {
      await expiredLease(scope, sh, seen, live);
    } else if (!live && coolingUntil(state, offset, sh.nowSeconds) !== undefined) {
      // In its release cool-down (released, or a lease past its expiry): held by its
      // block on purpose, counted as a lease, and free once `x<o>` passes — when it is
      // an expired lease to this audit like any other. Nothing to find or repair.
      countAside(sh, seen, true);
    } else if (!live) {
      await blockWithoutAllocation(scope, sh, seen);
    } else {
      await liveAllocation(scope, sh, seen);
    }
  }
  // Items whose offset the block does not hold.
  for (const item of here.values()) await loneItem(scope, sh, item, false);
}

async function liveAllocation(scope: AuditScope, sh: ShardScan, seen: SeenOffset): Promise<void> {
  const item = seen.item;
  if (item === undefined) return;
  if (
    seen.token !== undefined &&
    item.reqToken !== seen.token &&
    (await mismatch(scope, sh, seen))
  ) {
    scope.findings.add(
      {
        type: FindingType.ALLOCATION_TOKEN_MISMATCH,
        subnetId: sh.subnet.id,
        ip: ipText(sh, seen.value),
        detail:
          'The allocation item and its block offset were written by different requests; ' +
          'the address stays held.',
      },
      NotRepaired.INFORMATIONAL,
    );
  }
  if (!seen.inPool) noteOutsidePool(sh.progress, ipText(sh, seen.value));
}

/** Whether block and item still name different requests, read as one snapshot. */
async function mismatch(scope: AuditScope, sh: ShardScan, seen: SeenOffset): Promise<boolean> {
  const pos = positionOf(sh.g, seen.value);
  const [block, item] = await scope.io.snapshot([
    keys.block(sh.subnet.id, pos.shard, seen.block),
    itemKey(sh, seen.value),
  ]);
  const token = block?.[tokenAttribute(seen.offset)];
  return (
    blockFromItem(seen.block, block).used.has(seen.offset) &&
    typeof token === 'string' &&
    item !== undefined &&
    isLive(item as unknown as AllocationItem, Math.floor(scope.ctx.now() / 1000)) &&
    item.reqToken !== token
  );
}
