/**
 * Screenshots of each console page, written to docs/console-*.png (shown in the README):
 *   npx tsx scripts/screenshots.ts
 * Starts its own `npm start` server (in-memory DynamoDB Local, history on) on a free
 * port, fills it with a few spaces, subnets, allocations and a pool, and photographs the
 * pages in headless Chromium at 1280×800 (and one at 390×844). Not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { launchBrowser } from '../test/support/browser.js';

const OUT = 'docs';

const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
  env: {
    ...process.env,
    PORT: '0',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise<string>((resolve, reject) => {
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
    if (match) resolve(match[1]!);
  });
  child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text === '' ? undefined : JSON.parse(text);
}

try {
  const web = await call('POST', '/subnets', {
    cidr: '10.20.0.0/24',
    name: 'web',
    space: 'prod',
    reuseDelaySeconds: 3600,
  });
  const db = await call('POST', '/subnets', { cidr: '10.20.8.0/24', name: 'db', space: 'prod' });
  const wide = await call('POST', '/subnets', {
    cidr: '10.0.0.0/8',
    name: 'lab-wide',
    space: 'lab',
  });
  for (let i = 0; i < 3; i++)
    await call('POST', `/subnets/${wide.id}/allocations`, { count: 100, owner: 'lab' });
  await call('POST', `/subnets/${wide.id}/allocations`, {
    count: 100,
    strategy: 'sequential',
    ttlSeconds: 3600,
  });
  const v6 = await call('POST', '/subnets', {
    cidr: '2001:db8:40::/64',
    name: 'k8s-pods',
    space: 'lab',
  });
  await call('POST', `/subnets/${web.id}/allocations`, {
    count: 100,
    strategy: 'sequential',
    owner: 'web-asg',
  });
  await call('POST', `/subnets/${web.id}/allocations`, {
    count: 40,
    ttlSeconds: 3600,
    owner: 'dhcp',
  });
  for (const ip of ['10.20.0.7', '10.20.0.8', '10.20.0.9']) {
    await call('DELETE', `/subnets/${web.id}/allocations/${ip}`);
  }
  for (let i = 0; i < 230; i += 46) {
    await call('POST', `/subnets/${db.id}/allocations`, {
      count: 46,
      strategy: 'sequential',
      owner: 'db',
    });
  }
  await call('POST', `/subnets/${v6.id}/allocations`, {
    macAddress: '00:11:22:33:44:55',
    owner: 'node-1',
  });
  await call('POST', `/subnets/${v6.id}/allocations`, { count: 20, owner: 'node-1' });
  const pool = await call('POST', '/subnet-pools', {
    name: 'dc1',
    prefixes: ['172.16.0.0/16'],
    space: 'prod',
    defaultPrefixLength: 24,
  });
  for (const prefixLength of [20, 22, 24, 24, 26]) {
    await call('POST', `/subnet-pools/${pool.id}/subnets`, { prefixLength });
  }
  await call('POST', '/audits', { repair: false });
  await new Promise((resolve) => setTimeout(resolve, 3000)); // history arrives from the stream

  await mkdir(OUT, { recursive: true });
  const browser = await launchBrowser();
  const page = await browser.page();
  const shoot = async (name: string, hash: string, ready: string) => {
    await page.goto(`${url}/${hash}`);
    await page.locator(ready).first().waitFor();
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: `${OUT}/console-${name}.png` });
    console.log(`${OUT}/console-${name}.png`);
  };
  await shoot('subnets', '#/', 'table.subnets tbody tr');
  const grid = 'table.grid td[data-index="255"]';
  await shoot('subnet', `#/subnets/${web.id}`, grid);
  await shoot('map-8', `#/subnets/${wide.id}`, grid);
  await shoot('map-8-zoomed', `#/subnets/${wide.id}?cell=0`, 'table.grid[data-cell="0"] td');
  await shoot('address', `#/subnets/${web.id}?ip=10.20.0.8`, 'ol.history li');
  await shoot('pool', `#/pools/${pool.id}`, '.pool-grid li');
  await shoot('audits', '#/audits', '[data-testid="audit-status"]');
  await shoot('lookup', '#/lookup?q=node-1', 'table.lookup tbody tr');
  await page.setViewportSize({ width: 390, height: 844 });
  await shoot('narrow', `#/subnets/${db.id}`, grid);
  await browser.close();
} finally {
  child.kill('SIGTERM');
}
