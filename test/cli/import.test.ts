import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { api } from '../support/server.js';
import { cliSession, SLOW } from './run.js';

const { url, run } = cliSession();
const fixture = (name: string) => fileURLToPath(new URL(`fixtures/${name}`, import.meta.url));

interface Item {
  line: number;
  kind: string;
  target: string;
  action: string;
  note: string;
}
const actions = (items: Item[]) => items.map((i) => `${i.line} ${i.action} ${i.kind} ${i.target}`);

describe('ipam import (NetBox)', { timeout: SLOW }, () => {
  it('dry-runs a nested prefix export: containers become pools, leaves subnets, nothing written', async () => {
    const dry = await run(
      'import',
      fixture('netbox-prefixes.csv'),
      '--space',
      'campus',
      '-o',
      'json',
    );
    expect(dry.code).toBe(0);
    const body = dry.json();
    expect(body).toMatchObject({ format: 'netbox-prefixes', space: 'campus', dryRun: true });
    expect(actions(body.items)).toEqual([
      '2 create pool 10.20.0.0/16',
      '3 skip pool 10.20.0.0/20',
      '4 create subnet 10.20.1.0/24',
      '5 create subnet 10.20.2.0/24',
      '6 create subnet 10.20.16.0/24',
      '7 create subnet 192.168.50.0/24',
      '8 create pool 2001:db8:20::/48',
      '9 create subnet 2001:db8:20:1::/64',
    ]);
    expect(body.summary).toEqual({ create: 7, exists: 0, conflict: 0, skip: 1, invalid: 0 });
    expect((await api(url(), 'GET', '/subnets?space=campus')).body.items).toEqual([]);
  });

  it('applies, reports conflicts without aborting, and a re-run creates nothing', async () => {
    // Already in the space: a /25 overlapping one of the file's /24s.
    await run('subnet', 'create', '10.20.2.0/25', '--space', 'campus');
    const applied = await run(
      'import',
      fixture('netbox-prefixes.csv'),
      '--space',
      'campus',
      '--apply',
      '-o',
      'json',
    );
    expect(applied.code).toBe(4);
    expect(applied.json().summary).toEqual({
      create: 6,
      exists: 0,
      conflict: 1,
      skip: 1,
      invalid: 0,
    });
    const conflict = applied.json().items.find((i: Item) => i.target === '10.20.2.0/24');
    expect(conflict).toMatchObject({ action: 'conflict' });
    expect(conflict.note).toContain('10.20.2.0/25');

    const subnets = (await api(url(), 'GET', '/subnets?space=campus')).body.items;
    expect(subnets.map((s: { cidr: string }) => s.cidr).sort()).toEqual(
      [
        '10.20.1.0/24',
        '10.20.16.0/24',
        '10.20.2.0/25',
        '192.168.50.0/24',
        '2001:db8:20:1::/64',
      ].sort(),
    );
    const users = subnets.find((s: { cidr: string }) => s.cidr === '10.20.1.0/24');
    expect(users).toMatchObject({
      name: 'Floor 1 users',
      tags: {
        access: '',
        wired: '',
        'netbox.tenant': 'acme',
        'netbox.status': 'active',
        'netbox.role': 'data',
      },
    });
    const pools = (await api(url(), 'GET', '/subnet-pools')).body.items;
    expect(pools.map((p: { prefixes: string[] }) => p.prefixes[0]).sort()).toEqual([
      '10.20.0.0/16',
      '2001:db8:20::/48',
    ]);
    const campus = pools.find((p: { prefixes: string[] }) => p.prefixes[0] === '10.20.0.0/16');
    expect(campus.name).toBe('Campus, building A');
    expect(campus.usage.allocatedAddresses).toBe('512'); // two /24s carved from it

    const again = await run(
      'import',
      fixture('netbox-prefixes.csv'),
      '--space',
      'campus',
      '--apply',
      '-o',
      'json',
    );
    expect(again.json().summary).toEqual({
      create: 0,
      exists: 6,
      conflict: 1,
      skip: 1,
      invalid: 0,
    });
    expect((await api(url(), 'GET', '/subnets?space=campus')).body.items).toHaveLength(5);
  });

  it('imports addresses into the subnets that contain them; re-run creates nothing; held ones conflict', async () => {
    const subnets = (await api(url(), 'GET', '/subnets?space=campus')).body.items;
    const users = subnets.find((s: { cidr: string }) => s.cidr === '10.20.1.0/24');
    await api(url(), 'POST', `/subnets/${users.id}/allocations`, {
      ip: '10.20.1.11',
      owner: 'someone-else',
    });

    const table = await run(
      'import',
      fixture('netbox-addresses.csv'),
      '--space',
      'campus',
      '--apply',
    );
    expect(table.code).toBe(4);
    expect(table.stdout).toMatch(
      /Applied \(netbox-addresses into space campus\): 3 created, 0 already there, 2 conflicts, 1 skipped, 0 invalid\./,
    );
    const held = (await api(url(), 'GET', `/subnets/${users.id}/allocations/10.20.1.10`)).body;
    expect(held).toMatchObject({
      owner: 'web-01',
      description: 'Web server',
      tags: { web: '', 'netbox.dns_name': 'web-01.example.com', 'netbox.interface': 'eth0' },
    });

    const again = await run(
      'import',
      fixture('netbox-addresses.csv'),
      '--space',
      'campus',
      '--apply',
      '-o',
      'json',
    );
    expect(actions(again.json().items)).toEqual([
      '2 exists allocation 10.20.1.10',
      '3 conflict allocation 10.20.1.11',
      '4 skip allocation 10.20.1.1',
      '5 exists allocation 10.20.2.20',
      '6 conflict allocation 10.99.0.5',
      '7 exists allocation 2001:db8:20:1::10',
    ]);
    expect((await api(url(), 'GET', `/subnets/${users.id}/allocations`)).body.items).toHaveLength(
      2,
    );
  });

  it('exports the space in the same CSV shape, and the export imports into a new space unchanged', async () => {
    const prefixes = await run('export', '--space', 'campus');
    expect(prefixes.code).toBe(0);
    expect(prefixes.stdout.split('\r\n')).toEqual([
      'prefix,vrf,tenant,status,role,is_pool,description,tags',
      '10.20.0.0/16,,acme,container,,false,"Campus, building A",',
      '10.20.1.0/24,,acme,active,data,false,Floor 1 users,"access,wired"',
      '10.20.2.0/25,,,active,,false,,',
      '10.20.16.0/24,,acme,reserved,,false,Printers,',
      '192.168.50.0/24,,,active,,true,Lab,',
      '2001:db8:20::/48,,,container,,false,IPv6 campus,',
      '2001:db8:20:1::/64,,,active,,false,IPv6 users,ipv6',
      '',
    ]);
    const dir = await mkdtemp(join(tmpdir(), 'ipam-export-'));
    const file = join(dir, 'prefixes.csv');
    await run('export', '--space', 'campus', '--file', file);
    expect(await readFile(file, 'utf8')).toBe(prefixes.stdout);
    const copy = await run('import', file, '--space', 'campus-copy', '--apply', '-o', 'json');
    expect(copy.json().summary).toEqual({ create: 7, exists: 0, conflict: 0, skip: 0, invalid: 0 });

    const addresses = await run('export', '--space', 'campus', '--format', 'netbox-addresses');
    expect(addresses.stdout).toContain(
      'address,vrf,tenant,status,role,device,virtual_machine,interface,dns_name,description,tags',
    );
    expect(addresses.stdout).toContain(
      '10.20.1.10/24,,acme,active,,,web-01,eth0,web-01.example.com,Web server,web',
    );
    expect(addresses.stdout).toContain('10.20.1.11/24,,,active,,,,,someone-else,,');
    const addressFile = join(dir, 'addresses.csv');
    await writeFile(addressFile, addresses.stdout);
    const back = await run('import', addressFile, '--space', 'campus', '-o', 'json');
    expect(back.json().summary).toEqual({ create: 0, exists: 4, conflict: 0, skip: 0, invalid: 0 });
  });
});

describe('ipam import (phpIPAM)', { timeout: SLOW }, () => {
  it('imports a subnet export (master subnets become pools, folders skipped) and an address export', async () => {
    const subnets = await run(
      'import',
      fixture('phpipam-subnets.csv'),
      '--space',
      'cust',
      '--apply',
      '-o',
      'json',
    );
    expect(subnets.code).toBe(0);
    expect(subnets.json().format).toBe('phpipam-subnets');
    expect(actions(subnets.json().items)).toEqual([
      '2 create pool 172.16.0.0/16',
      '3 create subnet 172.16.1.0/24',
      '4 create subnet 172.16.2.0/24',
      '5 skip subnet Servers (folder)',
      '6 create subnet 2001:db8:30::/64',
    ]);
    const addresses = await run(
      'import',
      fixture('phpipam-addresses.csv'),
      '--space',
      'cust',
      '--apply',
      '-o',
      'json',
    );
    expect(addresses.code).toBe(0);
    expect(addresses.json().summary).toEqual({
      create: 2,
      exists: 0,
      conflict: 0,
      skip: 1,
      invalid: 0,
    });
    const db = await run('lookup', '172.16.1.10', '--space', 'cust', '-o', 'json');
    expect(db.json().items[0].allocation).toMatchObject({
      owner: 'team-db',
      description: 'Database A',
      tags: { 'phpipam.hostname': 'db-a.example.com', 'phpipam.note': 'primary, do not move' },
    });
    const rerun = await run(
      'import',
      fixture('phpipam-addresses.csv'),
      '--space',
      'cust',
      '--apply',
      '-o',
      'json',
    );
    expect(rerun.json().summary).toEqual({
      create: 0,
      exists: 2,
      conflict: 0,
      skip: 1,
      invalid: 0,
    });
  });

  it('refuses a file whose format it cannot tell (exit 2), unless --format says', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipam-import-'));
    const file = join(dir, 'odd.csv');
    await writeFile(file, 'network,comment\r\n10.0.0.0/24,x\r\n');
    const odd = await run('import', file, '--space', 'x');
    expect(odd.code).toBe(2);
    expect(odd.stderr).toContain('--format');
  });
});
