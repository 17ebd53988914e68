/** The console's address arithmetic: map levels, pool blocks, lookup kinds, percentages. */
import { describe, expect, it } from 'vitest';
import { lookupKind } from '../../console/src/lookupKind.js';
import { levelCidrs, parsePath } from '../../console/src/mapPath.js';
import { cellCidr, formatIp, parseCidr, parseIp } from '../../console/src/net.js';
import { formatCount, percent } from '../../console/src/numbers.js';
import { poolCells } from '../../console/src/poolCells.js';

describe('net', () => {
  it('prints IPv6 as RFC 5952 does', () => {
    for (const [text, canonical] of [
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['fe80::', 'fe80::'],
      ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
      ['2001:db8::0:1', '2001:db8::1'],
    ] as const) {
      const { value, version } = parseIp(text);
      expect(formatIp(value, version)).toBe(canonical);
    }
  });

  it('reads an embedded IPv4 tail', () => {
    expect(parseIp('::ffff:10.0.0.1').value).toBe(0xffff0a000001n);
  });

  it('gives the range of a CIDR', () => {
    const range = parseCidr('10.1.0.0/16');
    expect(formatIp(range.last, 4)).toBe('10.1.255.255');
    expect(cellCidr('2001:db8::', 1n << 56n)).toBe('2001:db8::/72');
  });
});

describe('map levels', () => {
  it('names each level down a cell path, 8 bits a level', () => {
    expect(levelCidrs('10.0.0.0/8', [3, 7, 9])).toEqual([
      '10.0.0.0/8',
      '10.3.0.0/16',
      '10.3.7.0/24',
      '10.3.7.9/32',
    ]);
    // A /20: 256 cells of 16, then 16 cells of one.
    expect(levelCidrs('10.0.0.0/20', [17, 15])).toEqual([
      '10.0.0.0/20',
      '10.0.1.16/28',
      '10.0.1.31/32',
    ]);
    expect(levelCidrs('2001:db8::/64', [1])).toEqual(['2001:db8::/64', '2001:db8:0:0:100::/72']);
    expect(parsePath('3.7')).toEqual([3, 7]);
    expect(parsePath(null)).toEqual([]);
  });
});

describe('pool blocks', () => {
  it('splits a prefix into carved, held by others and free', () => {
    const pool = { id: 'pool_a', space: 'prod' };
    const cells = poolCells('10.0.0.0/16', pool, [
      { id: 's1', cidr: '10.0.0.0/24', space: 'prod', poolId: 'pool_a' },
      { id: 's2', cidr: '10.0.1.0/25', space: 'prod' },
      { id: 's3', cidr: '10.0.2.0/24', space: 'other', poolId: 'pool_b' },
    ]);
    expect(cells).toHaveLength(256);
    expect(cells[0]).toMatchObject({ cidr: '10.0.0.0/24', carved: 256n, other: 0n, free: 0n });
    expect(cells[1]).toMatchObject({ cidr: '10.0.1.0/24', carved: 0n, other: 128n, free: 128n });
    expect(cells[2]).toMatchObject({ carved: 0n, other: 0n, free: 256n });
  });
});

describe('lookup kinds', () => {
  it('tells a MAC, an address and an owner apart', () => {
    expect(lookupKind('00:11:22:33:44:55')).toBe('mac');
    expect(lookupKind('00-11-22-33-44-55')).toBe('mac');
    expect(lookupKind('0011.2233.4455')).toBe('mac');
    expect(lookupKind('00:11-22:33:44:55')).toBe('address');
    expect(lookupKind('10.0.0.1')).toBe('address');
    expect(lookupKind('2001:db8::1')).toBe('address');
    expect(lookupKind('vm-1')).toBe('owner');
  });
});

describe('counts', () => {
  it('computes percentages exactly for IPv6 sizes', () => {
    expect(percent('18446744073709551616', '36893488147419103232')).toBe(50);
    expect(percent(1, 3)).toBe(33.3);
    // Rounded as the CLI and the audit round: 4 of 253 is 1.58 %.
    expect(percent(4, 253)).toBe(1.6);
    expect(percent(2, 3)).toBe(66.7);
    expect(percent(1, 0)).toBe(0);
    expect(formatCount('72057594037927936')).toBe('2^56');
    expect(formatCount(65536)).toBe('65,536');
  });
});
