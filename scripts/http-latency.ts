/**
 * p50/p99 latency of one allocation over HTTP against a running server:
 *   npm start &   then   npx tsx scripts/http-latency.ts [http://127.0.0.1:3000] [count]
 * Creates a /16 in a fresh space, warms up, then times `count` sequential POSTs.
 */
const url = process.argv[2] ?? 'http://127.0.0.1:3000';
const count = Number(process.argv[3] ?? 500);

async function post(
  path: string,
  body: unknown,
): Promise<{ status: number; body: { id?: string } }> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { id?: string } };
}

const space = `latency-${Date.now()}`;
const subnet = await post('/subnets', { cidr: '10.200.0.0/16', space });
if (subnet.status !== 201 || subnet.body.id === undefined)
  throw new Error(`create failed: ${JSON.stringify(subnet)}`);
const path = `/subnets/${subnet.body.id}/allocations`;
for (let i = 0; i < 100; i++) await post(path, {});
const times: number[] = [];
for (let i = 0; i < count; i++) {
  const start = performance.now();
  const result = await post(path, { owner: 'latency' });
  times.push(performance.now() - start);
  if (result.status !== 201) throw new Error(`allocation failed: ${JSON.stringify(result)}`);
}
times.sort((a, b) => a - b);
const at = (q: number) =>
  times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
console.log(
  `${count} sequential allocations over HTTP: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms`,
);
