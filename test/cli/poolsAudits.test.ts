import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, type RunningServer, startServer } from '../support/server.js';
import { cliSession, ipam, SLOW } from './run.js';

const { url, run } = cliSession();

describe('ipam pool', { timeout: SLOW }, () => {
  it('creates, lists, shows, previews, carves and deletes; JSON is the API body', async () => {
    const created = await run(
      'pool',
      'create',
      '10.64.0.0/16',
      '--space',
      'vpcs',
      '--name',
      'vpcs',
      '--default-length',
      '24',
      '-o',
      'json',
    );
    expect(created.code).toBe(0);
    const pool = created.json();
    expect(pool).toMatchObject({
      prefixes: ['10.64.0.0/16'],
      space: 'vpcs',
      defaultPrefixLength: 24,
    });
    const [list, show, next] = await Promise.all([
      run('pool', 'list', '-o', 'json'),
      run('pool', 'show', 'vpcs', '-o', 'json'),
      run('pool', 'next', '10.64.0.0/16', '--prefix-length', '20', '-o', 'json'),
    ]);
    expect(list.json()).toEqual((await api(url(), 'GET', '/subnet-pools')).body);
    expect(show.json()).toEqual((await api(url(), 'GET', `/subnet-pools/${pool.id}`)).body);
    expect(next.json()).toEqual({ cidr: '10.64.0.0/20' });

    const carved = await run(
      'pool',
      'carve',
      'vpcs',
      '--name',
      'vpc-a',
      '--reuse-delay',
      '5m',
      '-o',
      'json',
    );
    expect(carved.code).toBe(0);
    expect(carved.json()).toMatchObject({
      cidr: '10.64.0.0/24',
      name: 'vpc-a',
      space: 'vpcs',
      reuseDelaySeconds: 300,
    });
    expect(carved.json()).toEqual((await api(url(), 'GET', `/subnets/${carved.json().id}`)).body);
    const table = await run('pool', 'show', pool.id);
    expect(table.stdout).toMatch(/carved:\s+256 of 65536 addresses/);
    expect(table.stdout).toMatch(/utilisation:\s+\[#-{19}\]\s+0\.4%/);

    const inUse = await run('pool', 'delete', 'vpcs');
    expect(inUse.code).toBe(4);
    expect(inUse.stderr).toContain('error: POOL_IN_USE:');
    expect((await run('subnet', 'delete', carved.json().id)).code).toBe(0);
    const deleted = await run('pool', 'delete', 'vpcs', '-q');
    expect(deleted).toMatchObject({ code: 0, stdout: `${pool.id}\n` });
    const gone = await run('pool', 'show', pool.id);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('POOL_NOT_FOUND');
  });

  it('reports an exhausted pool as a conflict and a bad prefix length as usage', async () => {
    await run('pool', 'create', '10.65.0.0/24', '--space', 'small', '--name', 'small');
    expect((await run('pool', 'carve', 'small', '--prefix-length', '24')).code).toBe(0);
    const [full, range] = await Promise.all([
      run('pool', 'next', 'small', '--prefix-length', '24'),
      run('pool', 'carve', 'small', '--prefix-length', '12'),
    ]);
    expect(full.code).toBe(4);
    expect(full.stderr).toContain('error: POOL_EXHAUSTED:');
    expect(range.code).toBe(2);
    expect(range.stderr).toContain('PREFIX_LENGTH_OUT_OF_RANGE');
  });
});

describe('ipam audit', { timeout: SLOW }, () => {
  it('runs an audit to completion and shows stored reports like the API', async () => {
    const audit = await run('audit', 'run', '-o', 'json');
    expect(audit.code).toBe(0);
    const report = audit.json();
    expect(report.status).toBe('complete');
    const [latest, byId, table, missing] = await Promise.all([
      run('audit', 'show', '-o', 'json'),
      run('audit', 'show', report.id, '-o', 'json'),
      run('audit', 'show', 'latest'),
      run('audit', 'show', 'aud_AAAAAAAAAAAAAAAAAAAAAA'),
    ]);
    expect(latest.json()).toEqual((await api(url(), 'GET', '/audits/latest')).body);
    expect(byId.json()).toEqual((await api(url(), 'GET', `/audits/${report.id}`)).body);
    expect(table.stdout).toMatch(/^audit:\s+aud_/);
    expect(table.stdout).toMatch(/status:\s+complete/);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('AUDIT_NOT_FOUND');
  });
});

describe('ipam audit run against a server that answers 202 at once', { timeout: SLOW }, () => {
  // IPAM_AUDIT_WAIT_MS=0: POST /audits answers with the job still running, as in AWS.
  let server: RunningServer | undefined;
  beforeAll(async () => {
    server = await startServer({ env: { IPAM_AUDIT_WAIT_MS: '0' } });
  });
  afterAll(async () => {
    await server?.stop();
  });
  const at = () => {
    if (server === undefined) throw new Error('The local server has not started.');
    return server.url;
  };

  /** Waits until the audit is no longer running (the next test may start one). */
  async function settled(id: string): Promise<{ status: string }> {
    for (let poll = 0; poll < 600; poll++) {
      const { body } = await api(at(), 'GET', `/audits/${id}`);
      const report = body as { status: string };
      if (report.status !== 'running') return report;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`audit ${id} is still running`);
  }

  it('--no-wait prints the started audit (-q: its id) and exits 0', async () => {
    const quiet = await ipam(at(), ['audit', 'run', '--no-wait', '-q']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toMatch(/^aud_[\w-]+\n$/);
    const id = quiet.stdout.trim();
    expect(await settled(id)).toMatchObject({ status: 'complete' });

    const json = await ipam(at(), ['audit', 'run', '--no-wait', '-o', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const started = json.json();
    expect(started.id).toMatch(/^aud_/);
    expect(['running', 'complete']).toContain(started.status);
    expect(json.stderr).toBe('');
    await settled(started.id);
  });

  it('waits for the finished report; progress goes to stderr, one line per poll when not a TTY', async () => {
    const waited = await ipam(at(), ['audit', 'run', '-o', 'json', '--poll-interval', '100']);
    expect(waited.code, waited.stderr).toBe(0);
    const report = waited.json();
    expect(report.status).toBe('complete');
    expect(report).not.toHaveProperty('progress');
    // JSON output: stdout is the report alone, and nothing else is written.
    expect(waited.stderr).toBe('');
    expect((await api(at(), 'GET', `/audits/${report.id}`)).body).toEqual(report);

    const table = await ipam(at(), ['audit', 'run', '--poll-interval', '100']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^audit:\s+aud_/);
    expect(table.stdout).toMatch(/status:\s+complete/);
    for (const line of table.stderr.split('\n').filter((l) => l !== '')) {
      expect(line).toMatch(/^audit aud_[\w-]+: scanned \d+ of ~\d+ items \(\d+ %\)$/);
    }
  });
});

describe('usage and failures', { timeout: SLOW }, () => {
  it('documents the exit codes in --help', async () => {
    const help = await run('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
    for (const code of ['0', '1', '2', '3', '4', '5', '6', '7']) {
      expect(help.stdout).toMatch(new RegExp(`^\\s+${code}\\s+\\S`, 'm'));
    }
    const sub = await run('alloc', '--help');
    expect(sub.stdout).toContain('--strategy');
  });

  it('gives usage errors exit code 2 with a message, never a stack', async () => {
    const cases = await Promise.all([
      run('frobnicate'),
      run('subnet', 'create'),
      run('alloc', 'web', '--count', 'many'),
      run('alloc', 'web', '--strategy', 'worst'),
      run('subnet', 'list', '--output', 'yaml'),
      run('import', 'missing.csv', '--space', 'x'),
      run('--endpoint', 'not a url', 'subnet', 'list'),
    ]);
    for (const result of cases) {
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/^error: /);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('says an unreachable endpoint is unreachable (exit 5)', async () => {
    const down = await ipam('http://127.0.0.1:9', ['subnet', 'list', '--retries', '1']);
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\)/);
    expect(down.stderr).not.toMatch(/\n\s+at /);
  });
});
