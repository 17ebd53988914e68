/** The reads behind the history routes: never a 404, newest first. */
import type { IpAddress } from '../net/address.js';
import type { IpamContext } from '../store/context.js';
import type { Page } from '../store/paging.js';
import type { HistoryEntryView } from './entry.js';
import { historyKeys } from './keys.js';
import { readHistoryPage } from './store.js';

export interface HistoryQuery {
  readonly limit: number;
  readonly cursor?: string;
}

/** An address's entries in a subnet (also after its release and the subnet's deletion). */
export function addressHistory(
  ctx: IpamContext,
  subnetId: string,
  ip: IpAddress,
  query: HistoryQuery,
): Promise<Page<HistoryEntryView>> {
  return readHistoryPage(ctx, historyKeys.addressPartitionOf(subnetId, ip), query);
}

/** A subnet's own entries: created, updated, deleted. */
export function subnetHistory(
  ctx: IpamContext,
  subnetId: string,
  query: HistoryQuery,
): Promise<Page<HistoryEntryView>> {
  return readHistoryPage(ctx, historyKeys.subnetPartition(subnetId), query);
}
