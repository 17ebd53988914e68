/** `ipam alloc`, `ipam release`, `ipam lookup`, `ipam history` */
import { type Command, Option } from 'commander';
import { action, collectTag, duration, integer } from '../args.js';
import { expectJson } from '../client.js';
import { type Ctx, listAll, pathOf, resolveSubnet } from '../context.js';
import { UsageError } from '../errors.js';
import { dash, fields, json, table, tagsText } from '../output.js';
import type { Allocation, Page } from '../types.js';

function allocationTable(allocations: readonly Allocation[]): string {
  return table(
    ['IP', 'SUBNET', 'OWNER', 'DESCRIPTION', 'TAGS', 'MAC', 'EXPIRES'],
    allocations.map((a) => [
      a.ip,
      a.subnetId,
      dash(a.owner),
      dash(a.description),
      dash(tagsText(a.tags)),
      dash(a.macAddress),
      dash(a.expiresAt),
    ]),
  );
}

function allocationFields(a: Allocation): string {
  return fields([
    ['ip', a.ip],
    ['subnet', a.subnetId],
    ['owner', dash(a.owner)],
    ['description', dash(a.description)],
    ['tags', dash(tagsText(a.tags))],
    ['mac', dash(a.macAddress)],
    ['created', a.createdAt],
    ['expires', dash(a.expiresAt)],
  ]);
}

function printAllocation(ctx: Ctx, allocation: Allocation): void {
  if (ctx.out.mode === 'json') json(ctx.out, allocation);
  else if (ctx.out.mode === 'quiet') ctx.out.line(allocation.ip);
  else ctx.out.line(allocationFields(allocation));
}

const spaceOption = () => new Option('--space <space>', 'the space of a subnet CIDR or name');

export function registerAlloc(program: Command): void {
  const alloc = program
    .command('alloc')
    .description('allocate addresses: ipam alloc <subnet> [options]; also alloc show|list|update')
    .argument('[subnet]', 'subnet id, CIDR or name')
    .option('--ip <ip>', 'this exact address')
    .option('--count <n>', '1-100 addresses at once, all or nothing', integer(1, 100))
    .addOption(
      new Option('--strategy <strategy>', 'how free addresses are picked').choices([
        'random',
        'sequential',
      ]),
    )
    .option('--mac <mac>', 'IPv6 /64 only: the EUI-64 address of this MAC')
    .option('--ttl <duration>', 'a lease: seconds, or 90s/15m/12h/7d', duration)
    .option('--owner <owner>', 'who holds it (instance, port, pod)')
    .option('--description <text>', 'free text')
    .option('--tag <key=value>', 'tag, repeatable', collectTag)
    .addOption(spaceOption())
    .action(
      action(async (ctx, opts, ref) => {
        if (ref === undefined) {
          throw new UsageError('ipam alloc needs a subnet: ipam alloc <subnet> [options]');
        }
        const id = await resolveSubnet(ctx, ref, opts.space);
        const body: Record<string, unknown> = {};
        if (opts.ip !== undefined) body.ip = opts.ip;
        if (opts.count !== undefined) body.count = opts.count;
        if (opts.strategy !== undefined) body.strategy = opts.strategy;
        if (opts.mac !== undefined) body.macAddress = opts.mac;
        if (opts.ttl !== undefined) body.ttlSeconds = opts.ttl;
        if (opts.owner !== undefined) body.owner = opts.owner;
        if (opts.description !== undefined) body.description = opts.description;
        if (opts.tag !== undefined) body.tags = opts.tag;
        const response = await ctx.client.request('POST', `${pathOf('subnets', id)}/allocations`, {
          body,
          resendable: true,
        });
        const result = expectJson(response) as { allocations: Allocation[] };
        if (ctx.out.mode === 'json') json(ctx.out, result);
        else if (ctx.out.mode === 'quiet') for (const a of result.allocations) ctx.out.line(a.ip);
        else ctx.out.line(allocationTable(result.allocations));
      }),
    );

  alloc
    .command('show <subnet> <ip>')
    .description('show one allocation')
    .addOption(spaceOption())
    .action(
      action(async (ctx, opts, ref, ip) => {
        const id = await resolveSubnet(ctx, ref, opts.space);
        const response = await ctx.client.request('GET', pathOf('subnets', id, 'allocations', ip));
        printAllocation(ctx, expectJson(response) as Allocation);
      }),
    );

  alloc
    .command('list [subnet]')
    .alias('ls')
    .description("list a subnet's allocations, or with --owner alone one owner's across subnets")
    .option('--owner <owner>', 'only this owner')
    .addOption(spaceOption())
    .action(
      action(async (ctx, opts, ref) => {
        let items: Allocation[];
        if (ref !== undefined) {
          const id = await resolveSubnet(ctx, ref, opts.space);
          items = await listAll<Allocation>(ctx.client, `${pathOf('subnets', id)}/allocations`, {
            owner: opts.owner,
          });
        } else if (opts.owner !== undefined) {
          items = await listAll<Allocation>(ctx.client, '/allocations', { owner: opts.owner });
        } else {
          throw new UsageError('give a subnet, or --owner to list one owner across subnets');
        }
        const page: Page<Allocation> = { items, nextCursor: null };
        if (ctx.out.mode === 'json') json(ctx.out, page);
        else if (ctx.out.mode === 'quiet') for (const a of items) ctx.out.line(a.ip);
        else ctx.out.line(items.length === 0 ? 'No allocations.' : allocationTable(items));
      }),
    );

  alloc
    .command('update <subnet> <ip>')
    .description('change owner, description, tags (replaced), or renew a lease with --ttl')
    .option('--owner <owner>', "new owner ('' clears it)")
    .option('--description <text>', "new description ('' clears it)")
    .option('--tag <key=value>', 'tag, repeatable (replaces the tags)', collectTag)
    .option('--ttl <duration>', 'renew the lease for this long', duration)
    .addOption(spaceOption())
    .action(
      action(async (ctx, opts, ref, ip) => {
        const id = await resolveSubnet(ctx, ref, opts.space);
        const body: Record<string, unknown> = {};
        if (opts.owner !== undefined) body.owner = opts.owner === '' ? null : opts.owner;
        if (opts.description !== undefined) {
          body.description = opts.description === '' ? null : opts.description;
        }
        if (opts.tag !== undefined) body.tags = opts.tag;
        if (opts.ttl !== undefined) body.ttlSeconds = opts.ttl;
        const response = await ctx.client.request(
          'PATCH',
          pathOf('subnets', id, 'allocations', ip),
          { body },
        );
        printAllocation(ctx, expectJson(response) as Allocation);
      }),
    );

  program
    .command('release <subnet> <ip>')
    .description('release an address (with --owner only if that owner holds it)')
    .option('--owner <owner>', 'release only if held by this owner (safe to retry)')
    .addOption(spaceOption())
    .action(
      action(async (ctx, opts, ref, ip) => {
        const id = await resolveSubnet(ctx, ref, opts.space);
        await ctx.client.request('DELETE', pathOf('subnets', id, 'allocations', ip), {
          query: { owner: opts.owner },
          // Without --owner a resent release could free an address someone else got meanwhile.
          resendable: opts.owner !== undefined,
        });
        if (ctx.out.mode === 'quiet') ctx.out.line(ip);
        else if (ctx.out.mode === 'table') ctx.out.line(`Released ${ip} in ${id}.`);
      }),
    );

  program
    .command('lookup <ip>')
    .description(
      'which subnets contain an address, in any space, and its state there (GET /addresses/{ip})',
    )
    .option('--space <space>', 'only this space')
    .action(
      action(async (ctx, opts, ip) => {
        const response = await ctx.client.request('GET', pathOf('addresses', ip), {
          query: { space: opts.space },
        });
        const body = expectJson(response) as { items: LookupItem[] };
        if (ctx.out.mode === 'json') json(ctx.out, body);
        else if (ctx.out.mode === 'quiet') for (const i of body.items) ctx.out.line(i.subnetId);
        else if (body.items.length === 0) ctx.out.line(`No subnet contains ${ip}.`);
        else {
          ctx.out.line(
            table(
              ['SPACE', 'SUBNET', 'CIDR', 'STATE', 'IN POOLS', 'OWNER', 'EXPIRES'],
              body.items.map((i) => [
                i.space,
                i.subnetId,
                i.cidr,
                i.state,
                i.inPools ? 'yes' : 'no',
                dash(i.allocation?.owner),
                dash(i.allocation?.expiresAt),
              ]),
            ),
          );
        }
      }),
    );

  program
    .command('history <subnet> <ip>')
    .description('what happened to an address in a subnet, newest first (also after its release)')
    .addOption(spaceOption())
    .action(
      action(async (ctx, opts, ref, ip) => {
        const id = await resolveSubnet(ctx, ref, opts.space);
        const items = await listAll<HistoryEntry>(
          ctx.client,
          `${pathOf('subnets', id, 'allocations', ip)}/history`,
        );
        if (ctx.out.mode === 'json') json(ctx.out, { items, nextCursor: null });
        else if (ctx.out.mode === 'quiet') for (const h of items) ctx.out.line(h.requestId ?? '');
        else if (items.length === 0) ctx.out.line(`No history for ${ip}.`);
        else {
          ctx.out.line(
            table(
              ['AT', 'ACTION', 'ACTOR', 'OWNER', 'REQUEST'],
              items.map((h) => [h.at, h.action, h.actor, dash(h.owner), dash(h.requestId)]),
            ),
          );
        }
      }),
    );
}

interface HistoryEntry {
  at: string;
  action: string;
  actor: string;
  owner: string | null;
  requestId: string | null;
}

interface LookupItem {
  space: string;
  subnetId: string;
  cidr: string;
  state: string;
  inPools: boolean;
  allocation: Allocation | null;
}
