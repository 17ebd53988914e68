/** Addresses, CIDRs and MACs (strict parsing, canonical printing, bigint math), ids and randomness. */
export {
  addressKey,
  bitLength,
  type Cidr,
  cidrContains,
  cidrFirst,
  cidrLast,
  cidrSize,
  cidrsOverlap,
  eui64InterfaceId,
  formatCidr,
  formatIp,
  formatMac,
  type IpAddress,
  type IpVersion,
  parseCidr,
  parseIp,
  parseMac,
} from './address.js';
export { isId, newId } from './ids.js';
export { randomBelow, sampleWithoutReplacement } from './random.js';
