import { describe, expect, it } from 'vitest';
import { api } from '../support/server.js';
import { cliSession, SLOW } from './run.js';

// History on: `ipam history` reads what the server's stream poller writes.
const { url, run } = cliSession({ history: true });

describe('ipam subnet', { timeout: SLOW }, () => {
  it('creates a subnet; --output json is exactly the API body', async () => {
    const created = await run(
      'subnet',
      'create',
      '10.1.0.0/24',
      '--name',
      'web',
      '--space',
      'cli',
      '--tag',
      'team=net',
      '-o',
      'json',
    );
    expect(created.code).toBe(0);
    const body = created.json();
    expect(body).toMatchObject({
      cidr: '10.1.0.0/24',
      name: 'web',
      space: 'cli',
      tags: { team: 'net' },
    });
    const direct = await api(url(), 'GET', `/subnets/${body.id}`);
    expect(body).toEqual(direct.body);
  });

  it('lists subnets as a table with a utilisation bar, and as the API page in JSON', async () => {
    const table = await run('subnet', 'list', '--space', 'cli');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /^ID\s+NAME\s+CIDR\s+SPACE\s+GATEWAY\s+USED\s+TOTAL\s+UTILISATION/,
    );
    expect(table.stdout).toMatch(
      /10\.1\.0\.0\/24\s+cli\s+10\.1\.0\.1\s+0\s+253\s+\[-{20}\]\s+0\.0%/,
    );
    const json = await run('subnet', 'list', '--space', 'cli', '-o', 'json');
    expect(json.json()).toEqual((await api(url(), 'GET', '/subnets?space=cli')).body);
    const quiet = await run('subnet', 'list', '--space', 'cli', '-q');
    expect(quiet.stdout.trim().split('\n')).toEqual(
      json.json().items.map((s: { id: string }) => s.id),
    );
  });

  it('sets and changes the release cool-down, and shows what is in it', async () => {
    const created = await run(
      'subnet',
      'create',
      '10.4.0.0/29',
      '--space',
      'cli-cool',
      '--name',
      'cool',
      '--reuse-delay',
      '5m',
      '-o',
      'json',
    );
    expect(created.json().reuseDelaySeconds).toBe(300);
    expect((await run('alloc', 'cool', '--space', 'cli-cool', '--ip', '10.4.0.3')).code).toBe(0);
    expect((await run('release', 'cool', '10.4.0.3', '--space', 'cli-cool')).code).toBe(0);
    const show = await run('subnet', 'show', 'cool', '--space', 'cli-cool');
    expect(show.stdout).toMatch(/reuse delay:\s+300 s\n/);
    expect(show.stdout).toMatch(
      /usage:\s+0 of 5 allocated, 4 available, 0 outside pools, 1 in cool-down\n/,
    );
    const again = await run('alloc', 'cool', '--space', 'cli-cool', '--ip', '10.4.0.3');
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('error: IP_QUARANTINED:');
    const off = await run(
      'subnet',
      'update',
      'cool',
      '--space',
      'cli-cool',
      '--reuse-delay',
      '0',
      '-o',
      'json',
    );
    expect(off.json().reuseDelaySeconds).toBe(0);
    const tooLong = await run(
      'subnet',
      'update',
      'cool',
      '--space',
      'cli-cool',
      '--reuse-delay',
      '2d',
    );
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toContain('error: VALIDATION_ERROR:');
  });

  it('finds a subnet by id, CIDR or name; ambiguous and unknown references are errors', async () => {
    await run('subnet', 'create', '10.1.0.0/24', '--name', 'web', '--space', 'other');
    const byId = (await run('subnet', 'list', '--space', 'cli', '-q')).stdout.trim();
    for (const ref of [byId, '10.1.0.0/24 --space cli', 'web --space cli']) {
      const result = await run('subnet', 'show', ...ref.split(' '), '-o', 'json');
      expect(result.code, ref).toBe(0);
      expect(result.json().id).toBe(byId);
    }
    const ambiguous = await run('subnet', 'show', 'web');
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('ambiguous');
    const unknown = await run('subnet', 'show', '10.9.9.0/24');
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('SUBNET_NOT_FOUND');
    const unknownId = await run('subnet', 'show', 'sub_AAAAAAAAAAAAAAAAAAAAAA');
    expect(unknownId.code).toBe(3);
    expect(unknownId.stderr).toMatch(/^error: SUBNET_NOT_FOUND: /);
  });

  it('shows usage in a table; updates and deletes; API errors keep their code', async () => {
    const show = await run('subnet', 'show', 'web', '--space', 'cli');
    expect(show.stdout).toMatch(/utilisation:\s+\[-{20}\]\s+0\.0%/);
    const updated = await run(
      'subnet',
      'update',
      'web',
      '--space',
      'cli',
      '--name',
      'web2',
      '--pool',
      '10.1.0.10-10.1.0.20',
      '-o',
      'json',
    );
    expect(updated.code).toBe(0);
    expect(updated.json()).toMatchObject({
      name: 'web2',
      allocationPools: [{ start: '10.1.0.10', end: '10.1.0.20' }],
    });
    const overlap = await run('subnet', 'create', '10.1.0.0/25', '--space', 'cli');
    expect(overlap.code).toBe(4);
    expect(overlap.stderr).toContain('error: SUBNET_OVERLAP:');
    expect(overlap.stderr).toContain('conflictingSubnetId');
    const invalid = await run('subnet', 'create', '10.1.0.1/24');
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('INVALID_CIDR');
    const temp = await run('subnet', 'create', '10.2.0.0/24', '--space', 'cli', '-q');
    const id = temp.stdout.trim();
    const deleted = await run('subnet', 'delete', '10.2.0.0/24', '--space', 'cli', '-q');
    expect(deleted).toMatchObject({ code: 0, stdout: `${id}\n` });
    expect((await api(url(), 'GET', `/subnets/${id}`)).status).toBe(404);
  });
});

describe('ipam alloc and release', { timeout: SLOW }, () => {
  it('allocates a specific address; JSON is the API body; taken again is a conflict', async () => {
    const alloc = await run(
      'alloc',
      'web2',
      '--space',
      'cli',
      '--ip',
      '10.1.0.50',
      '--owner',
      'lb-1',
      '--tag',
      'role=lb',
      '-o',
      'json',
    );
    expect(alloc.code).toBe(0);
    const body = alloc.json();
    expect(body.allocations).toHaveLength(1);
    const direct = await api(
      url(),
      'GET',
      `/subnets/${body.allocations[0].subnetId}/allocations/10.1.0.50`,
    );
    expect(body.allocations[0]).toEqual(direct.body);
    const again = await run('alloc', 'web2', '--space', 'cli', '--ip', '10.1.0.50');
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('error: IP_ALREADY_ALLOCATED:');
    const show = await run('alloc', 'show', 'web2', '10.1.0.50', '--space', 'cli', '-o', 'json');
    expect(show.json()).toEqual(direct.body);
  });

  it('allocates several at once (quiet prints the addresses) and lists them like the API', async () => {
    const many = await run(
      'alloc',
      '10.1.0.0/24',
      '--space',
      'cli',
      '--count',
      '3',
      '--strategy',
      'sequential',
      '--owner',
      'ci',
      '-q',
    );
    expect(many.code).toBe(0);
    expect(many.stdout).toBe('10.1.0.10\n10.1.0.11\n10.1.0.12\n');
    const id = (await run('subnet', 'show', 'web2', '--space', 'cli', '-q')).stdout.trim();
    const list = await run('alloc', 'list', 'web2', '--space', 'cli', '-o', 'json');
    expect(list.json()).toEqual((await api(url(), 'GET', `/subnets/${id}/allocations`)).body);
    const byOwner = await run('alloc', 'list', '--owner', 'ci', '-o', 'json');
    expect(byOwner.json()).toEqual((await api(url(), 'GET', '/allocations?owner=ci')).body);
    const table = await run('alloc', 'list', 'web2', '--space', 'cli');
    expect(table.stdout).toMatch(/^IP\s+SUBNET\s+OWNER/);
    expect(table.stdout).toMatch(/10\.1\.0\.50\s+sub_\S+\s+lb-1\s+-\s+role=lb/);
  });

  it('updates an allocation and renews a lease', async () => {
    const updated = await run(
      'alloc',
      'update',
      'web2',
      '10.1.0.50',
      '--space',
      'cli',
      '--description',
      'load balancer',
      '--ttl',
      '1h',
      '-o',
      'json',
    );
    expect(updated.code).toBe(0);
    expect(updated.json()).toMatchObject({
      ip: '10.1.0.50',
      description: 'load balancer',
      owner: 'lb-1',
    });
    expect(updated.json().expiresAt).not.toBeNull();
  });

  it('releases only for the right owner; a released address is not found', async () => {
    const wrong = await run('release', 'web2', '10.1.0.50', '--space', 'cli', '--owner', 'vm-9');
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toContain('error: OWNER_MISMATCH:');
    const released = await run('release', 'web2', '10.1.0.50', '--space', 'cli', '--owner', 'lb-1');
    expect(released.code).toBe(0);
    const gone = await run('alloc', 'show', 'web2', '10.1.0.50', '--space', 'cli');
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('ALLOCATION_NOT_FOUND');
  });

  it('reuses its Idempotency-Key: the same key twice allocates once', async () => {
    const args = [
      'alloc',
      'web2',
      '--space',
      'cli',
      '--owner',
      'retry',
      '--idempotency-key',
      'cli-test-key-1',
      '-o',
      'json',
    ];
    const first = await run(...args);
    const second = await run(...args);
    expect(first.code).toBe(0);
    expect(second.json()).toEqual(first.json());
    const held = await run('alloc', 'list', '--owner', 'retry', '-o', 'json');
    expect(held.json().items).toHaveLength(1);
  });

  it('reports an exhausted subnet as a conflict', async () => {
    await run('subnet', 'create', '10.3.0.0/30', '--space', 'cli', '--name', 'tiny');
    expect((await run('alloc', 'tiny', '--space', 'cli')).code).toBe(0);
    const full = await run('alloc', 'tiny', '--space', 'cli');
    expect(full.code).toBe(4);
    expect(full.stderr).toContain('error: SUBNET_EXHAUSTED:');
  });

  it('looks an address up in every space with GET /addresses/{ip}', async () => {
    const found = await run('lookup', '10.1.0.10', '--space', 'cli', '-o', 'json');
    expect(found.code).toBe(0);
    expect(found.json()).toEqual((await api(url(), 'GET', '/addresses/10.1.0.10?space=cli')).body);
    expect(found.json().items).toEqual([
      expect.objectContaining({
        space: 'cli',
        cidr: '10.1.0.0/24',
        state: 'ALLOCATED',
        inPools: true,
      }),
    ]);
    expect(found.json().items[0].allocation.owner).toBe('ci');
    const gateway = await run('lookup', '10.1.0.1', '--space', 'cli', '-o', 'json');
    expect(gateway.json().items[0]).toMatchObject({ state: 'GATEWAY', allocation: null });
    const none = await run('lookup', '192.0.2.1');
    expect(none).toMatchObject({ code: 0, stdout: 'No subnet contains 192.0.2.1.\n' });
  });

  it("shows an address's history, newest first, as the API lists it", async () => {
    const id = (await run('subnet', 'show', 'web2', '--space', 'cli', '-o', 'json')).json().id;
    const path = `/subnets/${id}/allocations/10.1.0.10/history`;
    // History comes from the change stream: wait (bounded) until the poller wrote it.
    const deadline = Date.now() + 30_000;
    while ((await api(url(), 'GET', path)).body.items.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const history = await run('history', 'web2', '10.1.0.10', '--space', 'cli', '-o', 'json');
    expect(history.code).toBe(0);
    expect(history.json()).toEqual((await api(url(), 'GET', path)).body);
    expect(history.json().items.at(-1)).toMatchObject({ action: 'ALLOCATED', owner: 'ci' });
    const table = await run('history', 'web2', '10.1.0.10', '--space', 'cli');
    expect(table.stdout).toMatch(/^AT\s+ACTION\s+ACTOR\s+OWNER\s+REQUEST\n/);
    expect(table.stdout).toMatch(/ALLOCATED\s+local\s+ci\s+\S+/);
    const unknown = await run('history', 'web2', '10.9.9.9', '--space', 'cli');
    expect(unknown).toMatchObject({ code: 0, stdout: 'No history for 10.9.9.9.\n' });
  });
});
