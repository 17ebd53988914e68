/** `ipam import FILE --space S [--apply]` and `ipam export --space S` */
import { readFile, writeFile } from 'node:fs/promises';
import { type Command, Option } from 'commander';
import { action } from '../args.js';
import { expectJson } from '../client.js';
import { type Ctx, listAll, pathOf } from '../context.js';
import { parseCsv, toCsv } from '../csv.js';
import { ApiError, CliError, ExitCode, UsageError } from '../errors.js';
import {
  type Action,
  detectFormat,
  FORMATS,
  type Format,
  type PlanItem,
  planAddresses,
  planPrefixes,
  readAddresses,
  readPrefixes,
} from '../importPlan.js';
import { parseCidr } from '../ip.js';
import { json, table } from '../output.js';
import { progressBar } from '../progress.js';
import type { Allocation, Pool, Subnet } from '../types.js';

async function spaceState(ctx: Ctx, space: string) {
  const [subnets, pools] = await Promise.all([
    listAll<Subnet>(ctx.client, '/subnets', { space }),
    listAll<Pool>(ctx.client, '/subnet-pools'),
  ]);
  return { subnets, pools: pools.filter((pool) => pool.space === space) };
}

/** Writes one planned item; afterwards its action says what happened. */
async function apply(ctx: Ctx, item: PlanItem, space: string): Promise<void> {
  try {
    if (item.kind === 'pool') {
      const body = {
        prefixes: [item.target],
        space,
        ...(item.name ? { name: item.name } : {}),
        ...(item.tags && Object.keys(item.tags).length > 0 ? { tags: item.tags } : {}),
      };
      const pool = expectJson(await ctx.client.request('POST', '/subnet-pools', { body })) as Pool;
      item.id = pool.id;
    } else if (item.kind === 'subnet') {
      const body: Record<string, unknown> = {
        cidr: item.target,
        ...(item.name ? { name: item.name } : {}),
        ...(item.tags && Object.keys(item.tags).length > 0 ? { tags: item.tags } : {}),
      };
      const poolId = item.pool?.id;
      let subnet: Subnet | undefined;
      if (poolId !== undefined) {
        try {
          subnet = expectJson(
            await ctx.client.request('POST', `${pathOf('subnet-pools', poolId)}/subnets`, { body }),
          ) as Subnet;
        } catch (error) {
          // An existing pool whose prefix lengths do not admit it: create it directly.
          if (!(error instanceof ApiError && error.code === 'PREFIX_LENGTH_OUT_OF_RANGE'))
            throw error;
          item.note = `${item.note}; outside the pool's prefix lengths, created directly`;
        }
      }
      subnet ??= expectJson(
        await ctx.client.request('POST', '/subnets', {
          body: { ...body, space },
          resendable: true,
        }),
      ) as Subnet;
      item.id = subnet.id;
    } else {
      const body = {
        ip: item.target,
        ...(item.owner ? { owner: item.owner } : {}),
        ...(item.description ? { description: item.description } : {}),
        ...(item.tags && Object.keys(item.tags).length > 0 ? { tags: item.tags } : {}),
      };
      await ctx.client.request('POST', `${pathOf('subnets', item.subnetId!)}/allocations`, {
        body,
        resendable: true,
      });
    }
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    // Never abort an import: the row is reported with the API's answer.
    item.action = error.code === 'IP_RESERVED' ? 'skip' : 'conflict';
    item.note = `${error.code}: ${error.apiMessage}`;
  }
}

const ACTIONS: readonly Action[] = ['create', 'exists', 'conflict', 'skip', 'invalid'];

export function registerImportExport(program: Command): void {
  program
    .command('import <file>')
    .description(
      'import a NetBox or phpIPAM CSV export into a space (dry run unless --apply; re-runs create nothing twice)',
    )
    .requiredOption('--space <space>', 'the address space to import into')
    .addOption(
      new Option('--format <format>', 'the file format (default: from the header)').choices(
        FORMATS,
      ),
    )
    .option('--apply', 'write (default: dry run, print what would be created and what conflicts)')
    .option(
      '--containers <mode>',
      'pool: containers become subnet pools; skip: report them only',
      'pool',
    )
    .action(
      action(async (ctx, opts, file) => {
        if (opts.containers !== 'pool' && opts.containers !== 'skip') {
          throw new UsageError('--containers is pool or skip');
        }
        let text: string;
        try {
          text = await readFile(file, 'utf8');
        } catch (error) {
          throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`);
        }
        const csv = parseCsv(text);
        const format: Format = opts.format ?? detectFormat(csv.headers);
        const space: string = opts.space;
        const state = await spaceState(ctx, space);
        let plan: PlanItem[];
        if (format === 'netbox-prefixes' || format === 'phpipam-subnets') {
          plan = planPrefixes(readPrefixes(format, csv), state);
          if (opts.containers === 'skip') {
            for (const item of plan) {
              if (item.kind === 'pool' && item.action !== 'skip') {
                item.action = 'skip';
                item.note = 'container (--containers skip)';
              }
              if (item.kind === 'subnet' && item.pool) {
                item.pool = undefined;
                item.note = item.note.replace(/^carved from pool \S+/, '');
              }
            }
          }
        } else {
          const allocations = new Map<string, Map<string, Allocation>>();
          const rows = readAddresses(format, csv);
          const draft = planAddresses(rows, state.subnets, allocations);
          for (const subnetId of new Set(draft.flatMap((i) => (i.subnetId ? [i.subnetId] : [])))) {
            const held = await listAll<Allocation>(
              ctx.client,
              `${pathOf('subnets', subnetId)}/allocations`,
            );
            allocations.set(subnetId, new Map(held.map((a) => [a.ip, a])));
          }
          plan = planAddresses(rows, state.subnets, allocations);
        }
        if (opts.apply) {
          // Pools first: the subnets carved from them need their ids.
          const todo = [
            ...plan.filter((i) => i.kind === 'pool' && i.action === 'create'),
            ...plan.filter((i) => i.kind !== 'pool' && i.action === 'create'),
          ];
          const progress = progressBar(
            todo.length,
            process.stderr.isTTY === true && ctx.out.mode !== 'json',
          );
          for (const item of todo) {
            progress.tick(item.target);
            if (item.pool && item.pool.id === undefined) {
              item.pool = undefined; // its pool could not be created: create the subnet directly
            }
            await apply(ctx, item, space);
          }
          progress.done();
        }
        const counts = Object.fromEntries(
          ACTIONS.map((a) => [a, plan.filter((i) => i.action === a).length]),
        );
        if (ctx.out.mode === 'json') {
          json(ctx.out, {
            format,
            space,
            dryRun: !opts.apply,
            items: plan.map(({ pool: _pool, ...item }) => item),
            summary: counts,
          });
        } else if (ctx.out.mode === 'quiet') {
          for (const item of plan)
            if (opts.apply && item.action === 'create' && item.id) ctx.out.line(item.id);
        } else {
          const verb = opts.apply ? 'created' : 'create';
          ctx.out.line(
            table(
              ['LINE', 'ACTION', 'KIND', 'TARGET', 'NAME/OWNER', 'NOTE'],
              plan.map((i) => [
                String(i.line),
                i.action === 'create' ? verb : i.action,
                i.kind,
                i.target,
                (i.kind === 'allocation' ? i.owner : i.name) ?? '-',
                i.note,
              ]),
              new Set([0]),
            ),
          );
          ctx.out.line('');
          ctx.out.line(
            `${opts.apply ? 'Applied' : 'Dry run'} (${format} into space ${space}): ${counts.create} ${opts.apply ? 'created' : 'to create'}, ${counts.exists} already there, ${counts.conflict} conflicts, ${counts.skip} skipped, ${counts.invalid} invalid.${opts.apply ? '' : ' Add --apply to write.'}`,
          );
        }
        if (counts.conflict! > 0 || counts.invalid! > 0) {
          throw new CliError(
            `not imported: ${counts.conflict} conflicting and ${counts.invalid} invalid rows (see above)`,
            ExitCode.CONFLICT,
          );
        }
      }),
    );

  program
    .command('export')
    .description(
      'write a space as NetBox CSV: prefixes (pools as containers, subnets) or addresses',
    )
    .requiredOption('--space <space>', 'the address space')
    .addOption(
      new Option('--format <format>', 'what to write')
        .choices(['netbox-prefixes', 'netbox-addresses'])
        .default('netbox-prefixes'),
    )
    .option('--file <path>', 'write here instead of stdout')
    .action(
      action(async (ctx, opts) => {
        const { subnets, pools } = await spaceState(ctx, opts.space);
        let csv: string;
        if (opts.format === 'netbox-prefixes') {
          const rows: { cidr: string; row: string[] }[] = [];
          for (const pool of pools) {
            for (const prefix of pool.prefixes) {
              rows.push({
                cidr: prefix,
                row: prefixRow(prefix, pool.name, pool.tags, 'container'),
              });
            }
          }
          for (const s of subnets)
            rows.push({ cidr: s.cidr, row: prefixRow(s.cidr, s.name, s.tags) });
          rows.sort((a, b) => compareCidr(a.cidr, b.cidr));
          csv = toCsv(
            ['prefix', 'vrf', 'tenant', 'status', 'role', 'is_pool', 'description', 'tags'],
            rows.map((r) => r.row),
          );
        } else {
          const rows: string[][] = [];
          for (const s of subnets) {
            const length = s.cidr.split('/')[1];
            for (const a of await listAll<Allocation>(
              ctx.client,
              `${pathOf('subnets', s.id)}/allocations`,
            )) {
              const t = a.tags;
              const device = t['netbox.device'] ?? '';
              const vm = t['netbox.virtual_machine'] ?? '';
              // The owner comes back where import reads it from: the VM, the device, or dns_name.
              const ownerShown =
                a.owner === null || a.owner === (vm || device || t['netbox.dns_name']);
              rows.push([
                `${a.ip}/${length}`,
                t['netbox.vrf'] ?? '',
                t['netbox.tenant'] ?? '',
                t['netbox.status'] ?? 'active',
                t['netbox.role'] ?? '',
                device,
                vm,
                t['netbox.interface'] ?? '',
                ownerShown ? (t['netbox.dns_name'] ?? '') : (a.owner ?? ''),
                a.description ?? '',
                plainTags(t),
              ]);
            }
          }
          csv = toCsv(
            [
              'address',
              'vrf',
              'tenant',
              'status',
              'role',
              'device',
              'virtual_machine',
              'interface',
              'dns_name',
              'description',
              'tags',
            ],
            rows,
          );
        }
        if (opts.file) {
          await writeFile(opts.file, csv);
          ctx.out.note(`wrote ${opts.file}`);
        } else process.stdout.write(csv);
      }),
    );
}

function plainTags(tags: Record<string, string>): string {
  return Object.entries(tags)
    .filter(([key]) => !key.startsWith('netbox.') && !key.startsWith('phpipam.'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => (value === '' ? key : `${key}=${value}`))
    .join(',');
}

function prefixRow(
  cidr: string,
  name: string | null,
  tags: Record<string, string>,
  status?: string,
): string[] {
  return [
    cidr,
    tags['netbox.vrf'] ?? '',
    tags['netbox.tenant'] ?? '',
    status ?? tags['netbox.status'] ?? 'active',
    tags['netbox.role'] ?? '',
    tags['netbox.is_pool'] === 'true' ? 'true' : 'false',
    name ?? '',
    plainTags(tags),
  ];
}

function compareCidr(a: string, b: string): number {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return a.localeCompare(b);
  if (x.version !== y.version) return x.version - y.version;
  if (x.network !== y.network) return x.network < y.network ? -1 : 1;
  return x.length - y.length;
}
