/**
 * IP addresses, CIDRs and MAC addresses: strict parsing, canonical printing and
 * the bigint arithmetic the rest of the domain builds on.
 *
 * Two layers. Our strict gate decides what is valid — exactly what Python's
 * `ipaddress` accepts, minus zone ids — and says why it refuses. Only text the gate
 * has passed reaches ipaddr.js, which does the byte work (parsing to octets and
 * groups, RFC 5952 printing). ipaddr.js alone is lenient (`010.0.0.1` as octal,
 * `192.168.1` as three octets), so it never decides validity.
 */
import ipaddr from 'ipaddr.js';
import { InvalidCidrError, InvalidIpError, InvalidMacError } from '../errors.js';

/** The IP version of an address or CIDR. */
export type IpVersion = 4 | 6;

/** A parsed IP address: its version and its numeric value. */
export interface IpAddress {
  readonly version: IpVersion;
  readonly value: bigint;
}

/** A CIDR block in canonical form: `network` has no host bits set. */
export interface Cidr {
  readonly version: IpVersion;
  readonly network: bigint;
  readonly prefixLength: number;
}

/** Outcome of an internal parse step: a value, or the reason the text was refused. */
type Parsed<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

const IPV4_EXAMPLE = 'e.g. 192.0.2.10';
const IPV6_EXAMPLE = 'e.g. 2001:db8::10';
const IPV4_OCTET_RULE = 'IPv4 octets are decimal 0-255 without leading zeros';
const IPV6_GROUP_COUNT = 8;
/** `::ffff:0:0/96`: IPv4-mapped addresses, printed in mixed notation (RFC 5952 §5). */
const IPV4_MAPPED_PREFIX = 0xffffn;
/** Longest input echoed back in an error message, so a huge input cannot bloat a response. */
const MAX_QUOTED_LENGTH = 64;

/**
 * The number of bits in an address of this version.
 *
 * @param version - 4 or 6
 * @returns 32 for IPv4, 128 for IPv6
 */
export function bitLength(version: IpVersion): 32 | 128 {
  return version === 4 ? 32 : 128;
}

/**
 * Parses an IPv4 or IPv6 address strictly (see the module comment for the rules).
 *
 * @param text - dotted-decimal IPv4 (`192.0.2.1`) or RFC 4291 IPv6 (`2001:db8::1`,
 *   `::ffff:192.0.2.1`), without zone id, brackets or whitespace
 * @returns the version and numeric value
 * @throws InvalidIpError saying what is wrong and what to write instead
 */
export function parseIp(text: string): IpAddress {
  const parsed = readIp(text);
  if (!parsed.ok) {
    throw new InvalidIpError(`${quote(text)} is not a valid IP address: ${parsed.reason}.`);
  }
  return parsed.value;
}

/**
 * Prints an address canonically: IPv4 dotted decimal; IPv6 per RFC 5952 (lowercase,
 * no leading zeros, the first longest run of two or more zero groups as `::`, and
 * IPv4-mapped addresses in mixed notation such as `::ffff:192.0.2.1`).
 *
 * @param ip - an address whose value fits its version
 * @returns the canonical text
 * @throws RangeError if the value does not fit the version
 */
export function formatIp(ip: IpAddress): string {
  assertFits(ip.value, bitLength(ip.version), 'IP address');
  if (ip.version === 4) return formatIpv4(ip.value);
  if (ip.value >> 32n === IPV4_MAPPED_PREFIX) return `::ffff:${formatIpv4(ip.value & 0xffffffffn)}`;
  return formatIpv6(ip.value);
}

/**
 * Parses `<address>/<prefix length>` strictly: the address as {@link parseIp}, the
 * prefix length in decimal without leading zeros (0-32 or 0-128), no netmask, no
 * whitespace. Host bits must be clear.
 *
 * @param text - e.g. `10.0.0.0/24` or `2001:db8::/32`
 * @returns the CIDR
 * @throws InvalidCidrError saying what is wrong and what to write instead; when the
 *   only problem is host bits set, `details.suggestion` holds the network CIDR
 */
export function parseCidr(text: string): Cidr {
  const fail = (reason: string, details?: Record<string, unknown>): never => {
    throw new InvalidCidrError(`${quote(text)} is not a valid CIDR: ${reason}.`, details);
  };
  if (/\s/.test(text)) return fail('it contains whitespace; remove it');
  const slash = text.indexOf('/');
  if (slash < 0) {
    const example = text.includes(':') ? '2001:db8::/64' : '10.0.0.0/24';
    return fail(`a prefix length is required: write <address>/<prefix length>, e.g. ${example}`);
  }
  const address = readIp(text.slice(0, slash));
  if (!address.ok) return fail(`the address part is wrong: ${address.reason}`);

  const { version, value } = address.value;
  const prefix = readPrefixLength(text.slice(slash + 1), version, value);
  if (!prefix.ok) return fail(prefix.reason);

  const network = value & ~hostMask(version, prefix.value);
  if (network !== value) {
    const suggestion = formatCidr({ version, network, prefixLength: prefix.value });
    return fail(`host bits are set; the network is ${suggestion}, write that instead`, {
      suggestion,
    });
  }
  return { version, network, prefixLength: prefix.value };
}

/**
 * Prints a CIDR canonically, e.g. `10.0.0.0/24` or `2001:db8::/32`.
 *
 * @param cidr - the CIDR
 * @returns `<canonical network address>/<prefix length>`
 */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ version: cidr.version, value: cidr.network })}/${cidr.prefixLength}`;
}

/**
 * The first address of a CIDR.
 *
 * @param cidr - the CIDR
 * @returns the network address value
 */
export function cidrFirst(cidr: Cidr): bigint {
  return cidr.network;
}

/**
 * The last address of a CIDR (the IPv4 broadcast address).
 *
 * @param cidr - the CIDR
 * @returns the network address with every host bit set
 */
export function cidrLast(cidr: Cidr): bigint {
  return cidr.network | hostMask(cidr.version, cidr.prefixLength);
}

/**
 * The number of addresses in a CIDR.
 *
 * @param cidr - the CIDR
 * @returns 2^(bits - prefix length)
 */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(bitLength(cidr.version) - cidr.prefixLength);
}

/**
 * Whether an address lies in a CIDR.
 *
 * @param cidr - the CIDR
 * @param ip - the address
 * @returns true if `ip` is in `cidr`; false for an address of the other version
 */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  return ip.version === cidr.version && ip.value >= cidrFirst(cidr) && ip.value <= cidrLast(cidr);
}

/**
 * Whether two CIDRs share at least one address.
 *
 * @param a - one CIDR
 * @param b - the other CIDR
 * @returns true if they overlap; false for CIDRs of different versions
 */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.version === b.version && cidrFirst(a) <= cidrLast(b) && cidrFirst(b) <= cidrLast(a);
}

/**
 * Parses a MAC address written as `00:11:22:33:44:55`, `00-11-22-33-44-55` or
 * `0011.2233.4455` (Cisco), in upper or lower case. Bare `001122334455` is refused:
 * a separator shows the reader it is a MAC and not some other hex number.
 *
 * @param text - the MAC address
 * @returns its 48-bit value
 * @throws InvalidMacError saying what is wrong and what to write instead
 */
export function parseMac(text: string): bigint {
  // The back-reference \1 makes all five separators the same character.
  const macPattern =
    /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$|^(?:[0-9a-f]{4}\.){2}[0-9a-f]{4}$/i;
  if (macPattern.test(text)) return BigInt(`0x${text.replace(/[:.-]/g, '')}`);
  const hint = /^[0-9a-f]{12}$/i.test(text)
    ? 'separators are required'
    : /\s/.test(text)
      ? 'it must not contain whitespace'
      : 'it must be six pairs of hex digits all separated by colons or all by hyphens, or three groups of four separated by dots';
  throw new InvalidMacError(
    `${quote(text)} is not a valid MAC address: ${hint}; write e.g. 00:11:22:33:44:55.`,
  );
}

/**
 * Prints a MAC address as six lowercase hex pairs separated by colons.
 *
 * @param mac - a 48-bit value
 * @returns e.g. `00:11:22:33:44:55`
 * @throws RangeError if the value does not fit in 48 bits
 */
export function formatMac(mac: bigint): string {
  assertFits(mac, 48, 'MAC address');
  return mac.toString(16).padStart(12, '0').match(/../g)!.join(':');
}

/**
 * The modified EUI-64 interface identifier of a MAC address (RFC 4291 Appendix A):
 * `ff:fe` inserted between its two halves and the universal/local bit flipped.
 *
 * @param mac - a 48-bit value
 * @returns the 64-bit interface identifier, e.g. `0x021122fffe334455` for
 *   `00:11:22:33:44:55`
 * @throws RangeError if the value does not fit in 48 bits
 */
export function eui64InterfaceId(mac: bigint): bigint {
  assertFits(mac, 48, 'MAC address');
  const universalLocalBit = 0x02n << 56n;
  const withFffe = ((mac >> 24n) << 40n) | (0xfffen << 24n) | (mac & 0xffffffn);
  return withFffe ^ universalLocalBit;
}

/**
 * A sort key for an address: fixed-width lowercase hex, so that lexical order is
 * numeric order within a version (for database sort keys).
 *
 * @param ip - the address
 * @returns 8 hex digits for IPv4, 32 for IPv6
 */
export function addressKey(ip: IpAddress): string {
  return ip.value.toString(16).padStart(bitLength(ip.version) / 4, '0');
}

// --- Parsing ---------------------------------------------------------------------

function readIp(text: string): Parsed<IpAddress> {
  if (text === '') {
    return refuse(`it is empty; write an IPv4 (${IPV4_EXAMPLE}) or IPv6 (${IPV6_EXAMPLE}) address`);
  }
  if (/\s/.test(text)) return refuse('it contains whitespace; remove it');
  if (text.includes(':')) return mapParsed(readIpv6(text), (value) => ({ version: 6, value }));
  return mapParsed(readIpv4(text), (value) => ({ version: 4, value }));
}

function readIpv4(text: string): Parsed<bigint> {
  const problem = ipv4Problem(text);
  return problem === undefined ? { ok: true, value: ipv4Value(text) } : refuse(problem);
}

/** The gate for dotted-decimal IPv4: why the text is refused, or undefined if it passes. */
function ipv4Problem(text: string): string | undefined {
  const octets = text.split('.');
  if (octets.length === 1) {
    return /^[0-9]+$/.test(text)
      ? `an IPv4 address is written as four decimal octets, not one integer (${IPV4_EXAMPLE})`
      : `write an IPv4 (${IPV4_EXAMPLE}) or IPv6 (${IPV6_EXAMPLE}) address`;
  }
  if (octets.length !== 4) {
    return `an IPv4 address has exactly four octets separated by dots, not ${octets.length} (${IPV4_EXAMPLE})`;
  }
  for (const octet of octets) {
    const problem = ipv4OctetProblem(octet);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function ipv4OctetProblem(octet: string): string | undefined {
  if (octet === '') return `an octet is empty; ${IPV4_OCTET_RULE} (${IPV4_EXAMPLE})`;
  // ASCII digits only: refuses look-alikes such as `１` (fullwidth) and `٣` (Arabic-Indic).
  if (!/^[0-9]+$/.test(octet)) return `${quote(octet)} is not a decimal octet; ${IPV4_OCTET_RULE}`;
  if ((octet.length > 1 && octet.startsWith('0')) || Number(octet) > 255) return IPV4_OCTET_RULE;
  return undefined;
}

/** The value of text the IPv4 gate passed, read by ipaddr.js. */
function ipv4Value(text: string): bigint {
  // The gate is stricter than ipaddr.js, so ipaddr.js refusing gated text is a defect.
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) {
    throw new Error(`ipaddr.js refuses ${quote(text)}, which the IPv4 gate passed.`);
  }
  return fromParts(ipaddr.IPv4.parse(text).octets, 8n);
}

function readIpv6(text: string): Parsed<bigint> {
  const problem = ipv6ShapeProblem(text) ?? ipv6GroupsProblem(text);
  if (problem !== undefined) return refuse(problem);
  return { ok: true, value: ipv6Value(text) };
}

/**
 * The value of text the IPv6 gate passed, read by ipaddr.js. An embedded IPv4 tail
 * is read by ipaddr.js's IPv4 parser and handed on as two hex groups, because its
 * IPv6 parser reads the deprecated `::a.b.c.d` as `::ffff:a.b.c.d`, another address.
 */
function ipv6Value(text: string): bigint {
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  const hexText = tail.includes('.')
    ? text.slice(0, lastColon + 1) +
      toParts(ipv4Value(tail), 2, 16n)
        .map((group) => group.toString(16))
        .join(':')
    : text;
  return fromParts(ipaddr.IPv6.parse(hexText).parts, 16n);
}

/** Problems of the text as a whole, checked first so each gets its own message. */
function ipv6ShapeProblem(text: string): string | undefined {
  if (text.includes('%')) {
    return `zone ids are not accepted; write the address without '%' and what follows (e.g. fe80::1)`;
  }
  if (text.startsWith('[') || text.endsWith(']')) return `remove the brackets (${IPV6_EXAMPLE})`;
  if (text.includes(':::')) {
    return `':::' is not allowed; write '::' for a run of zero groups (${IPV6_EXAMPLE})`;
  }
  if (text.split('::').length > 2) return `'::' may appear only once (${IPV6_EXAMPLE})`;
  if (/^:(?!:)/.test(text)) {
    return `it starts with a single ':'; write '::' or start with a group (${IPV6_EXAMPLE})`;
  }
  if (/(?<!:):$/.test(text)) {
    return `it ends with a single ':'; write '::' or end with a group (${IPV6_EXAMPLE})`;
  }
  return undefined;
}

/** Each group well formed, and as many as an address has (fewer only with `::`). */
function ipv6GroupsProblem(text: string): string | undefined {
  // Split at the `::`, if any: `head` is the groups before it, `tail` the groups after it.
  const pieces = text.split('::');
  const compressed = pieces.length === 2;
  const head = countIpv6Groups(pieces[0] ?? '', !compressed);
  if (!head.ok) return head.reason;
  const tail = countIpv6Groups(pieces[1] ?? '', true);
  if (!tail.ok) return tail.reason;

  const written = head.value + tail.value;
  if (compressed && written >= IPV6_GROUP_COUNT) {
    return `'::' stands for at least one zero group, but ${written} groups are already written; an IPv6 address has 8 (${IPV6_EXAMPLE})`;
  }
  if (!compressed && written !== IPV6_GROUP_COUNT) {
    return `it has ${written} groups; an IPv6 address has 8 groups of 1-4 hex digits, or fewer with '::' (${IPV6_EXAMPLE})`;
  }
  return undefined;
}

/**
 * Checks the colon-separated groups on one side of `::` (or of an address without
 * `::`) and counts them. An embedded IPv4 address may stand in for the last two
 * groups, but only at the very end of the address, which is the end of `text` when
 * `endsAddress`.
 */
function countIpv6Groups(text: string, endsAddress: boolean): Parsed<number> {
  if (text === '') return { ok: true, value: 0 };
  let count = 0;
  const parts = text.split(':');
  for (const [index, part] of parts.entries()) {
    if (endsAddress && index === parts.length - 1 && part.includes('.')) {
      const problem = ipv4Problem(part);
      if (problem !== undefined) return refuse(`the embedded IPv4 address is wrong: ${problem}`);
      count += 2;
    } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
      count += 1;
    } else {
      return refuse(ipv6GroupProblem(part));
    }
  }
  return { ok: true, value: count };
}

function ipv6GroupProblem(group: string): string {
  if (group.includes('.')) {
    return `an embedded IPv4 address may only stand at the end (e.g. ::ffff:192.0.2.1)`;
  }
  if (/^[0-9a-f]+$/i.test(group)) return `the group ${quote(group)} is longer than 4 hex digits`;
  return `${quote(group)} is not a group of 1-4 hex digits (${IPV6_EXAMPLE})`;
}

/** Reads the text after the `/`; `value` is the address, to phrase a netmask hint. */
function readPrefixLength(text: string, version: IpVersion, value: bigint): Parsed<number> {
  const bits = bitLength(version);
  if (!/^[0-9]+$/.test(text)) {
    const prefix = version === 4 ? ipv4NetmaskPrefix(text) : undefined;
    if (prefix === undefined) return refuse(`the prefix length must be a decimal number 0-${bits}`);
    const network = formatCidr({
      version,
      network: value & ~hostMask(version, prefix),
      prefixLength: prefix,
    });
    return refuse(`netmasks are not accepted; write the prefix length instead: ${network}`);
  }
  if (text.length > 1 && text.startsWith('0')) {
    return refuse(`the prefix length is written without leading zeros (/${Number(text)})`);
  }
  const prefix = Number(text);
  if (prefix > bits) {
    return refuse(`the prefix length ${text} is out of range: IPv${version} allows 0-${bits}`);
  }
  return { ok: true, value: prefix };
}

/** The prefix length a dotted netmask stands for, if it is one (`255.255.255.0` → 24). */
function ipv4NetmaskPrefix(text: string): number | undefined {
  const mask = readIpv4(text);
  if (!mask.ok) return undefined;
  for (let prefix = 0; prefix <= 32; prefix++) {
    if (mask.value === (~hostMask(4, prefix) & 0xffffffffn)) return prefix;
  }
  return undefined;
}

// --- Formatting and helpers ------------------------------------------------------

function formatIpv4(value: bigint): string {
  return new ipaddr.IPv4(toParts(value, 4, 8n)).toString();
}

/** RFC 5952 §4 (lowercase, no leading zeros, first longest run of 2+ zero groups as `::`). */
function formatIpv6(value: bigint): string {
  return new ipaddr.IPv6(toParts(value, IPV6_GROUP_COUNT, 16n)).toRFC5952String();
}

/** Big-endian parts of `width` bits each (octets or groups) to one value. */
function fromParts(parts: readonly number[], width: bigint): bigint {
  return parts.reduce((acc, part) => (acc << width) | BigInt(part), 0n);
}

/** One value to `count` big-endian parts of `width` bits each. */
function toParts(value: bigint, count: number, width: bigint): number[] {
  const mask = (1n << width) - 1n;
  return Array.from({ length: count }, (_, index) =>
    Number((value >> (width * BigInt(count - 1 - index))) & mask),
  );
}

/** The host part of a CIDR as a mask: its low `bits - prefixLength` bits set. */
function hostMask(version: IpVersion, prefixLength: number): bigint {
  return (1n << BigInt(bitLength(version) - prefixLength)) - 1n;
}

function assertFits(value: bigint, bits: number, what: string): void {
  if (value < 0n || value >> BigInt(bits) !== 0n) {
    throw new RangeError(`${value} does not fit in the ${bits} bits of a ${what}.`);
  }
}

function refuse<T>(reason: string): Parsed<T> {
  return { ok: false, reason };
}

function mapParsed<T, U>(parsed: Parsed<T>, map: (value: T) => U): Parsed<U> {
  return parsed.ok ? { ok: true, value: map(parsed.value) } : parsed;
}

/** Quotes user input for a message, JSON-style, shortened if long. */
function quote(text: string): string {
  return JSON.stringify(
    text.length > MAX_QUOTED_LENGTH ? `${text.slice(0, MAX_QUOTED_LENGTH)}…` : text,
  );
}
