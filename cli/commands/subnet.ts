/** `ipam subnet create|list|show|update|delete` */
import type { Command } from 'commander';
import { action, collectPool, collectTag, duration, integer, type Opts } from '../args.js';
import { expectJson } from '../client.js';
import { type Ctx, listAll, pathOf, resolveSubnet } from '../context.js';
import { bar, dash, fields, json, table, tagsText } from '../output.js';
import type { Page, Subnet } from '../types.js';

export function subnetTable(subnets: readonly Subnet[]): string {
  return table(
    ['ID', 'NAME', 'CIDR', 'SPACE', 'GATEWAY', 'USED', 'TOTAL', 'UTILISATION'],
    subnets.map((s) => [
      s.id,
      dash(s.name),
      s.cidr,
      s.space,
      dash(s.gatewayIp),
      String(s.usage.allocated),
      String(s.usage.total),
      bar(s.usage.allocated, s.usage.total),
    ]),
    new Set([5, 6]),
  );
}

export function subnetFields(s: Subnet): string {
  return fields([
    ['id', s.id],
    ['cidr', s.cidr],
    ['name', dash(s.name)],
    ['space', s.space],
    ['gateway', dash(s.gatewayIp)],
    [
      'pools',
      s.allocationPools.length === 0
        ? '(none)'
        : s.allocationPools.map((p) => `${p.start}-${p.end}`).join(', '),
    ],
    ['tags', dash(tagsText(s.tags))],
    ['reuse delay', s.reuseDelaySeconds ? `${s.reuseDelaySeconds} s` : '-'],
    [
      'usage',
      `${s.usage.allocated} of ${s.usage.total} allocated, ${s.usage.available} available, ${s.usage.outsidePools} outside pools` +
        (s.usage.quarantined === undefined ? '' : `, ${s.usage.quarantined} in cool-down`),
    ],
    ['utilisation', bar(s.usage.allocated, s.usage.total)],
    ['created', s.createdAt],
    ['updated', s.updatedAt],
  ]);
}

export function printSubnet(ctx: Ctx, subnet: Subnet): void {
  if (ctx.out.mode === 'json') json(ctx.out, subnet);
  else if (ctx.out.mode === 'quiet') ctx.out.line(subnet.id);
  else ctx.out.line(subnetFields(subnet));
}

/** The subnet rule fields shared by create, update and carve. */
export function subnetRuleBody(opts: Opts): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (opts.name !== undefined) body.name = opts.name === '' ? null : opts.name;
  if (opts.gateway === false) body.gatewayIp = null;
  else if (typeof opts.gateway === 'string') body.gatewayIp = opts.gateway;
  if (opts.pools === false) body.allocationPools = [];
  else if (opts.pool !== undefined) body.allocationPools = opts.pool;
  if (opts.tag !== undefined) body.tags = opts.tag;
  if (opts.reuseDelay !== undefined) body.reuseDelaySeconds = opts.reuseDelay;
  return body;
}

/** `--reuse-delay` of create, update and carve (the server checks the range: up to a day). */
export function addReuseDelayOption(command: Command): Command {
  return command.option(
    '--reuse-delay <duration>',
    'release cool-down: a released address is not handed out again for this long (seconds or 90s, 15m, 12h, 1d; 0 for none)',
    duration,
  );
}

export function addSubnetRuleOptions(command: Command, verb: 'set' | 'replace'): Command {
  return command
    .option('--name <name>', `${verb} the name ('' clears it on update)`)
    .option('--gateway <ip>', 'gateway address (default: the first address)')
    .option('--no-gateway', 'no gateway')
    .option('--pool <start-end>', 'allocation pool START-END, repeatable', collectPool)
    .option('--no-pools', 'no allocation pools (only specific addresses are handed out)')
    .option('--tag <key=value>', `tag, repeatable (${verb}s the tags)`, collectTag);
}

export function registerSubnet(program: Command): void {
  const subnet = program
    .command('subnet')
    .description('create, list, show, update and delete subnets');

  addSubnetRuleOptions(
    addReuseDelayOption(
      subnet
        .command('create <cidr>')
        .description('create a subnet, e.g. ipam subnet create 10.0.0.0/24 --name web')
        .option('--space <space>', "address space (default 'default')"),
    ),
    'set',
  ).action(
    action(async (ctx, opts, cidr) => {
      const body = { cidr, ...subnetRuleBody(opts), ...(opts.space ? { space: opts.space } : {}) };
      const response = await ctx.client.request('POST', '/subnets', { body, resendable: true });
      printSubnet(ctx, expectJson(response) as Subnet);
    }),
  );

  subnet
    .command('list')
    .alias('ls')
    .description('list subnets with their utilisation')
    .option('--space <space>', 'only this address space')
    .option('--limit <n>', 'one page of this size (default: every page)', integer(1, 1000))
    .option('--cursor <cursor>', 'the page after this cursor (with --limit)')
    .action(
      action(async (ctx, opts) => {
        let page: Page<Subnet>;
        if (opts.limit !== undefined || opts.cursor !== undefined) {
          const response = await ctx.client.request('GET', '/subnets', {
            query: { space: opts.space, limit: opts.limit, cursor: opts.cursor },
          });
          page = expectJson(response) as Page<Subnet>;
        } else {
          page = {
            items: await listAll<Subnet>(ctx.client, '/subnets', { space: opts.space }),
            nextCursor: null,
          };
        }
        if (ctx.out.mode === 'json') json(ctx.out, page);
        else if (ctx.out.mode === 'quiet') for (const s of page.items) ctx.out.line(s.id);
        else {
          ctx.out.line(page.items.length === 0 ? 'No subnets.' : subnetTable(page.items));
          if (page.nextCursor) ctx.out.note(`more: --cursor ${page.nextCursor}`);
        }
      }),
    );

  subnet
    .command('show <subnet>')
    .description('show a subnet (id, CIDR or name) with its usage')
    .option('--space <space>', 'the space of a CIDR or name')
    .action(
      action(async (ctx, opts, ref) => {
        const id = await resolveSubnet(ctx, ref, opts.space);
        const response = await ctx.client.request('GET', pathOf('subnets', id));
        printSubnet(ctx, expectJson(response) as Subnet);
      }),
    );

  addSubnetRuleOptions(
    addReuseDelayOption(
      subnet
        .command('update <subnet>')
        .description(
          'change name, tags, gateway, allocation pools or reuse delay (allocations stay)',
        )
        .option('--space <space>', 'the space of a CIDR or name'),
    ),
    'replace',
  ).action(
    action(async (ctx, opts, ref) => {
      const id = await resolveSubnet(ctx, ref, opts.space);
      const response = await ctx.client.request('PATCH', pathOf('subnets', id), {
        body: subnetRuleBody(opts),
      });
      printSubnet(ctx, expectJson(response) as Subnet);
    }),
  );

  subnet
    .command('delete <subnet>')
    .alias('rm')
    .description('delete a subnet that holds no allocations')
    .option('--space <space>', 'the space of a CIDR or name')
    .action(
      action(async (ctx, opts, ref) => {
        const id = await resolveSubnet(ctx, ref, opts.space);
        await ctx.client.request('DELETE', pathOf('subnets', id));
        if (ctx.out.mode === 'quiet') ctx.out.line(id);
        else if (ctx.out.mode === 'table') ctx.out.line(`Deleted subnet ${id}.`);
      }),
    );
}
