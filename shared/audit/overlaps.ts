/**
 * The subnet pass of the merge (after every segment finished): gsi1 lists every
 * subnet by space, IP version and network, so one pass keeping the subnet that
 * reaches furthest finds every overlap (SUBNET_OVERLAP) with O(1) state, and hands
 * each subnet to the utilisation step. Overlaps are reported, never repaired.
 */
import { cidrFirst, cidrLast, formatCidr } from '../net/address.js';
import { keys } from '../store/keys.js';
import type { Subnet } from '../subnets/subnet.js';
import type { DeadlineGate, Key } from './checkpoint.js';
import type { Page } from './reader.js';
import { FindingType, NotRepaired } from './report.js';
import { type AuditScope, parseSubnet } from './scope.js';

/** Where the pass stands: its page, and the subnet reaching furthest so far. */
export interface OverlapState {
  done: boolean;
  startKey?: Key;
  /** `<space>#<ip version>` of the subnet reaching furthest so far. */
  group?: string;
  maxLast?: string;
  holderId?: string;
  holderCidr?: string;
}

/**
 * Runs the pass from its checkpoint `state` over `pages` (the subnet list from
 * after `state.startKey`) until done or the gate says stop. The index is
 * eventually consistent: both subnets are re-read before reporting.
 */
export async function findOverlaps(
  scope: AuditScope,
  gate: DeadlineGate,
  state: OverlapState,
  pages: (startKey: OverlapState['startKey']) => AsyncIterable<Page>,
  onSubnet: (subnet: Subnet) => Promise<void> = async () => undefined,
): Promise<void> {
  if (state.done || gate.shouldStop()) return;
  for await (const page of pages(state.startKey)) {
    for (const item of page.items) {
      const subnet = parseSubnet(item);
      if (subnet === undefined) continue;
      await onSubnet(subnet);
      const group = `${subnet.space}#${subnet.cidr.version}`;
      const first = cidrFirst(subnet.cidr);
      const last = cidrLast(subnet.cidr);
      const sameGroup = state.group === group && state.maxLast !== undefined;
      if (sameGroup && first <= BigInt(state.maxLast ?? '0')) {
        await overlap(scope, subnet, state.holderId ?? '', state.holderCidr ?? '');
      }
      if (!sameGroup || last > BigInt(state.maxLast ?? '0')) {
        state.group = group;
        state.maxLast = last.toString();
        state.holderId = subnet.id;
        state.holderCidr = formatCidr(subnet.cidr);
      }
    }
    gate.progress();
    if (page.lastKey === undefined) {
      state.done = true;
      return;
    }
    state.startKey = page.lastKey;
    if (gate.shouldStop()) return;
  }
}

async function overlap(
  scope: AuditScope,
  subnet: Subnet,
  otherId: string,
  otherCidr: string,
): Promise<void> {
  if (otherId === subnet.id) return;
  const [mine, other] = await Promise.all([
    scope.io.get(keys.subnet(subnet.id)),
    scope.io.get(keys.subnet(otherId)),
  ]);
  if (mine === undefined || other === undefined) return;
  scope.findings.add(
    {
      type: FindingType.SUBNET_OVERLAP,
      subnetId: subnet.id,
      detail:
        `${formatCidr(subnet.cidr)} overlaps ${otherCidr} (subnet ${otherId}) in space ` +
        `${subnet.space}; one of them must be moved or deleted by hand.`,
    },
    NotRepaired.REPORT_ONLY,
  );
}
