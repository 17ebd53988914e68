/**
 * What every command needs: the client (endpoint, signing, retries), the output
 * mode, paging, and turning a user's subnet or pool reference (id, CIDR, name)
 * into an id.
 */
import type { Command } from 'commander';
import { ApiClient, expectJson, type Query, type Signing } from './client.js';
import { AuthError, NotFoundError, UsageError } from './errors.js';
import { parseCidr } from './ip.js';
import { type Out, type OutputMode, stdOut } from './output.js';
import { type AwsCredentials, regionOfEndpoint } from './sigv4.js';
import type { Page, Pool, Subnet } from './types.js';

export interface GlobalOptions {
  endpoint: string;
  output: string;
  quiet?: boolean;
  region?: string;
  profile?: string;
  sign?: boolean;
  retries: string;
  idempotencyKey?: string;
}

export interface Ctx {
  readonly client: ApiClient;
  readonly out: Out;
}

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:3000';

export function contextOf(command: Command): Ctx {
  const options = command.optsWithGlobals<GlobalOptions>();
  const mode: OutputMode = options.quiet ? 'quiet' : options.output === 'json' ? 'json' : 'table';
  const retries = Number(options.retries);
  if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
    throw new UsageError('--retries must be a whole number from 0 to 10');
  }
  return {
    client: new ApiClient({
      endpoint: options.endpoint,
      signing: signingOf(options),
      retries,
      idempotencyKey: options.idempotencyKey,
    }),
    out: stdOut(mode),
  };
}

/**
 * SigV4 for https execute-api endpoints (or when --sign / --profile asks for it);
 * credentials from the standard Node provider chain, loaded only when signing.
 */
export function signingOf(options: GlobalOptions): Signing | undefined {
  let url: URL;
  try {
    url = new URL(options.endpoint);
  } catch {
    throw new UsageError(`--endpoint ${JSON.stringify(options.endpoint)} is not a URL`);
  }
  const auto = url.protocol === 'https:' && regionOfEndpoint(options.endpoint) !== undefined;
  const wanted = options.sign ?? (auto || options.profile !== undefined);
  if (!wanted) return undefined;
  const region =
    options.region ??
    regionOfEndpoint(options.endpoint) ??
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION;
  if (region === undefined) {
    throw new UsageError(
      'signing needs a region: use an execute-api endpoint URL, --region or AWS_REGION',
    );
  }
  let cached: Promise<AwsCredentials> | undefined;
  const credentials = () => {
    cached ??= (async () => {
      const { fromNodeProviderChain } = await import('@aws-sdk/credential-providers');
      try {
        return await fromNodeProviderChain(
          options.profile === undefined ? {} : { profile: options.profile },
        )();
      } catch (error) {
        throw new AuthError(
          `no AWS credentials to sign with${options.profile ? ` (profile ${options.profile})` : ''}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    })();
    return cached;
  };
  return { region, credentials };
}

/** Every item of a paged list route, following nextCursor. */
export async function listAll<T>(client: ApiClient, path: string, query: Query = {}): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const response = await client.request('GET', path, {
      query: { ...query, limit: 1000, cursor },
    });
    const page = expectJson(response) as Page<T>;
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return items;
}

export function pathOf(...segments: string[]): string {
  return segments.map((segment) => `/${encodeURIComponent(segment)}`).join('');
}

function describe(subnet: Subnet): string {
  return `${subnet.id} (${subnet.cidr}, space ${subnet.space}${subnet.name ? `, name ${subnet.name}` : ''})`;
}

/**
 * A subnet's id from its id (`sub_…`, used as is), its CIDR (in --space when
 * given; ambiguous across spaces otherwise) or its unique name.
 */
export async function resolveSubnet(ctx: Ctx, ref: string, space?: string): Promise<string> {
  if (/^sub_[A-Za-z0-9_-]{22}$/.test(ref)) return ref;
  const subnets = await listAll<Subnet>(ctx.client, '/subnets', { space });
  const cidr = ref.includes('/') ? parseCidr(ref, false) : undefined;
  if (ref.includes('/') && cidr === undefined) {
    throw new UsageError(`${JSON.stringify(ref)} is not a CIDR, a subnet id or a name`);
  }
  const matches = subnets.filter((subnet) =>
    cidr === undefined ? subnet.name === ref : parseCidr(subnet.cidr)?.text === cidr.text,
  );
  const where = space === undefined ? '' : ` in space ${space}`;
  if (matches.length === 0) {
    throw new NotFoundError(
      `SUBNET_NOT_FOUND: no subnet ${cidr === undefined ? 'named' : 'with CIDR'} ${ref}${where}`,
    );
  }
  if (matches.length > 1) {
    throw new UsageError(
      `${ref} is ambiguous${where}: ${matches.map(describe).join('; ')}. Give the id${cidr ? ' or --space' : ''}.`,
    );
  }
  return matches[0]!.id;
}

/** A pool's id from its id (`pool_…`), one of its prefixes, or its unique name. */
export async function resolvePool(ctx: Ctx, ref: string, space?: string): Promise<string> {
  if (/^pool_[A-Za-z0-9_-]{22}$/.test(ref)) return ref;
  const pools = (await listAll<Pool>(ctx.client, '/subnet-pools')).filter(
    (pool) => space === undefined || pool.space === space,
  );
  const cidr = ref.includes('/') ? parseCidr(ref, false) : undefined;
  const matches = pools.filter((pool) =>
    cidr === undefined
      ? pool.name === ref
      : pool.prefixes.some((prefix) => parseCidr(prefix)?.text === cidr.text),
  );
  const where = space === undefined ? '' : ` in space ${space}`;
  if (matches.length === 0) {
    throw new NotFoundError(
      `POOL_NOT_FOUND: no subnet pool ${cidr === undefined ? 'named' : 'with prefix'} ${ref}${where}`,
    );
  }
  if (matches.length > 1) {
    throw new UsageError(
      `${ref} is ambiguous${where}: ${matches.map((pool) => `${pool.id} (space ${pool.space})`).join('; ')}. Give the id or --space.`,
    );
  }
  return matches[0]!.id;
}
