/**
 * The console's address map in headless Chromium against the real local server with its
 * stream poller (cells of a block or more come from the summaries it keeps): zooming a
 * /16 down to one address by mouse and by keyboard alone, the address's panel with its
 * history, and how long a /8 and a /64 take to draw (logged, not asserted).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../support/browser.js';
import { api, type RunningServer, startServer } from '../support/server.js';

let server: RunningServer;
let browser: TestBrowser;
let page: Page & { errors: string[] };
let sixteen: string;

const call = (method: string, path: string, body?: unknown) => api(server.url, method, path, body);

async function subnet(body: Record<string, unknown>): Promise<string> {
  const created = await call('POST', '/subnets', body);
  expect(created.status).toBe(201);
  return created.body.id;
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startServer({ history: true }), launchBrowser()]);
  sixteen = await subnet({ cidr: '10.50.0.0/16', space: 'map', reuseDelaySeconds: 3600 });
  const allocate = (body: object) => call('POST', `/subnets/${sixteen}/allocations`, body);
  expect((await allocate({ ip: '10.50.3.7', owner: 'vm-7' })).status).toBe(201);
  expect((await allocate({ ip: '10.50.3.8', ttlSeconds: 3600 })).status).toBe(201);
  expect((await allocate({ ip: '10.50.3.9' })).status).toBe(201);
  expect((await call('DELETE', `/subnets/${sixteen}/allocations/10.50.3.9`)).status).toBe(204);
  page = await browser.page();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const cell = (index: number) => page.locator(`table.grid td[data-index="${index}"]`);
/** The grid once it shows this level (`?cell=` path; '' for the top). */
const level = (path: string) => page.locator(`table.grid[data-cell="${path}"]`).waitFor();
const crumbs = () => page.locator('nav.crumbs li').allTextContents();

describe('console: address map', () => {
  it('zooms a /16 down to one address, each level as the API counts it', async () => {
    await page.goto(`${server.url}/#/subnets/${sixteen}`);
    await cell(255).waitFor();
    expect(await page.locator('table.grid td.cell').count()).toBe(256);
    // The summaries trail the writes by the stream's delay: reload until they arrive.
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh map' }).click();
          return cell(3).getAttribute('aria-label');
        },
        { timeout: 30_000 },
      )
      .toBe(
        '10.50.3.0/24: 1 allocated, 1 leased (live lease), 1 quarantined (cool-down), 253 free (in the pools)',
      );
    const top = (await call('GET', `/subnets/${sixteen}/map`)).body;
    expect(top.cells[3]).toMatchObject({ allocated: 1, leased: 1, quarantined: 1, free: 253 });

    await cell(3).click();
    await level('3');
    expect(await crumbs()).toEqual(['10.50.0.0/16', '10.50.3.0/24']);
    expect(await cell(7).getAttribute('data-state')).toBe('allocated');
    expect(await cell(8).getAttribute('data-state')).toBe('leased');
    expect(await cell(9).getAttribute('data-state')).toBe('quarantined');
    expect(await cell(10).getAttribute('data-state')).toBe('free');
    expect(await cell(7).textContent()).toBe('A');
    expect(await cell(9).textContent()).toBe('Q');

    await cell(7).click();
    await expect
      .poll(() => page.getByTestId('address-state').textContent())
      .toMatch(/ALLOCATED — Allocated/);
    const panel = page.locator('section.address');
    expect(await panel.locator('dd').allTextContents()).toContain('vm-7');
    // History is written from the change stream: it appears within seconds.
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Refresh map' }).click();
          return panel.locator('ol.history li').allTextContents();
        },
        { timeout: 30_000 },
      )
      .toEqual([expect.stringMatching(/ALLOCATED by local \(owner vm-7\)$/)]);

    await page.getByRole('button', { name: '10.50.0.0/16' }).click();
    await level('');
    expect(await crumbs()).toEqual(['10.50.0.0/16']);
    expect(await cell(255).getAttribute('aria-label')).toMatch(/^10\.50\.255\.0\/24: 255 free/);
  });

  it('is navigable by keyboard alone: Tab in, arrows, Enter down, Backspace up', async () => {
    await page.goto(`${server.url}/#/subnets/${sixteen}`);
    await page.reload(); // a fresh page: nothing focused yet
    await level('');
    const focused = () =>
      page.evaluate(
        'document.activeElement?.dataset?.index ?? document.activeElement?.tagName ?? null',
      );
    let tabs = 0;
    while ((await page.evaluate('document.activeElement?.classList.contains("cell")')) !== true) {
      await page.keyboard.press('Tab');
      tabs++;
      expect(tabs).toBeLessThan(40);
    }
    expect(await focused()).toBe('0');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    expect(await focused()).toBe('3');
    await page.keyboard.press('Enter');
    await level('3');
    expect(await crumbs()).toEqual(['10.50.0.0/16', '10.50.3.0/24']);
    await expect.poll(focused).toBe('0');
    await page.keyboard.press('End');
    expect(await focused()).toBe('255');
    await page.keyboard.press('Home');
    for (let i = 0; i < 7; i++) await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.evaluate('location.hash'))
      .toBe(`#/subnets/${sixteen}?cell=3&ip=10.50.3.7`);
    await page.getByTestId('address-state').waitFor();
    // Focus stays on the map; Backspace goes up a level, back to the cell it came from.
    expect(await focused()).toBe('7');
    await page.keyboard.press('Backspace');
    await level('');
    await expect.poll(focused).toBe('3');
    await page.keyboard.press('Enter');
    await level('3');
    await page.keyboard.press('Escape');
    await level('');
    expect(await crumbs()).toEqual(['10.50.0.0/16']);
  });

  it('draws a /8 and a /64 (render times logged)', async () => {
    const eight = await subnet({ cidr: '10.0.0.0/8', space: 'map-wide' });
    const v6 = await subnet({ cidr: '2001:db8:99::/64', space: 'map-wide' });
    await call('POST', `/subnets/${eight}/allocations`, { count: 20 });
    await call('POST', `/subnets/${v6}/allocations`, { count: 20 });
    const timings: string[] = [];
    for (const [name, id, size, inner] of [
      ['/8', eight, '65,536', '10.1.0.0/16'],
      ['/64', v6, '2^56', '2001:db8:99:0:100::/72'],
    ] as const) {
      const start = Date.now();
      await page.goto(`${server.url}/#/subnets/${id}`);
      await page.locator('table.grid[data-cell=""] td[data-index="255"]').waitFor();
      const wall = Date.now() - start;
      const measured = await page.evaluate(
        "performance.getEntriesByName('map-render').at(-1)?.duration ?? null",
      );
      expect(await page.locator('table.grid td.cell').count()).toBe(256);
      expect(await page.locator('.map .hint').textContent()).toContain(
        `256 cells of ${size} addresses`,
      );
      const zoomStart = Date.now();
      await cell(1).click();
      await page.locator('table.grid[data-cell="1"] td[data-index="255"]').waitFor();
      expect((await crumbs())[1]).toBe(inner);
      const zoom = Date.now() - zoomStart;
      const zoomMeasured = await page.evaluate(
        "performance.getEntriesByName('map-render').at(-1)?.duration ?? null",
      );
      timings.push(
        `${name}: first map ${Math.round(Number(measured))} ms (request to grid; page load to grid ${wall} ms), one level down ${Math.round(Number(zoomMeasured))} ms (click to grid ${zoom} ms)`,
      );
    }
    console.log(`map render times in Chromium: ${timings.join('; ')}`);
  });
});
