/** The stream processor's settings from its environment (shared/history/ and shared/hints/settings.ts). */
import { describe, expect, it } from 'vitest';
import { hintsWanted } from '../../shared/hints/index.js';
import { historyRetentionDays } from '../../shared/history/settings.js';

describe('stream processor settings', () => {
  it('derives blocks hints only with IPAM_HINTS=on, and refuses anything but on/off', () => {
    expect(hintsWanted({})).toBe(false);
    expect(hintsWanted({ IPAM_HINTS: 'off' })).toBe(false);
    expect(hintsWanted({ IPAM_HINTS: 'on' })).toBe(true);
    expect(() => hintsWanted({ IPAM_HINTS: 'yes' })).toThrow(/IPAM_HINTS must be "on" or "off"/);
  });

  it('keeps history 90 days unless IPAM_HISTORY_RETENTION_DAYS says otherwise', () => {
    expect(historyRetentionDays({})).toBe(90);
    expect(historyRetentionDays({ IPAM_HISTORY_RETENTION_DAYS: '7' })).toBe(7);
    expect(() => historyRetentionDays({ IPAM_HISTORY_RETENTION_DAYS: '0' })).toThrow();
  });
});
