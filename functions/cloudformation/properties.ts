/**
 * The resources' properties, parsed with zod on the API's own name and tag rules
 * (functions/http/schemas.ts). CloudFormation passes every scalar as a string (a
 * number may arrive as either), and an empty string means "not set". Failures are
 * `VALIDATION_ERROR`s naming the property; addresses are judged by shared/net.
 */
import { z } from 'zod';
import { Strategy } from '../../shared/allocator/index.js';
import { ValidationError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import {
  formatCidr,
  formatIp,
  formatMac,
  parseCidr,
  parseIp,
  parseMac,
} from '../../shared/net/address.js';
import { resourceName, tagKey, tagValue } from '../http/schemas.js';
import { RESOURCE_TYPES, type RequestRef, type ResourceKind } from './request.js';
import { CFN_TAG_COUNT, CFN_TAG_PREFIX, sameTags } from './tags.js';

export interface SubnetSpec {
  readonly poolId: string;
  readonly prefixLength?: number;
  readonly cidr?: string;
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The release cool-down; unset means 0, as CloudFormation means a removed property. */
  readonly reuseDelaySeconds: number;
}

export interface AllocationSpec {
  readonly subnetId: string;
  readonly strategy?: Strategy;
  readonly ip?: string;
  readonly macAddress?: string;
  readonly owner: string;
  readonly description: string | null;
  readonly tags: Readonly<Record<string, string>>;
}

/** '' and null mean unset; numbers are strings as CloudFormation means them. */
const unsetOrText = (value: unknown): unknown => {
  if (value === '' || value === null) return undefined;
  return typeof value === 'number' ? String(value) : value;
};

/** A string property with `rule`; optional. */
const text = <T extends z.ZodType>(rule: T) => z.preprocess(unsetOrText, rule.optional());
const bounded = (max: number) =>
  z.string(`must be a string`).max(max, `must be at most ${max} characters`);

const tagMax = LIMITS.tagCount - CFN_TAG_COUNT;
const userTags = z.preprocess(
  (value) => (value === '' || value === null ? undefined : value),
  z
    .record(
      tagKey
        .refine(
          (key) => !key.startsWith(CFN_TAG_PREFIX),
          `keys starting with ${CFN_TAG_PREFIX} are the provider's`,
        )
        .describe('tag key'),
      z.preprocess(
        (tag) => (typeof tag === 'number' || typeof tag === 'boolean' ? String(tag) : tag),
        tagValue,
      ),
      'must be a map of strings',
    )
    .refine(
      (tags) => Object.keys(tags).length <= tagMax,
      `at most ${tagMax} Tags (the provider adds ${CFN_TAG_COUNT})`,
    )
    .optional(),
);

/** Properties CloudFormation itself passes along with ours. */
const framework = { ServiceToken: z.unknown().optional(), ServiceTimeout: z.unknown().optional() };

const REUSE_DELAY_RULE = `must be a whole number of seconds from ${LIMITS.reuseDelaySeconds.min} to ${LIMITS.reuseDelaySeconds.max}`;

const subnetProperties = z.strictObject({
  ...framework,
  PoolId: text(bounded(100)),
  PrefixLength: text(
    z
      .string()
      .regex(/^\d{1,10}$/, 'must be a whole number from 0 to 128')
      .transform(Number)
      .pipe(z.number().max(128, 'must be a whole number from 0 to 128')),
  ),
  Cidr: text(bounded(100)),
  Name: text(resourceName),
  Tags: userTags,
  ReuseDelaySeconds: text(
    z
      .string()
      .regex(/^\d{1,10}$/, REUSE_DELAY_RULE)
      .transform(Number)
      .pipe(
        z
          .number()
          .min(LIMITS.reuseDelaySeconds.min, REUSE_DELAY_RULE)
          .max(LIMITS.reuseDelaySeconds.max, REUSE_DELAY_RULE),
      ),
  ),
});

const allocationProperties = z.strictObject({
  ...framework,
  SubnetId: text(bounded(100)),
  Strategy: text(bounded(20)),
  Ip: text(bounded(100)),
  MacAddress: text(bounded(100)),
  Owner: text(bounded(LIMITS.ownerLength)),
  Description: text(bounded(LIMITS.descriptionLength)),
  Tags: userTags,
});

export function parseSubnetProperties(raw: unknown, ref: RequestRef): SubnetSpec {
  const props = parse(subnetProperties, raw, RESOURCE_TYPES.subnet);
  if (props.PrefixLength !== undefined && props.Cidr !== undefined) {
    throw new ValidationError('Give PrefixLength or Cidr, not both.', { field: 'PrefixLength' });
  }
  return {
    poolId: required(props.PoolId, 'PoolId'),
    ...(props.PrefixLength === undefined ? {} : { prefixLength: props.PrefixLength }),
    ...(props.Cidr === undefined ? {} : { cidr: formatCidr(parseCidr(props.Cidr)) }),
    name: props.Name ?? defaultHolder(ref),
    tags: props.Tags ?? {},
    reuseDelaySeconds: props.ReuseDelaySeconds ?? 0,
  };
}

export function parseAllocationProperties(raw: unknown, ref: RequestRef): AllocationSpec {
  const props = parse(allocationProperties, raw, RESOURCE_TYPES.allocation);
  const strategy = props.Strategy;
  if (strategy !== undefined && strategy !== Strategy.RANDOM && strategy !== Strategy.SEQUENTIAL) {
    throw new ValidationError(`Strategy must be random or sequential, not ${strategy}.`, {
      field: 'Strategy',
    });
  }
  if ([strategy, props.Ip, props.MacAddress].filter((value) => value !== undefined).length > 1) {
    throw new ValidationError('Give at most one of Strategy, Ip and MacAddress.', {
      field: 'Strategy',
    });
  }
  return {
    subnetId: required(props.SubnetId, 'SubnetId'),
    ...(strategy === undefined ? {} : { strategy }),
    ...(props.Ip === undefined ? {} : { ip: formatIp(parseIp(props.Ip)) }),
    ...(props.MacAddress === undefined
      ? {}
      : { macAddress: formatMac(parseMac(props.MacAddress)) }),
    owner: props.Owner ?? defaultHolder(ref),
    description: props.Description ?? null,
    tags: props.Tags ?? {},
  };
}

/** `cfn:<stack>/<logical id>`: the default subnet name and allocation owner. */
export function defaultHolder(ref: RequestRef): string {
  return `cfn:${ref.stackName}/${ref.logicalResourceId}`.slice(0, LIMITS.ownerLength);
}

/** What decides which resource this is: a change of it replaces the resource. */
export function identityOf(kind: ResourceKind, spec: SubnetSpec | AllocationSpec): string {
  if (kind === 'subnet') {
    const s = spec as SubnetSpec;
    return JSON.stringify([kind, s.poolId, s.prefixLength ?? null, s.cidr ?? null]);
  }
  const a = spec as AllocationSpec;
  return JSON.stringify([kind, a.subnetId, a.ip ?? null, a.macAddress ?? null]);
}

/** Same identity and the same name (and cool-down), owner, description and tags. */
export function sameSpec(
  kind: ResourceKind,
  a: SubnetSpec | AllocationSpec,
  b: SubnetSpec | AllocationSpec,
): boolean {
  if (identityOf(kind, a) !== identityOf(kind, b) || !sameTags(a.tags, b.tags)) return false;
  if (kind === 'subnet') {
    const [x, y] = [a as SubnetSpec, b as SubnetSpec];
    return x.name === y.name && x.reuseDelaySeconds === y.reuseDelaySeconds;
  }
  const [x, y] = [a as AllocationSpec, b as AllocationSpec];
  return x.owner === y.owner && x.description === y.description && x.strategy === y.strategy;
}

function parse<T extends z.ZodObject>(schema: T, raw: unknown, type: string): z.output<T> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ValidationError(`${type} needs its properties.`, { field: 'ResourceProperties' });
  }
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  if (issue?.code === 'unrecognized_keys') {
    const allowed = Object.keys(schema.shape).filter((key) => !(key in framework));
    throw new ValidationError(
      `${type} has no property ${issue.keys[0]}; its properties are ${allowed.join(', ')}.`,
      { field: issue.keys[0] },
    );
  }
  const field = String(issue?.path[0] ?? 'ResourceProperties');
  const where =
    issue?.path.length !== undefined && issue.path.length > 1 ? issue.path.join('.') : field;
  throw new ValidationError(`${where} ${issue?.message ?? 'is not valid'}.`, { field });
}

function required(value: string | undefined, key: string): string {
  if (value === undefined) throw new ValidationError(`${key} is required.`, { field: key });
  return value;
}
