/**
 * Import: reads NetBox and phpIPAM CSV exports into prefixes and addresses, and
 * plans them against what a space already holds. Pure functions (no HTTP), so the
 * same plan drives the dry run and `--apply`, and re-running finds everything done.
 *
 * Nesting never aborts: the outermost prefixes that hold others (or a NetBox
 * `container`) become subnet pools, the leaves inside are carved from them, inner
 * containers are reported and skipped (their leaves go to the outer pool).
 */
import type { CsvTable } from './csv.js';
import { UsageError } from './errors.js';
import { type Cidr, containsCidr, containsIp, overlaps, parseCidr, parseIp } from './ip.js';
import type { Allocation, Pool, Subnet } from './types.js';

export const FORMATS = [
  'netbox-prefixes',
  'netbox-addresses',
  'phpipam-subnets',
  'phpipam-addresses',
] as const;
export type Format = (typeof FORMATS)[number];

export function detectFormat(headers: readonly string[]): Format {
  const has = (name: string) => headers.includes(name);
  if (has('prefix')) return 'netbox-prefixes';
  if (has('address')) return 'netbox-addresses';
  if (has('ip_address') || has('ip_addr')) return 'phpipam-addresses';
  if (has('subnet') && (has('section') || has('mask') || has('master_subnet'))) {
    return 'phpipam-subnets';
  }
  throw new UsageError(
    `cannot tell the format from the header (${headers.join(', ')}); give --format ${FORMATS.join('|')}`,
  );
}

export interface PrefixRow {
  readonly line: number;
  readonly text: string;
  readonly cidr: Cidr | undefined;
  readonly name: string | null;
  readonly tags: Record<string, string>;
  /** The source marks it as a container (NetBox status `container`). */
  readonly container: boolean;
  /** phpIPAM: the CIDR of its master subnet, if any. */
  readonly parent?: string;
  /** Not an address block at all (a phpIPAM folder): reported and skipped. */
  readonly skip?: string;
}

export interface AddressRow {
  readonly line: number;
  readonly text: string;
  readonly ip: string | undefined;
  /** The subnet the source put it in, when it says (a NetBox mask, a phpIPAM subnet). */
  readonly subnet: Cidr | undefined;
  readonly owner: string | null;
  readonly description: string | null;
  readonly tags: Record<string, string>;
  readonly skip?: string;
}

/** NetBox `tags` is a comma-separated list of slugs; each becomes a tag with an empty value. */
function slugTags(text: string | undefined): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const slug of (text ?? '').split(',')) {
    const s = slug.trim();
    if (s === '') continue;
    const eq = s.indexOf('=');
    if (eq > 0) tags[s.slice(0, eq)] = s.slice(eq + 1);
    else tags[s] = '';
  }
  return tags;
}

function prefixed(prefix: string, values: Record<string, string>, names: readonly string[]) {
  const tags: Record<string, string> = {};
  for (const name of names) {
    const value = values[name];
    if (value !== undefined && value !== '' && value !== '/') tags[`${prefix}.${name}`] = value;
  }
  return tags;
}

const NETBOX_PREFIX_TAGS = ['vrf', 'tenant', 'status', 'role', 'vlan', 'scope_type', 'scope_id'];
const NETBOX_ADDRESS_TAGS = [
  'vrf',
  'tenant',
  'status',
  'role',
  'dns_name',
  'device',
  'virtual_machine',
  'interface',
];
const PHPIPAM_SUBNET_TAGS = ['section', 'vlan', 'vlan_domain', 'vrf'];
const PHPIPAM_ADDRESS_TAGS = [
  'section',
  'hostname',
  'mac',
  'device',
  'port',
  'tag',
  'state',
  'note',
];

function truthy(value: string | undefined): boolean {
  return /^(true|yes|1)$/i.test(value ?? '');
}

export function readPrefixes(format: Format, csv: CsvTable): PrefixRow[] {
  return csv.rows.map(({ line, values }) => {
    if (format === 'netbox-prefixes') {
      const text = values.prefix ?? '';
      const tags = {
        ...slugTags(values.tags),
        ...prefixed('netbox', values, NETBOX_PREFIX_TAGS),
        ...(truthy(values.is_pool) ? { 'netbox.is_pool': 'true' } : {}),
      };
      return {
        line,
        text,
        cidr: parseCidr(text),
        name: values.description || null,
        tags,
        container: (values.status ?? '').toLowerCase() === 'container',
      };
    }
    // phpIPAM: "Subnet" is "10.0.0.0/24" (export) or "10.0.0.0" with a "Mask" column
    // (import template); folders are "<description> (folder)".
    const subnet = values.subnet ?? '';
    const text = subnet.includes('/') || !values.mask ? subnet : `${subnet}/${values.mask}`;
    const master = values.master_subnet ?? '';
    const row: PrefixRow = {
      line,
      text,
      cidr: parseCidr(text),
      name: values.description || null,
      tags: prefixed('phpipam', values, PHPIPAM_SUBNET_TAGS),
      container: false,
      ...(master.includes('/') ? { parent: master } : {}),
      ...(/\(folder\)\s*$/.test(subnet) ? { skip: 'a phpIPAM folder, not a subnet' } : {}),
    };
    return row;
  });
}

export function readAddresses(format: Format, csv: CsvTable): AddressRow[] {
  return csv.rows.map(({ line, values }) => {
    if (format === 'netbox-addresses') {
      const text = values.address ?? '';
      const slash = text.indexOf('/');
      const ipText = slash < 0 ? text : text.slice(0, slash);
      return {
        line,
        text,
        ip: parseIp(ipText) ? ipText : undefined,
        subnet: slash < 0 ? undefined : parseCidr(text, false),
        owner: values.virtual_machine || values.device || values.dns_name || null,
        description: values.description || null,
        tags: { ...slugTags(values.tags), ...prefixed('netbox', values, NETBOX_ADDRESS_TAGS) },
      };
    }
    const ipText = values.ip_address ?? values.ip_addr ?? '';
    const gateway = /^(yes|1|true)$/i.test(values.gateway ?? values.is_gateway ?? '');
    return {
      line,
      text: ipText,
      ip: parseIp(ipText) ? ipText : undefined,
      subnet: values.subnet ? parseCidr(values.subnet, false) : undefined,
      owner: values.owner || values.hostname || values.device || null,
      description: values.description || null,
      tags: prefixed('phpipam', values, PHPIPAM_ADDRESS_TAGS),
      ...(gateway ? { skip: 'the gateway of its subnet (set on the subnet, not allocated)' } : {}),
    };
  });
}

export type Action = 'create' | 'exists' | 'conflict' | 'skip' | 'invalid';

export interface PlanItem {
  readonly line: number;
  readonly kind: 'pool' | 'subnet' | 'allocation';
  /** CIDR or address as it will be written. */
  readonly target: string;
  action: Action;
  note: string;
  /** The existing (or, after apply, created) object's id. */
  id?: string;
  /** pool: its name; subnet: name; allocation: unused. */
  readonly name?: string | null;
  readonly tags?: Record<string, string>;
  /** subnet: carve from this pool (plan item or existing pool id). */
  pool?: PlanItem | { id: string; prefix: string };
  /** allocation: the subnet and fields. */
  readonly subnetId?: string;
  readonly owner?: string | null;
  readonly description?: string | null;
}

export interface ExistingState {
  readonly subnets: readonly Subnet[];
  readonly pools: readonly Pool[];
}

const POOL_MIN = { 4: 8, 6: 32 } as const;

/** Plans prefixes: pools (outermost containers), subnets (leaves), and what exists or conflicts. */
export function planPrefixes(rows: readonly PrefixRow[], existing: ExistingState): PlanItem[] {
  const plan: PlanItem[] = [];
  const valid: (PrefixRow & { cidr: Cidr })[] = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    if (row.skip !== undefined) {
      plan.push({
        line: row.line,
        kind: 'subnet',
        target: row.text,
        action: 'skip',
        note: row.skip,
      });
    } else if (row.cidr === undefined) {
      const loose = parseCidr(row.text, false);
      plan.push({
        line: row.line,
        kind: 'subnet',
        target: row.text,
        action: 'invalid',
        note: loose ? `host bits set; the network is ${loose.text}` : 'not a CIDR',
      });
    } else if (seen.has(row.cidr.text)) {
      plan.push({
        line: row.line,
        kind: 'subnet',
        target: row.cidr.text,
        action: 'skip',
        note: `duplicate of line ${seen.get(row.cidr.text)}`,
      });
    } else {
      seen.set(row.cidr.text, row.line);
      valid.push(row as PrefixRow & { cidr: Cidr });
    }
  }
  const masters = new Set(
    valid.flatMap((row) => (row.parent ? [parseCidr(row.parent, false)?.text] : [])),
  );
  const isContainer = (row: PrefixRow & { cidr: Cidr }) =>
    row.container ||
    masters.has(row.cidr.text) ||
    valid.some((other) => other !== row && containsCidr(row.cidr, other.cidr));
  const containers = valid.filter(isContainer);
  const outermost = containers.filter(
    (row) => !containers.some((other) => other !== row && containsCidr(other.cidr, row.cidr)),
  );
  const poolItems = new Map<PrefixRow, PlanItem>();
  const existingPools = existing.pools;
  for (const row of outermost) {
    const item: PlanItem = {
      line: row.line,
      kind: 'pool',
      target: row.cidr.text,
      action: 'create',
      note: 'container: a subnet pool',
      name: row.name,
      tags: row.tags,
    };
    const same = existingPools.find((pool) =>
      pool.prefixes.some((prefix) => parseCidr(prefix)?.text === row.cidr.text),
    );
    const overlapping = existingPools.find((pool) =>
      pool.prefixes.some((prefix) => {
        const p = parseCidr(prefix);
        return p !== undefined && overlaps(p, row.cidr);
      }),
    );
    if (row.cidr.length < POOL_MIN[row.cidr.version]) {
      item.action = 'skip';
      item.note = `container shorter than /${POOL_MIN[row.cidr.version]}: no pool; its subnets are created directly`;
    } else if (same) {
      item.action = 'exists';
      item.note = 'pool with this prefix exists';
      item.id = same.id;
    } else if (overlapping) {
      item.action = 'conflict';
      item.note = `overlaps pool ${overlapping.id} (${overlapping.prefixes.join(',')}); its subnets are created directly`;
    }
    poolItems.set(row, item);
    plan.push(item);
  }
  for (const row of containers) {
    if (poolItems.has(row)) continue;
    const outer = outermost.find((o) => containsCidr(o.cidr, row.cidr));
    plan.push({
      line: row.line,
      kind: 'pool',
      target: row.cidr.text,
      action: 'skip',
      note: `nested container inside ${outer?.cidr.text ?? '?'}: its subnets are carved from that pool`,
    });
  }
  for (const row of valid) {
    if (containers.includes(row)) continue;
    const outer = outermost.find((o) => containsCidr(o.cidr, row.cidr));
    const poolItem = outer ? poolItems.get(outer) : undefined;
    const item: PlanItem = {
      line: row.line,
      kind: 'subnet',
      target: row.cidr.text,
      action: 'create',
      note: '',
      name: row.name,
      tags: row.tags,
    };
    if (poolItem && (poolItem.action === 'create' || poolItem.action === 'exists')) {
      item.pool = poolItem;
      item.note = `carved from pool ${poolItem.target}`;
    }
    const same = existing.subnets.find((s) => parseCidr(s.cidr)?.text === row.cidr.text);
    const overlapping = existing.subnets.find((s) => {
      const c = parseCidr(s.cidr);
      return c !== undefined && overlaps(c, row.cidr);
    });
    if (same) {
      item.action = 'exists';
      item.note = 'subnet with this CIDR exists';
      item.id = same.id;
    } else if (overlapping) {
      item.action = 'conflict';
      item.note = `overlaps subnet ${overlapping.id} (${overlapping.cidr})`;
      item.id = overlapping.id;
    }
    plan.push(item);
  }
  return plan.sort((a, b) => a.line - b.line);
}

/** Plans addresses: the containing subnet of the space, and what is held already. */
export function planAddresses(
  rows: readonly AddressRow[],
  subnets: readonly Subnet[],
  allocations: ReadonlyMap<string, ReadonlyMap<string, Allocation>>,
): PlanItem[] {
  const seen = new Map<string, number>();
  return rows.map((row) => {
    const base = { line: row.line, kind: 'allocation' as const, target: row.text };
    if (row.skip !== undefined) return { ...base, action: 'skip' as const, note: row.skip };
    const ip = row.ip === undefined ? undefined : parseIp(row.ip);
    if (ip === undefined) return { ...base, action: 'invalid' as const, note: 'not an IP address' };
    const subnet = subnets.find((s) => {
      const c = parseCidr(s.cidr);
      return c !== undefined && containsIp(c, ip);
    });
    if (subnet === undefined) {
      return {
        ...base,
        target: row.ip!,
        action: 'conflict' as const,
        note: 'no subnet of the space contains it (import the prefixes first)',
      };
    }
    const key = `${subnet.id} ${ip.value}`;
    const item: PlanItem = {
      ...base,
      target: row.ip!,
      action: 'create',
      note: subnet.cidr,
      subnetId: subnet.id,
      owner: row.owner,
      description: row.description,
      tags: row.tags,
    };
    if (seen.has(key)) {
      item.action = 'skip';
      item.note = `duplicate of line ${seen.get(key)}`;
      return item;
    }
    seen.set(key, row.line);
    if (subnet.gatewayIp !== null && parseIp(subnet.gatewayIp)?.value === ip.value) {
      item.action = 'skip';
      item.note = `the gateway of ${subnet.cidr}`;
      return item;
    }
    const held = [...(allocations.get(subnet.id)?.values() ?? [])].find(
      (a) => parseIp(a.ip)?.value === ip.value,
    );
    if (held) {
      const same = (held.owner ?? null) === (row.owner ?? null);
      item.action = same ? 'exists' : 'conflict';
      item.note = same
        ? `allocated in ${subnet.cidr}`
        : `held by ${JSON.stringify(held.owner)} in ${subnet.cidr}`;
    }
    return item;
  });
}
