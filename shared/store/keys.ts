/** Key builders for the item layout documented in table.ts. */
import { addressKey, type IpAddress } from '../net/address.js';

const BLOCK_DIGITS = 30;

export const keys = {
  subnet: (subnetId: string) => ({ pk: `SUBNET#${subnetId}`, sk: 'META' }),
  shardPartition: (subnetId: string, shard: number) =>
    `SUBNET#${subnetId}#S#${shard.toString().padStart(2, '0')}`,
  counter: (subnetId: string, shard: number) => ({
    pk: keys.shardPartition(subnetId, shard),
    sk: 'COUNT',
  }),
  blockSort: (block: bigint) => `BLOCK#${block.toString(16).padStart(BLOCK_DIGITS, '0')}`,
  block: (subnetId: string, shard: number, block: bigint) => ({
    pk: keys.shardPartition(subnetId, shard),
    sk: keys.blockSort(block),
  }),
  allocationSort: (ip: IpAddress) => `IP#${addressKey(ip)}`,
  allocation: (subnetId: string, shard: number, ip: IpAddress) => ({
    pk: keys.shardPartition(subnetId, shard),
    sk: keys.allocationSort(ip),
  }),
  pending: (subnetId: string, token: string) => ({
    pk: `SUBNET#${subnetId}`,
    sk: `PENDING#${token}`,
  }),
  spaceHead: (space: string) => ({ pk: `SPACE#${space}`, sk: 'HEAD' }),
  spaceEntrySort: (ip: IpAddress) => `NET#${ip.version}#${addressKey(ip)}`,
  spaceEntry: (space: string, network: IpAddress) => ({
    pk: `SPACE#${space}`,
    sk: keys.spaceEntrySort(network),
  }),
  /** gsi1 partitions: every subnet, and each owner's allocations. */
  allSubnets: 'SUBNETS',
  owner: (owner: string) => `OWNER#${owner}`,
};

export function parseBlockSort(sk: string): bigint {
  return BigInt(`0x${sk.slice('BLOCK#'.length)}`);
}
