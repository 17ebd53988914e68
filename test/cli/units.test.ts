import { describe, expect, it } from 'vitest';
import { parseCsv, toCsv } from '../../cli/csv.js';
import { ApiError, ExitCode, exitCodeOfStatus } from '../../cli/errors.js';
import { detectFormat, planPrefixes, readPrefixes } from '../../cli/importPlan.js';
import { canonicalIp, containsCidr, parseCidr } from '../../cli/ip.js';
import { bar, percent } from '../../cli/output.js';

describe('parseCsv', () => {
  it('reads quoted fields, commas, quotes and newlines inside quotes, CRLF and a BOM', () => {
    const csv = parseCsv(
      '\uFEFFPrefix,Description,Is Pool\r\n10.0.0.0/24,"Campus, ""A""",true\r\n\r\n10.0.1.0/24,"two\nlines",false\r\n',
    );
    expect(csv.headers).toEqual(['prefix', 'description', 'is_pool']);
    expect(csv.rows.map((r) => r.values)).toEqual([
      { prefix: '10.0.0.0/24', description: 'Campus, "A"', is_pool: 'true' },
      { prefix: '10.0.1.0/24', description: 'two\nlines', is_pool: 'false' },
    ]);
    expect(csv.rows[0]!.line).toBe(2);
  });

  it('round-trips through toCsv', () => {
    const text = toCsv(
      ['a', 'b'],
      [
        ['x, y', 'say "hi"'],
        ['plain', ' padded '],
      ],
    );
    expect(text).toBe('a,b\r\n"x, y","say ""hi"""\r\nplain," padded "\r\n');
    expect(parseCsv(text).rows.map((r) => r.values)).toEqual([
      { a: 'x, y', b: 'say "hi"' },
      { a: 'plain', b: 'padded' },
    ]);
  });

  it('refuses an unterminated quote as a usage error', () => {
    expect(() => parseCsv('a,b\n"x,y\n')).toThrow(/not a readable CSV/);
  });
});

describe('planPrefixes', () => {
  const plan = (text: string, existing = { subnets: [], pools: [] }) => {
    const csv = parseCsv(text);
    return planPrefixes(readPrefixes(detectFormat(csv.headers), csv), existing).map(
      (i) => `${i.action} ${i.kind} ${i.target}`,
    );
  };

  it('makes pools of the outermost containers whatever their status, and never aborts on nesting', () => {
    expect(
      plan(
        'prefix,status\n10.0.0.0/8,active\n10.1.0.0/16,container\n10.1.2.0/24,active\n10.1.2.0/24,active\n10.1.3.1/24,active\n10.2.0.0/16,active\n',
      ),
    ).toEqual([
      'create pool 10.0.0.0/8',
      'skip pool 10.1.0.0/16',
      'create subnet 10.1.2.0/24',
      'skip subnet 10.1.2.0/24',
      'invalid subnet 10.1.3.1/24',
      'create subnet 10.2.0.0/16',
    ]);
  });

  it('does not make pools shorter than the API allows', () => {
    expect(plan('prefix,status\n10.0.0.0/7,container\n10.0.1.0/24,active\n')).toEqual([
      'skip pool 10.0.0.0/7',
      'create subnet 10.0.1.0/24',
    ]);
  });
});

describe('detectFormat', () => {
  it('tells the four exports apart by their header', () => {
    expect(detectFormat(['prefix', 'vrf', 'status'])).toBe('netbox-prefixes');
    expect(detectFormat(['address', 'dns_name'])).toBe('netbox-addresses');
    expect(detectFormat(['section', 'subnet', 'description'])).toBe('phpipam-subnets');
    expect(detectFormat(['section', 'ip_address', 'hostname'])).toBe('phpipam-addresses');
    expect(() => detectFormat(['network'])).toThrow(/--format/);
  });
});

describe('addresses', () => {
  it('canonicalises what a user types the way the server prints it', () => {
    expect(canonicalIp('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(parseCidr('2001:DB8::/32')?.text).toBe('2001:db8::/32');
    expect(parseCidr('10.0.0.1/24')).toBeUndefined();
    expect(parseCidr('10.0.0.1/24', false)?.text).toBe('10.0.0.0/24');
    expect(containsCidr(parseCidr('10.0.0.0/16')!, parseCidr('10.0.3.0/24')!)).toBe(true);
    expect(containsCidr(parseCidr('10.0.0.0/16')!, parseCidr('2001:db8::/64')!)).toBe(false);
  });
});

describe('output', () => {
  it('draws utilisation exactly, also for IPv6 sizes given as decimal strings', () => {
    expect(bar(5, 253)).toBe('[#-------------------]   2.0%');
    expect(bar(253, 253)).toBe('[####################] 100.0%');
    expect(percent('9223372036854775808', '18446744073709551616')).toBe(50);
  });
});

describe('exit codes', () => {
  it('keeps the documented classes distinct', () => {
    expect(exitCodeOfStatus(400)).toBe(ExitCode.USAGE);
    expect(exitCodeOfStatus(404)).toBe(ExitCode.NOT_FOUND);
    expect(exitCodeOfStatus(404, 'ROUTE_NOT_FOUND')).toBe(ExitCode.NOT_SUPPORTED);
    expect(exitCodeOfStatus(409)).toBe(ExitCode.CONFLICT);
    expect(exitCodeOfStatus(503)).toBe(ExitCode.UNAVAILABLE);
    expect(exitCodeOfStatus(403)).toBe(ExitCode.AUTH);
    expect(exitCodeOfStatus(500)).toBe(ExitCode.OTHER);
    expect(new ApiError(409, 'SUBNET_EXHAUSTED', 'full', {}, {}).exitCode).toBe(4);
    expect(new Set(Object.values(ExitCode)).size).toBe(Object.values(ExitCode).length);
  });
});
