/**
 * Just enough address math for the client side: matching CIDRs typed by a user
 * against the server's canonical ones, containment and overlap for import plans
 * and lookups. The server stays the judge of validity.
 */

export interface Cidr {
  readonly version: 4 | 6;
  readonly network: bigint;
  readonly length: number;
  /** Canonical text (as the server prints it, except IPv4-mapped IPv6). */
  readonly text: string;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function parseIp(text: string): { version: 4 | 6; value: bigint } | undefined {
  if (V4.test(text)) {
    const value = text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
    return { version: 4, value };
  }
  if (!text.includes(':') || text.includes('%') || text.includes('[')) return undefined;
  let host: string;
  try {
    // WHATWG URL parsing validates IPv6 and prints it compressed (RFC 5952 style).
    host = new URL(`http://[${text}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const [head = '', tail] = host.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  const value = groups.reduce((acc, group) => (acc << 16n) | BigInt(`0x${group}`), 0n);
  return { version: 6, value };
}

export function formatIp(version: 4 | 6, value: bigint): string {
  if (version === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** Parses `a.b.c.d/n` or `v6/n`; with `strict`, host bits must be zero. */
export function parseCidr(text: string, strict = true): Cidr | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,3}$/.test(lengthText)) return undefined;
  const length = Number(lengthText);
  const bits = ip.version === 4 ? 32 : 128;
  if (length > bits) return undefined;
  const hostMask = (1n << BigInt(bits - length)) - 1n;
  if (strict && (ip.value & hostMask) !== 0n) return undefined;
  const network = ip.value & ~hostMask & ((1n << BigInt(bits)) - 1n);
  return {
    version: ip.version,
    network,
    length,
    text: `${formatIp(ip.version, network)}/${length}`,
  };
}

export function lastOf(cidr: Cidr): bigint {
  const bits = cidr.version === 4 ? 32 : 128;
  return cidr.network + (1n << BigInt(bits - cidr.length)) - 1n;
}

export function containsIp(cidr: Cidr, ip: { version: 4 | 6; value: bigint }): boolean {
  return cidr.version === ip.version && ip.value >= cidr.network && ip.value <= lastOf(cidr);
}

/** `inner` lies inside `outer` (or equals it). */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.version === inner.version &&
    outer.length <= inner.length &&
    inner.network >= outer.network &&
    lastOf(inner) <= lastOf(outer)
  );
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && a.network <= lastOf(b) && b.network <= lastOf(a);
}

/** Canonical form of an address typed by a user, or the text itself when unparseable. */
export function canonicalIp(text: string): string {
  const ip = parseIp(text);
  return ip === undefined ? text : formatIp(ip.version, ip.value);
}
