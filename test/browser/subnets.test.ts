/**
 * The console's subnets table and allocate/release, in headless Chromium against the
 * real local server: what the page shows is what the API holds, and what the page
 * does the API then agrees with.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
let browser: TestBrowser;
let web: { id: string };
let big: { id: string };
let page: Page & { errors: string[] };

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  const create = async (body: object) => (await api(server.url, 'POST', '/subnets', body)).body;
  web = await create({ cidr: '10.20.0.0/24', name: 'web', space: 'prod' });
  big = await create({ cidr: '10.30.0.0/16', name: 'bulk', space: 'lab' });
  await create({ cidr: '192.168.7.0/28', name: 'edge', space: 'prod', gatewayIp: null });
  // web: 53 of 253 allocated (20.9 %); edge: 4 of 14 (28.6 %); bulk: none.
  for (let i = 0; i < 51; i += 17) {
    const body = { count: 17, strategy: 'sequential', owner: 'seed' };
    expect((await api(server.url, 'POST', `/subnets/${web.id}/allocations`, body)).status).toBe(
      201,
    );
  }
  const edge = (await api(server.url, 'GET', '/subnets?space=prod')).body.items.find(
    (subnet: { name: string }) => subnet.name === 'edge',
  );
  await api(server.url, 'POST', `/subnets/${edge.id}/allocations`, { count: 4 });
  // Two live leases in web: the table's lease column (a /24's map cells are exact).
  await api(server.url, 'POST', `/subnets/${web.id}/allocations`, { count: 2, ttlSeconds: 600 });
  page = await browser.page();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const rowTexts = (p: Page) =>
  p
    .locator('table.subnets tbody tr')
    .evaluateAll((rows) =>
      rows.map((row) =>
        [...row.querySelectorAll('th, td')].map((cell) => cell.textContent?.trim() ?? ''),
      ),
    );

describe('console: subnets', () => {
  it('lists every subnet the API holds, with its gateway and utilisation', async () => {
    await page.goto(`${server.url}/`);
    await page.locator('table.subnets tbody tr').nth(2).waitFor();
    const listed = (await api(server.url, 'GET', '/subnets')).body.items;
    const rows = await rowTexts(page);
    expect(rows).toHaveLength(listed.length);
    for (const subnet of listed) {
      const row = rows.find((cells) => cells[0] === subnet.cidr);
      const percent = Math.round((subnet.usage.allocated * 1000) / subnet.usage.total) / 10;
      expect(row?.slice(0, 5)).toEqual([
        subnet.cidr,
        subnet.name,
        subnet.space,
        subnet.gatewayIp ?? '—',
        `${percent.toFixed(1)}%`,
      ]);
      expect(row?.[5]).toBe(
        `${subnet.usage.allocated.toLocaleString('en')} / ${subnet.usage.total.toLocaleString('en')}`,
      );
    }
    await expect
      .poll(async () => (await rowTexts(page)).find((cells) => cells[0] === '10.20.0.0/24')?.[7])
      .toBe('2');
    expect((await rowTexts(page)).find((cells) => cells[0] === '192.168.7.0/28')?.[7]).toBe('0');
    expect(page.errors).toEqual([]);
  });

  it('filters by search and space, and sorts by utilisation', async () => {
    await page.goto(`${server.url}/`);
    await page.getByRole('searchbox', { name: 'Search' }).fill('bulk');
    await expect
      .poll(async () => (await rowTexts(page)).map((r) => r[0]))
      .toEqual(['10.30.0.0/16']);
    await page.getByRole('searchbox', { name: 'Search' }).fill('');
    await page.getByRole('combobox', { name: 'Space' }).selectOption('prod');
    await expect
      .poll(async () => (await rowTexts(page)).map((r) => r[0]).sort())
      .toEqual(['10.20.0.0/24', '192.168.7.0/28']);
    await page.getByRole('combobox', { name: 'Space' }).selectOption('');
    await page.getByRole('button', { name: /Utilisation/ }).click();
    await expect
      .poll(async () => (await rowTexts(page)).map((r) => r[0]))
      .toEqual(['192.168.7.0/28', '10.20.0.0/24', '10.30.0.0/16']);
    await page.getByRole('button', { name: /Utilisation/ }).click();
    await expect
      .poll(async () => (await rowTexts(page)).map((r) => r[0]))
      .toEqual(['10.30.0.0/16', '10.20.0.0/24', '192.168.7.0/28']);
  });

  it('fits a narrow window: nothing but the tables scrolls sideways', async () => {
    const narrow = await browser.page({ width: 380, height: 800 });
    await narrow.goto(`${server.url}/`);
    await narrow.locator('table.subnets tbody tr').first().waitFor();
    const overflow = await narrow.evaluate(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await narrow.close();
  });
});

describe('console: allocate and release', () => {
  it('allocates from the page, and the API holds what the page reports', async () => {
    await page.goto(`${server.url}/#/subnets/${big.id}`);
    const form = page.locator('form.allocate');
    await form.getByRole('radio', { name: 'sequential' }).check();
    await form.getByRole('spinbutton', { name: 'Count (1–100)' }).fill('3');
    await form.getByRole('textbox', { name: 'Owner' }).fill('vm-console');
    await page.getByRole('button', { name: 'Allocate', exact: true }).click();
    const status = page.getByRole('status').filter({ hasText: 'Allocated' });
    await expect.poll(() => status.textContent()).toBe('Allocated 10.30.0.2, 10.30.0.3, 10.30.0.4');
    const held = (await api(server.url, 'GET', `/subnets/${big.id}/allocations`)).body.items;
    expect(held.map((a: { ip: string; owner: string }) => [a.ip, a.owner])).toEqual([
      ['10.30.0.2', 'vm-console'],
      ['10.30.0.3', 'vm-console'],
      ['10.30.0.4', 'vm-console'],
    ]);
    // The allocations table follows.
    await page.locator('table.allocations tr[data-ip="10.30.0.4"]').waitFor();
  });

  it('releases only after the confirmation, and the API agrees', async () => {
    await page.goto(`${server.url}/#/subnets/${big.id}`);
    await page.getByRole('button', { name: 'Release 10.30.0.3' }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.textContent()).toContain('Release 10.30.0.3?');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await api(server.url, 'GET', `/subnets/${big.id}/allocations/10.30.0.3`)).status).toBe(
      200,
    );
    await page.getByRole('button', { name: 'Release 10.30.0.3' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Release 10.30.0.3' }).click();
    await page.getByRole('status').filter({ hasText: 'Released 10.30.0.3' }).waitFor();
    const gone = await api(server.url, 'GET', `/subnets/${big.id}/allocations/10.30.0.3`);
    expect(gone.body.error.code).toBe('ALLOCATION_NOT_FOUND');
    await page.locator('table.allocations tr[data-ip="10.30.0.3"]').waitFor({ state: 'detached' });
  });

  it("shows the API's error as it is for a taken address", async () => {
    await page.goto(`${server.url}/#/subnets/${web.id}`);
    const form = page.locator('form.allocate');
    await form.getByRole('radio', { name: 'specific address' }).check();
    await form.getByRole('textbox', { name: 'Address' }).fill('10.20.0.5');
    await page.getByRole('button', { name: 'Allocate', exact: true }).click();
    const alert = page.locator('form.allocate [role="alert"]');
    await alert.waitFor();
    const direct = await api(server.url, 'POST', `/subnets/${web.id}/allocations`, {
      ip: '10.20.0.5',
    });
    expect(direct.body.error.code).toBe('IP_ALREADY_ALLOCATED');
    expect(await alert.textContent()).toBe(
      `${direct.body.error.code} ${direct.body.error.message}`,
    );
  });
});
