/**
 * The occupancy states the console draws, one source for the map, the legend and the
 * address panel. Colours are Okabe–Ito (safe for the common colour-vision
 * deficiencies); each state also has its own pattern (in styles.css) and a letter, so
 * colour is never the only cue.
 */
import type { AddressState } from './types.js';

export type Occupancy =
  | 'free'
  | 'allocated'
  | 'leased'
  | 'expired'
  | 'quarantined'
  | 'reserved'
  | 'outside';

export interface StateLook {
  readonly label: string;
  /** Shown in one-address cells and the legend. */
  readonly glyph: string;
}

export const STATES: Readonly<Record<Occupancy, StateLook>> = {
  free: { label: 'Free (in the pools)', glyph: '·' },
  allocated: { label: 'Allocated', glyph: 'A' },
  leased: { label: 'Leased (live lease)', glyph: 'L' },
  expired: { label: 'Lease expired (allocatable)', glyph: 'E' },
  quarantined: { label: 'Quarantined (cool-down)', glyph: 'Q' },
  reserved: { label: 'Gateway / reserved', glyph: 'G' },
  outside: { label: 'Outside the pools', glyph: '×' },
};

/** The order segments are stacked in a cell and listed in the legend. */
export const LEGEND_ORDER: readonly Occupancy[] = [
  'allocated',
  'leased',
  'quarantined',
  'free',
  'expired',
  'reserved',
  'outside',
];

/** One address's state, as the map cell and GET /addresses report it. */
export function occupancyOf(state: AddressState, leased: boolean): Occupancy {
  switch (state) {
    case 'ALLOCATED':
      return leased ? 'leased' : 'allocated';
    case 'LEASE_EXPIRED':
      return 'expired';
    case 'QUARANTINED':
      return 'quarantined';
    case 'GATEWAY':
    case 'RESERVED':
      return 'reserved';
    case 'FREE':
      return 'free';
    case 'OUTSIDE_POOLS':
      return 'outside';
  }
}
