/**
 * The allocation item as stored, and the view callers get: the one place that
 * maps between them (addresses and MACs are formatted here, on the way out).
 */
import { randomBytes } from 'node:crypto';
import { formatIp, type IpAddress } from '../net/address.js';
import { type Who, writerStamps } from '../store/context.js';
import { keys } from '../store/keys.js';
import { geometryOf, positionOf } from '../subnets/geometry.js';
import { address, type Subnet } from '../subnets/subnet.js';

/** One allocation as the API answers it. */
export interface AllocationView {
  subnetId: string;
  ip: string;
  owner: string | null;
  description: string | null;
  tags: Record<string, string>;
  macAddress: string | null;
  createdAt: string;
  expiresAt: string | null;
  /** Who allocated it (null for allocations written before actors were recorded). */
  createdBy: string | null;
  /** Who changed it last: the allocator, or the last PATCH (null as for createdBy). */
  updatedBy: string | null;
}

/**
 * The stored allocation item: the view plus its keys, when the address is free
 * again, and the writer's token. It is the address's whole truth about holding:
 * a live allocation, a lease (live until `expiresAt`, held until `ttl`), or a
 * release's cool-down (a tombstone, with `releasedAt`).
 */
export interface AllocationItem extends AllocationView {
  pk: string;
  sk: string;
  type: 'allocation';
  /**
   * When the address is free to take again, epoch seconds (the page's `freeAt`;
   * it is the table's TTL attribute, so the TTL never removes an item that still
   * holds its address): a lease's expiry plus the subnet's cool-down, or a
   * tombstone's release time plus it. Absent on an allocation without a lease.
   */
  ttl?: number;
  /**
   * When the cool-down before `ttl` begins or began (epoch seconds): a lease's
   * expiry, or the release. Present only where `ttl` includes a cool-down, so a
   * taker knows nobody holds the address at `ttl` and needs no clock margin
   * (subnets/holding.ts `takeoverCondition`).
   */
  coolFrom?: number;
  /** The subnet's configVersion the writer decided on (pools, gateway, delay). */
  pv?: number;
  /** A tombstone: the release that began its cool-down (ISO, to the millisecond). */
  releasedAt?: string;
  /** A tombstone: who released it (absent when the releaser was not known). */
  releasedBy?: string;
  /** The request that wrote it: releases and undos match it, so they never hit a successor. */
  reqToken: string;
  /**
   * Written by a request too large for one transaction (allocator/pending.ts): until
   * its pending record goes, the item may yet be undone, so the history holds its
   * ALLOCATED entry back until then (history/held.ts).
   */
  multiStep?: true;
  /**
   * A fresh random id written by every change of the allocation (PATCH); absent
   * until the first. Writes condition on it, so nothing decided from a read can
   * be applied over a change made since (a release over a new owner, say).
   */
  rev?: string;
  /** The request that wrote this version (its X-Request-Id), for the history. */
  requestId?: string;
  /** When this version was written by a change (PATCH); absent until the first. */
  updatedAt?: string;
  gsi1pk?: string;
  gsi1sk?: string;
}

/**
 * The lease attributes of an item whose lease ends at `expiry` (epoch seconds, or
 * null for none) under a cool-down of `delaySeconds`: its `expiresAt`, when it is
 * free again (`ttl`), and when the cool-down begins (`coolFrom`).
 */
export function leaseFields(
  expiry: number | null,
  delaySeconds: number,
): Pick<AllocationItem, 'expiresAt' | 'ttl' | 'coolFrom'> {
  if (expiry === null) return { expiresAt: null };
  return {
    expiresAt: new Date(expiry * 1000).toISOString(),
    ttl: expiry + delaySeconds,
    ...(delaySeconds > 0 ? { coolFrom: expiry } : {}),
  };
}

/** What an allocation request writes into each of its items, already formatted. */
export interface Details {
  readonly owner: string | null;
  readonly description: string | null;
  readonly tags: Record<string, string>;
  readonly macAddress: string | null;
  /** Lease expiry in epoch seconds, or null for no lease. */
  readonly expiry: number | null;
  /** Who asks for it: the items' createdBy, updatedBy and requestId. */
  readonly who: Who;
}

/** A fresh revision id for a changed allocation item (`rev`). */
export function newRevision(): string {
  return randomBytes(9).toString('base64url');
}

/** The item with its owner-index keys set from its owner (none without an owner). */
export function withOwnerIndex(item: AllocationItem, ip: IpAddress): AllocationItem {
  const { gsi1pk: _pk, gsi1sk: _sk, ...rest } = item;
  if (item.owner === null) return rest;
  return { ...rest, gsi1pk: keys.owner(item.owner), gsi1sk: keys.ownerSort(item.subnetId, ip) };
}

/** The view of a stored item (older items may lack the nullable fields). */
export function viewFromItem(item: AllocationItem): AllocationView {
  return {
    subnetId: item.subnetId,
    ip: item.ip,
    owner: item.owner ?? null,
    description: item.description ?? null,
    tags: item.tags ?? {},
    macAddress: item.macAddress ?? null,
    createdAt: item.createdAt,
    expiresAt: item.expiresAt ?? null,
    createdBy: item.createdBy ?? null,
    updatedBy: item.updatedBy ?? null,
  };
}

/** The view of the item an allocation of `value` writes. */
export function allocationView(
  subnet: Subnet,
  value: bigint,
  details: Details,
  nowMs: number,
): AllocationView {
  return viewFromItem(allocationItem(subnet, value, details, nowMs, ''));
}

/** The item an allocation of `value` by request `token` writes. */
export function allocationItem(
  subnet: Subnet,
  value: bigint,
  details: Details,
  nowMs: number,
  token: string,
): AllocationItem {
  const ip = address(subnet.cidr.version, value);
  const pos = positionOf(geometryOf(subnet.cidr), value);
  return withOwnerIndex(
    {
      ...keys.allocation(subnet.id, pos.shard, ip),
      type: 'allocation',
      subnetId: subnet.id,
      ip: formatIp(ip),
      owner: details.owner,
      description: details.description,
      tags: details.tags,
      macAddress: details.macAddress,
      createdAt: new Date(nowMs).toISOString(),
      ...leaseFields(details.expiry, subnet.reuseDelaySeconds),
      createdBy: details.who.actor,
      ...writerStamps(details.who),
      reqToken: token,
      pv: subnet.configVersion,
    },
    ip,
  );
}
