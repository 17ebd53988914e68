/**
 * `ipam console`: the real executable serves the console and forwards its API calls to
 * a local capture server, signed; the expected signature is computed from scratch from
 * what the capture server received (test/support/sigv4Expect.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  expectedSigV4Authorization,
  type ReceivedRequest,
  sha256,
} from '../support/sigv4Expect.js';
import { SLOW } from './run.js';

const BIN = fileURLToPath(new URL('../../cli/bin.mjs', import.meta.url));
const KEY = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  region: 'eu-west-1',
  service: 'execute-api',
};
const CREDENTIAL_ENV = {
  AWS_ACCESS_KEY_ID: KEY.accessKeyId,
  AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
  AWS_SESSION_TOKEN: 'session-token-example',
  AWS_CONFIG_FILE: '/nonexistent/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
};

let capture: http.Server;
let base: string;
let received: ReceivedRequest[] = [];
let proxy: { url: string; child: ChildProcess; exited: Promise<number | null> };

/** Starts `ipam console …` and waits for the URL it prints. */
async function startConsole(args: string[]) {
  const child = spawn(process.execPath, [BIN, 'console', ...args], {
    env: {
      ...process.env,
      ...CREDENTIAL_ENV,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /ipam console on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`exited with ${code}:\n${output}`)));
  });
  return { url, child, exited, output: () => output };
}

function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>(
    (resolve, reject) => {
      const request = http.request(
        url,
        { method: init.method ?? 'GET', headers: init.headers ?? {} },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        },
      );
      request.on('error', reject);
      if (init.body !== undefined) request.write(init.body);
      request.end();
    },
  );
}

beforeAll(async () => {
  capture = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.method === 'POST') {
        res.writeHead(409, { 'content-type': 'application/json', 'x-request-id': 'req-1' });
        res.end(
          '{"error":{"code":"IP_ALREADY_ALLOCATED","message":"10.0.0.5 is held.","details":{}}}',
        );
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'not=forwarded' });
        res.end('{"items":[],"nextCursor":null}');
      }
    });
  });
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(capture.address() as AddressInfo).port}`;
  proxy = await startConsole([
    '--endpoint',
    `${base}/prod`,
    '--port',
    '0',
    '--sign',
    '--region',
    KEY.region,
  ]);
}, SLOW);

afterAll(async () => {
  proxy?.child.kill('SIGTERM');
  await proxy?.exited;
  await new Promise((resolve) => capture.close(resolve));
});

beforeEach(() => {
  received = [];
});

describe('ipam console', { timeout: SLOW }, () => {
  it('serves the console page and its bundle', async () => {
    const page = await send(proxy.url);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('<script type="module" src="/console/app.js">');
    const script = await send(`${proxy.url}console/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    expect(script.text.length).toBeGreaterThan(1000);
    expect(received).toEqual([]);
  });

  it('forwards an API call under the endpoint path, signed with SigV4', async () => {
    const answer = await send(`${proxy.url}subnets?space=a%20b&limit=1000`, {
      headers: { accept: 'application/json', cookie: 'session=secret' },
    });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('{"items":[],"nextCursor":null}');
    expect(answer.headers['set-cookie']).toBeUndefined();
    const [req] = received;
    expect(req!.url).toBe('/prod/subnets?space=a%20b&limit=1000');
    expect(req!.headers.cookie).toBeUndefined();
    expect(req!.headers['x-amz-security-token']).toBe(CREDENTIAL_ENV.AWS_SESSION_TOKEN);
    expect(req!.headers.authorization).toBe(expectedSigV4Authorization(req!, KEY));
    // An IPv6 address in the path: sent as the page encoded it, signed encoded twice.
    await send(`${proxy.url}subnets/sub_x/allocations/2001%3Adb8%3A%3A5/history`);
    expect(received[1]!.url).toBe('/prod/subnets/sub_x/allocations/2001%3Adb8%3A%3A5/history');
    expect(received[1]!.headers.authorization).toBe(expectedSigV4Authorization(received[1]!, KEY));
  });

  it('signs a POST body and hands the API error back as it came', async () => {
    const body = '{"ip":"10.0.0.5"}';
    const answer = await send(`${proxy.url}subnets/sub_x/allocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: proxy.url.slice(0, -1) },
      body,
    });
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.text).error.code).toBe('IP_ALREADY_ALLOCATED');
    expect(answer.headers['x-request-id']).toBe('req-1');
    const [req] = received;
    expect(req!.body).toBe(body);
    expect(req!.headers['x-amz-content-sha256']).toBe(sha256(body));
    expect(req!.headers.authorization).toBe(expectedSigV4Authorization(req!, KEY));
  });

  it('refuses other sites and other host names, before signing anything', async () => {
    const port = new URL(proxy.url).port;
    const rebound = await send(`${proxy.url}subnets`, {
      headers: { host: `evil.example:${port}` },
    });
    const crossSite = await send(`${proxy.url}subnets/sub_x/allocations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: '{}',
    });
    const form = await send(`${proxy.url}subnets`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"cidr":"10.0.0.0/8"}',
    });
    for (const refused of [rebound, crossSite, form]) {
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.text).error.code).toBe('PROXY_FORBIDDEN');
    }
    expect(received).toEqual([]);
  });

  it('says so when the port is taken (exit 2)', async () => {
    const port = new URL(proxy.url).port;
    const second = spawn(process.execPath, [BIN, 'console', '--endpoint', base, '--port', port], {
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    second.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => second.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(
      new RegExp(`^error: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\)`),
    );
  });
});
