/**
 * The console's subnet pools (carved and free blocks, carve with a preview), audits and
 * lookup box, in headless Chromium against the real local server.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
let browser: TestBrowser;
let page: Page & { errors: string[] };
let pool: { id: string };
let apps: { id: string };

const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, body);

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  pool = (
    await call('POST', '/subnet-pools', {
      name: 'dc1',
      prefixes: ['10.64.0.0/16'],
      space: 'prod',
      defaultPrefixLength: 24,
    })
  ).body;
  for (const name of ['a', 'b']) {
    expect((await call('POST', `/subnet-pools/${pool.id}/subnets`, { name })).status).toBe(201);
  }
  // In the pool's space but not carved from it: the pool must skip it.
  apps = (
    await call('POST', '/subnets', {
      cidr: '10.64.2.0/24',
      name: 'apps',
      space: 'prod',
      allocationPools: [{ start: '10.64.2.10', end: '10.64.2.20' }],
    })
  ).body;
  await call('POST', `/subnets/${apps.id}/allocations`, { ip: '10.64.2.200', owner: 'db-1' });
  page = await browser.page();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('console: subnet pools', () => {
  it('draws carved, otherwise held and free blocks, and previews and carves the next CIDR', async () => {
    await page.goto(`${server.url}/#/pools`);
    await page.getByRole('link', { name: 'dc1' }).click();
    const block = (cidr: string) => page.locator(`.pool-grid li[data-cidr="${cidr}"] [aria-label]`);
    expect(await block('10.64.0.0/24').getAttribute('aria-label')).toMatch(
      /^10\.64\.0\.0\/24: 256 carved from this pool \(10\.64\.0\.0\/24\)$/,
    );
    expect(await block('10.64.2.0/24').getAttribute('aria-label')).toMatch(
      /256 held by a subnet not from this pool/,
    );
    expect(await block('10.64.3.0/24').getAttribute('aria-label')).toBe(
      '10.64.3.0/24: 256 free to carve',
    );
    expect(await page.locator('.pool-grid li').count()).toBe(256);

    const preview = page.getByTestId('next-cidr');
    const next24 = (await call('GET', `/subnet-pools/${pool.id}/next-cidr?prefixLength=24`)).body;
    await expect.poll(() => preview.textContent()).toBe(next24.cidr);
    await page.getByRole('combobox', { name: 'Prefix length' }).selectOption('26');
    const next26 = (await call('GET', `/subnet-pools/${pool.id}/next-cidr?prefixLength=26`)).body;
    await expect.poll(() => preview.textContent()).toBe(next26.cidr);

    await page.getByRole('textbox', { name: 'Name' }).fill('c');
    await page.getByRole('button', { name: 'Carve' }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Carved' }).textContent())
      .toBe(`Carved ${next26.cidr}`);
    const carved = (await call('GET', '/subnets?space=prod')).body.items.filter(
      (subnet: { poolId?: string }) => subnet.poolId === pool.id,
    );
    expect(
      carved.map((subnet: { cidr: string; name: string }) => [subnet.cidr, subnet.name]),
    ).toContainEqual([next26.cidr, 'c']);
    // The map and the preview follow the carve.
    await expect
      .poll(() => block('10.64.3.0/24').getAttribute('aria-label'))
      .toMatch(/64 carved from this pool, 192 free to carve/);
    const after = (await call('GET', `/subnet-pools/${pool.id}/next-cidr?prefixLength=26`)).body;
    await expect.poll(() => preview.textContent()).toBe(after.cidr);
  });
});

describe('console: audits', () => {
  it('runs an audit and shows its findings grouped by type, as the API reports them', async () => {
    await page.goto(`${server.url}/#/audits`);
    await page.getByText('No audit has run yet.').waitFor();
    const repair = page.getByRole('checkbox', { name: 'Repair what it finds' });
    expect(await repair.isChecked()).toBe(false);
    await repair.check();
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^Repair is on/);
    await page.getByRole('button', { name: 'Run audit and repair' }).waitFor();
    await repair.uncheck();
    await page.getByRole('button', { name: 'Run audit (report only)' }).click();
    await expect.poll(() => page.getByTestId('audit-status').textContent()).toBe('complete');
    const latest = (await call('GET', '/audits/latest')).body;
    expect(latest.repair).toBe(false);
    const types = [...new Set(latest.findings.map((f: { type: string }) => f.type))];
    expect(types).toContain('ALLOCATION_OUTSIDE_POOL');
    const summaries = await page.locator('.finding-group summary').allTextContents();
    expect(summaries).toEqual(
      types.map(
        (type) =>
          `${type} (${latest.findings.filter((f: { type: string }) => f.type === type).length})`,
      ),
    );
    expect(await page.locator('[data-audit-id]').getAttribute('data-audit-id')).toBe(latest.id);
    // A reload shows the latest report.
    await page.reload();
    await expect.poll(() => page.getByTestId('audit-status').textContent()).toBe('complete');
  });
});

describe('console: lookup', () => {
  const lookUp = async (text: string) => {
    await page.goto(`${server.url}/`);
    const box = page.getByRole('searchbox', { name: 'Look up an address, a MAC or an owner' });
    await box.fill(text);
    await box.press('Enter');
  };
  const rows = () =>
    page
      .locator('table.lookup tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('th, td')].map((td) => td.textContent?.trim())),
      );

  it('finds where an address is, with its state and holder', async () => {
    await lookUp('10.64.2.200');
    await expect.poll(rows).toEqual([['10.64.2.0/24', 'prod', 'A ALLOCATED', 'db-1']]);
    await lookUp('10.64.2.201');
    await expect.poll(rows).toEqual([['10.64.2.0/24', 'prod', '× OUTSIDE_POOLS', '—']]);
  });

  it('finds an owner and a MAC across subnets', async () => {
    const v6 = (await call('POST', '/subnets', { cidr: '2001:db8:5::/64', space: 'lab' })).body;
    const made = await call('POST', `/subnets/${v6.id}/allocations`, {
      macAddress: '00-11-22-33-44-55',
      owner: 'db-1',
    });
    const eui = made.body.allocations[0].ip;
    await lookUp('db-1');
    await expect
      .poll(async () => (await rows()).map((row) => row.slice(0, 3)).sort())
      .toEqual([
        ['10.64.2.200', '10.64.2.0/24', 'db-1'],
        [eui, '2001:db8:5::/64', 'db-1'],
      ]);
    await lookUp('0011.2233.4455');
    await expect.poll(rows).toEqual([[eui, '2001:db8:5::/64', 'db-1', '00:11:22:33:44:55', '—']]);
    // The address links to its subnet's page.
    await page.getByRole('link', { name: eui }).click();
    await page.getByRole('heading', { name: '2001:db8:5::/64' }).waitFor();
  });

  it("shows the API's error for a malformed address", async () => {
    await lookUp('10.0.0.256');
    const direct = await call('GET', '/addresses/10.0.0.256');
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe(`${direct.body.error.code} ${direct.body.error.message}`);
  });
});
