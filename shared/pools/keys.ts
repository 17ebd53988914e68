/** Key builders of the pool items (the layout is in ledger.ts and shared/README.md). */
import { addressKey, type Cidr, type IpVersion } from '../net/address.js';
import { fitKey } from './buddy.js';

/** The two kinds of used block: carved from the pool, or taken by another subnet of the space. */
export const Kind = { CARVED: 'C', FOREIGN: 'F' } as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const poolKeys = {
  pool: (poolId: string) => ({ pk: `POOL#${poolId}`, sk: 'META' }),
  freePartition: (poolId: string) => `POOL#${poolId}#FREE`,
  free: (poolId: string, block: Cidr) => ({
    pk: poolKeys.freePartition(poolId),
    sk: fitKey(block),
  }),
  usedPartition: (poolId: string) => `POOL#${poolId}#USED`,
  usedSort: (kind: Kind, network: Cidr['network'], version: IpVersion) =>
    `${kind}#${addressKey({ version, value: network })}`,
  used: (poolId: string, kind: Kind, block: Cidr) => ({
    pk: poolKeys.usedPartition(poolId),
    sk: poolKeys.usedSort(kind, block.network, block.version),
  }),
  /** gsi1 partition of every pool. */
  allPools: 'POOLS',
};
