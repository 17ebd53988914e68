/** `ipam pool create|list|show|carve|next|delete` */
import type { Command } from 'commander';
import { action, collectTag, integer } from '../args.js';
import { expectJson } from '../client.js';
import { type Ctx, listAll, pathOf, resolvePool } from '../context.js';
import { bar, dash, fields, json, table, tagsText } from '../output.js';
import type { Page, Pool, Subnet } from '../types.js';
import {
  addReuseDelayOption,
  addSubnetRuleOptions,
  printSubnet,
  subnetRuleBody,
} from './subnet.js';

function poolFields(p: Pool): string {
  return fields([
    ['id', p.id],
    ['name', dash(p.name)],
    ['space', p.space],
    ['prefixes', p.prefixes.join(', ')],
    [
      'prefix lengths',
      `/${p.minPrefixLength}-/${p.maxPrefixLength}, default /${p.defaultPrefixLength}`,
    ],
    ['tags', dash(tagsText(p.tags))],
    ['carved', `${p.usage.allocatedAddresses} of ${p.usage.totalAddresses} addresses`],
    ['utilisation', bar(p.usage.allocatedAddresses, p.usage.totalAddresses)],
  ]);
}

function printPool(ctx: Ctx, pool: Pool): void {
  if (ctx.out.mode === 'json') json(ctx.out, pool);
  else if (ctx.out.mode === 'quiet') ctx.out.line(pool.id);
  else ctx.out.line(poolFields(pool));
}

export function registerPool(program: Command): void {
  const pool = program.command('pool').description('subnet pools: prefixes to carve subnets from');

  pool
    .command('create <prefix...>')
    .description('create a pool, e.g. ipam pool create 10.64.0.0/16 --space vpcs --name vpcs')
    .option('--name <name>', 'name')
    .option('--space <space>', "address space of the carved subnets (default 'default')")
    .option('--default-length <n>', 'prefix length of a carve by default', integer(0, 128))
    .option('--min-length <n>', 'shortest prefix length a carve may ask for', integer(0, 128))
    .option('--max-length <n>', 'longest prefix length a carve may ask for', integer(0, 128))
    .option('--tag <key=value>', 'tag, repeatable', collectTag)
    .action(
      action(async (ctx, opts, ...prefixes) => {
        // commander hands a variadic argument as one array.
        const list = prefixes.flat();
        const body: Record<string, unknown> = { prefixes: list };
        if (opts.name !== undefined) body.name = opts.name;
        if (opts.space !== undefined) body.space = opts.space;
        if (opts.defaultLength !== undefined) body.defaultPrefixLength = opts.defaultLength;
        if (opts.minLength !== undefined) body.minPrefixLength = opts.minLength;
        if (opts.maxLength !== undefined) body.maxPrefixLength = opts.maxLength;
        if (opts.tag !== undefined) body.tags = opts.tag;
        const response = await ctx.client.request('POST', '/subnet-pools', { body });
        printPool(ctx, expectJson(response) as Pool);
      }),
    );

  pool
    .command('list')
    .alias('ls')
    .description('list subnet pools')
    .option('--space <space>', 'only this space (filtered by the CLI)')
    .action(
      action(async (ctx, opts) => {
        const items = (await listAll<Pool>(ctx.client, '/subnet-pools')).filter(
          (p) => opts.space === undefined || p.space === opts.space,
        );
        const page: Page<Pool> = { items, nextCursor: null };
        if (ctx.out.mode === 'json') json(ctx.out, page);
        else if (ctx.out.mode === 'quiet') for (const p of items) ctx.out.line(p.id);
        else if (items.length === 0) ctx.out.line('No subnet pools.');
        else {
          ctx.out.line(
            table(
              ['ID', 'NAME', 'SPACE', 'PREFIXES', 'DEFAULT', 'CARVED'],
              items.map((p) => [
                p.id,
                dash(p.name),
                p.space,
                p.prefixes.join(','),
                `/${p.defaultPrefixLength}`,
                bar(p.usage.allocatedAddresses, p.usage.totalAddresses),
              ]),
            ),
          );
        }
      }),
    );

  pool
    .command('show <pool>')
    .description('show a pool (id, prefix or name) with its usage')
    .option('--space <space>', 'the space of a prefix or name')
    .action(
      action(async (ctx, opts, ref) => {
        const id = await resolvePool(ctx, ref, opts.space);
        printPool(
          ctx,
          expectJson(await ctx.client.request('GET', pathOf('subnet-pools', id))) as Pool,
        );
      }),
    );

  addSubnetRuleOptions(
    addReuseDelayOption(
      pool
        .command('carve <pool>')
        .description('carve the next free subnet from a pool (best fit, lowest first)')
        .option(
          '--prefix-length <n>',
          "the subnet's prefix length (default: the pool's)",
          integer(0, 128),
        )
        .option('--cidr <cidr>', 'this exact CIDR instead')
        .option('--space <space>', 'the space of a prefix or name'),
    ),
    'set',
  ).action(
    action(async (ctx, opts, ref) => {
      const id = await resolvePool(ctx, ref, opts.space);
      const body: Record<string, unknown> = subnetRuleBody(opts);
      if (opts.prefixLength !== undefined) body.prefixLength = opts.prefixLength;
      if (opts.cidr !== undefined) body.cidr = opts.cidr;
      const response = await ctx.client.request('POST', `${pathOf('subnet-pools', id)}/subnets`, {
        body,
      });
      printSubnet(ctx, expectJson(response) as Subnet);
    }),
  );

  pool
    .command('next <pool>')
    .description('preview the CIDR the next carve would take (takes nothing)')
    .option('--prefix-length <n>', "prefix length (default: the pool's)", integer(0, 128))
    .option('--space <space>', 'the space of a prefix or name')
    .action(
      action(async (ctx, opts, ref) => {
        const id = await resolvePool(ctx, ref, opts.space);
        const response = await ctx.client.request(
          'GET',
          `${pathOf('subnet-pools', id)}/next-cidr`,
          {
            query: { prefixLength: opts.prefixLength },
          },
        );
        const body = expectJson(response) as { cidr: string };
        if (ctx.out.mode === 'json') json(ctx.out, body);
        else ctx.out.line(body.cidr);
      }),
    );

  pool
    .command('delete <pool>')
    .alias('rm')
    .description('delete a pool none of whose carved subnets still exist')
    .option('--space <space>', 'the space of a prefix or name')
    .action(
      action(async (ctx, opts, ref) => {
        const id = await resolvePool(ctx, ref, opts.space);
        await ctx.client.request('DELETE', pathOf('subnet-pools', id));
        if (ctx.out.mode === 'quiet') ctx.out.line(id);
        else if (ctx.out.mode === 'table') ctx.out.line(`Deleted subnet pool ${id}.`);
      }),
    );
}
