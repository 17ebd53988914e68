/**
 * CloudFormation custom resources: `Custom::IpamSubnet` carves a subnet from a subnet
 * pool, `Custom::IpamAllocation` allocates an address. This module decides what a
 * request does; functions/customResource.ts receives the event and sends the answer.
 *
 * ## Idempotency
 *
 * CloudFormation (and Lambda's retries of an asynchronous invocation) may deliver a
 * request more than once. Every request has a deterministic **request key**
 * (a hash of StackId, LogicalResourceId and RequestId) and every resource a
 * **resource key** (StackId, LogicalResourceId). What a request creates carries both
 * as tags (`ipam:cfn-request`, `ipam:cfn-resource`, plus the stack name and logical
 * id for people), so a retry finds what an earlier attempt did instead of doing it
 * again:
 *
 * - an allocation is looked up among its owner's allocations in the subnet (the
 *   owner index), and an explicit `Ip` that is "already allocated" is ours if the
 *   holder carries our request key;
 * - a carve first writes down the block it is about to take (a plan record), so a
 *   retry looks at that block and finds the subnet there if the carve committed.
 *
 * A completed request is recorded under the resource (one item per physical id), so
 * a retry answers from it directly, and the rollback of an update that replaced the
 * resource gets the original back instead of a third one.
 *
 * ## Items (main table)
 *
 * | item   | pk                | sk                   | attributes                                                    |
 * | ------ | ----------------- | -------------------- | ------------------------------------------------------------- |
 * | result | `CFN#<resource>`  | `RES#<physical id>`  | requestKey, identity, resourceType, data, stackId, logical id |
 * | plan   | `CFN#<resource>`  | `PLAN#<request key>` | cidr, space, `ttl` (7 days): the block a carve is taking      |
 *
 * A resource's partition holds one result per live physical id (two while an
 * update replaces it) and plans of recent carves; the audit does not read them.
 */
import { createHash } from 'node:crypto';
import { DeleteCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import {
  type AllocationView,
  type Allocator,
  listByOwner,
  Strategy,
} from '../../shared/allocator/index.js';
import {
  AllocationNotFoundError,
  InvalidCidrError,
  InvalidIpError,
  IpAlreadyAllocatedError,
  IpamError,
  OwnerMismatchError,
  PoolNotFoundError,
  SubnetNotFoundError,
  SubnetOverlapError,
  ValidationError,
} from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import {
  formatCidr,
  formatIp,
  formatMac,
  parseCidr,
  parseIp,
  parseMac,
} from '../../shared/net/address.js';
import {
  carveSubnet,
  getPool,
  onSubnetDeleted,
  previewNextCidr,
} from '../../shared/pools/index.js';
import type { IpamContext } from '../../shared/store/context.js';
import { TTL_ATTRIBUTE } from '../../shared/store/table.js';
import { type Subnet, type SubnetView, subnetView } from '../../shared/subnets/subnet.js';
import {
  deleteSubnet,
  findOverlap,
  loadSubnet,
  updateSubnet,
} from '../../shared/subnets/subnets.js';

export const RESOURCE_TYPES = {
  subnet: 'Custom::IpamSubnet',
  allocation: 'Custom::IpamAllocation',
} as const;
export type ResourceKind = keyof typeof RESOURCE_TYPES;

/** Tags the provider adds to what it creates; users may not set tags with this prefix. */
export const CFN_TAG_PREFIX = 'ipam:cfn-';
export const CFN_TAGS = {
  request: `${CFN_TAG_PREFIX}request`,
  resource: `${CFN_TAG_PREFIX}resource`,
  stack: `${CFN_TAG_PREFIX}stack`,
  logicalId: `${CFN_TAG_PREFIX}logical-id`,
} as const;
const CFN_TAG_COUNT = Object.keys(CFN_TAGS).length;

/** The physical id answered for a Create that failed; its Delete undoes what that request left. */
const FAILED_CREATE_PREFIX = 'ipam:create-failed:';
/** Plans outlive any retry of their request (CloudFormation waits at most an hour). */
const PLAN_TTL_SECONDS = 7 * 24 * 3600;
/** Carves that lose their planned block to a concurrent carve before giving up. */
const CARVE_ATTEMPTS = 10;
/** Properties CloudFormation itself passes along with ours. */
const FRAMEWORK_PROPERTIES = new Set(['ServiceToken', 'ServiceTimeout']);

/** The fields of a CloudFormation custom-resource event this module reads. */
export interface CustomResourceRequest {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly ResourceType: string;
  readonly ResourceProperties: Readonly<Record<string, unknown>>;
  readonly OldResourceProperties?: Readonly<Record<string, unknown>>;
  /** Absent on Create. */
  readonly PhysicalResourceId?: string;
}

export interface CustomResourceResult {
  readonly physicalResourceId: string;
  /** Fn::GetAtt attributes: `Cidr`, `SubnetId`, `GatewayIp` or `Ip`, `SubnetId`. */
  readonly data: Readonly<Record<string, string>>;
}

export interface SubnetSpec {
  readonly poolId: string;
  readonly prefixLength?: number;
  readonly cidr?: string;
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
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

/** Who is asking: the keys derived from the request, and names for defaults and tags. */
export interface RequestRef {
  /** Same for every delivery of one request. */
  readonly requestKey: string;
  /** Same for every request of one resource of one stack. */
  readonly resourceKey: string;
  readonly stackId: string;
  readonly stackName: string;
  readonly logicalResourceId: string;
}

export function requestRefOf(request: CustomResourceRequest): RequestRef {
  return {
    requestKey: digest(request.StackId, request.LogicalResourceId, request.RequestId),
    resourceKey: digest(request.StackId, request.LogicalResourceId),
    stackId: request.StackId,
    // arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
    stackName: request.StackId.split('/')[1] ?? request.StackId,
    logicalResourceId: request.LogicalResourceId,
  };
}

function digest(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 22);
}

function isResourceType(resourceType: string): boolean {
  return resourceType === RESOURCE_TYPES.subnet || resourceType === RESOURCE_TYPES.allocation;
}

export function kindOf(resourceType: string): ResourceKind {
  if (resourceType === RESOURCE_TYPES.subnet) return 'subnet';
  if (resourceType === RESOURCE_TYPES.allocation) return 'allocation';
  throw new ValidationError(
    `This provider handles ${RESOURCE_TYPES.subnet} and ${RESOURCE_TYPES.allocation}, not ${resourceType}.`,
    { field: 'ResourceType' },
  );
}

/** `CODE: message` for CloudFormation's status reason. */
export function failureReason(error: unknown, requestId: string): string {
  if (error instanceof IpamError) return `${error.code}: ${error.message}`;
  return `INTERNAL_ERROR: unexpected failure; the provider's log has the details under CloudFormation request ${requestId}.`;
}

export function failedCreateId(request: CustomResourceRequest): string {
  return `${FAILED_CREATE_PREFIX}${requestRefOf(request).requestKey}`;
}

// --- Properties ----------------------------------------------------------------------

export function parseSubnetProperties(raw: unknown, ref: RequestRef): SubnetSpec {
  const props = properties(raw, RESOURCE_TYPES.subnet, [
    'PoolId',
    'PrefixLength',
    'Cidr',
    'Name',
    'Tags',
  ]);
  const prefixLength = integer(props, 'PrefixLength', 0, 128);
  const cidrText = text(props, 'Cidr', 100);
  if (prefixLength !== undefined && cidrText !== undefined) {
    throw new ValidationError('Give PrefixLength or Cidr, not both.', { field: 'PrefixLength' });
  }
  return {
    poolId: required(props, 'PoolId', 100),
    ...(prefixLength === undefined ? {} : { prefixLength }),
    ...(cidrText === undefined ? {} : { cidr: formatCidr(parseCidr(cidrText)) }),
    name: text(props, 'Name', LIMITS.nameLength) ?? defaultHolder(ref),
    tags: userTags(props),
  };
}

export function parseAllocationProperties(raw: unknown, ref: RequestRef): AllocationSpec {
  const props = properties(raw, RESOURCE_TYPES.allocation, [
    'SubnetId',
    'Strategy',
    'Ip',
    'MacAddress',
    'Owner',
    'Description',
    'Tags',
  ]);
  const strategy = text(props, 'Strategy', 20);
  if (strategy !== undefined && strategy !== Strategy.RANDOM && strategy !== Strategy.SEQUENTIAL) {
    throw new ValidationError(`Strategy must be random or sequential, not ${strategy}.`, {
      field: 'Strategy',
    });
  }
  const ip = text(props, 'Ip', 100);
  const mac = text(props, 'MacAddress', 100);
  if ([strategy, ip, mac].filter((value) => value !== undefined).length > 1) {
    throw new ValidationError('Give at most one of Strategy, Ip and MacAddress.', {
      field: 'Strategy',
    });
  }
  return {
    subnetId: required(props, 'SubnetId', 100),
    ...(strategy === undefined ? {} : { strategy }),
    ...(ip === undefined ? {} : { ip: formatIp(parseIp(ip)) }),
    ...(mac === undefined ? {} : { macAddress: formatMac(parseMac(mac)) }),
    owner: text(props, 'Owner', LIMITS.ownerLength) ?? defaultHolder(ref),
    description: text(props, 'Description', LIMITS.descriptionLength) ?? null,
    tags: userTags(props),
  };
}

/** `cfn:<stack>/<logical id>`: the default subnet name and allocation owner. */
function defaultHolder(ref: RequestRef): string {
  return `cfn:${ref.stackName}/${ref.logicalResourceId}`.slice(0, LIMITS.ownerLength);
}

function properties(
  raw: unknown,
  type: string,
  allowed: readonly string[],
): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ValidationError(`${type} needs its properties.`, { field: 'ResourceProperties' });
  }
  for (const key of Object.keys(raw)) {
    if (!FRAMEWORK_PROPERTIES.has(key) && !allowed.includes(key)) {
      throw new ValidationError(
        `${type} has no property ${key}; its properties are ${allowed.join(', ')}.`,
        { field: key },
      );
    }
  }
  return raw as Record<string, unknown>;
}

/** A string property; CloudFormation passes numbers as strings, and '' means unset. */
function text(props: Record<string, unknown>, key: string, max: number): string | undefined {
  const value = props[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new ValidationError(`${key} must be a string.`, { field: key });
  }
  const result = String(value);
  if (result.length > max) {
    throw new ValidationError(`${key} must be at most ${max} characters.`, { field: key });
  }
  return result;
}

function required(props: Record<string, unknown>, key: string, max: number): string {
  const value = text(props, key, max);
  if (value === undefined) throw new ValidationError(`${key} is required.`, { field: key });
  return value;
}

function integer(
  props: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const value = text(props, key, 10);
  if (value === undefined) return undefined;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(number) || number < min || number > max) {
    throw new ValidationError(`${key} must be a whole number from ${min} to ${max}.`, {
      field: key,
    });
  }
  return number;
}

function userTags(props: Record<string, unknown>): Record<string, string> {
  const value = props.Tags;
  if (value === undefined || value === null || value === '') return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('Tags must be a map of strings.', { field: 'Tags' });
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const max = LIMITS.tagCount - CFN_TAG_COUNT;
  if (entries.length > max) {
    throw new ValidationError(`At most ${max} Tags (the provider adds ${CFN_TAG_COUNT}).`, {
      field: 'Tags',
    });
  }
  const tags: Record<string, string> = {};
  for (const [key, tag] of entries) {
    if (typeof tag !== 'string' && typeof tag !== 'number' && typeof tag !== 'boolean') {
      throw new ValidationError(`Tag ${key} must be a string.`, { field: 'Tags' });
    }
    const tagValue = String(tag);
    if (key.length < 1 || key.length > LIMITS.tagKeyLength) {
      throw new ValidationError(`Tag keys are 1-${LIMITS.tagKeyLength} characters.`, {
        field: 'Tags',
      });
    }
    if (tagValue.length > LIMITS.tagValueLength) {
      throw new ValidationError(`Tag values are at most ${LIMITS.tagValueLength} characters.`, {
        field: 'Tags',
      });
    }
    if (key.startsWith(CFN_TAG_PREFIX)) {
      throw new ValidationError(`Tag keys starting with ${CFN_TAG_PREFIX} are the provider's.`, {
        field: 'Tags',
      });
    }
    tags[key] = tagValue;
  }
  return tags;
}

/** What decides which resource this is: a change of it replaces the resource. */
function identityOf(kind: ResourceKind, spec: SubnetSpec | AllocationSpec): string {
  if (kind === 'subnet') {
    const s = spec as SubnetSpec;
    return JSON.stringify([kind, s.poolId, s.prefixLength ?? null, s.cidr ?? null]);
  }
  const a = spec as AllocationSpec;
  return JSON.stringify([kind, a.subnetId, a.ip ?? null, a.macAddress ?? null]);
}

/** Same identity and the same name, owner, description and tags. */
function sameSpec(
  kind: ResourceKind,
  a: SubnetSpec | AllocationSpec,
  b: SubnetSpec | AllocationSpec,
): boolean {
  if (identityOf(kind, a) !== identityOf(kind, b) || !sameTags(a.tags, b.tags)) return false;
  if (kind === 'subnet') return (a as SubnetSpec).name === (b as SubnetSpec).name;
  const [x, y] = [a as AllocationSpec, b as AllocationSpec];
  return x.owner === y.owner && x.description === y.description && x.strategy === y.strategy;
}

function cfnTags(ref: RequestRef): Record<string, string> {
  return {
    [CFN_TAGS.request]: ref.requestKey,
    [CFN_TAGS.resource]: ref.resourceKey,
    [CFN_TAGS.stack]: ref.stackName.slice(0, LIMITS.tagValueLength),
    [CFN_TAGS.logicalId]: ref.logicalResourceId.slice(0, LIMITS.tagValueLength),
  };
}

/** The user's tags plus the provider's tags the resource already has (its creating request). */
function mergedTags(
  user: Readonly<Record<string, string>>,
  current: Readonly<Record<string, string>>,
  ref: RequestRef,
): Record<string, string> {
  const kept = Object.entries(current).filter(([key]) => key.startsWith(CFN_TAG_PREFIX));
  return { ...user, ...(kept.length > 0 ? Object.fromEntries(kept) : cfnTags(ref)) };
}

function sameTags(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

// --- Physical ids and answers --------------------------------------------------------

export function allocationPhysicalId(subnetId: string, ip: string): string {
  return `${subnetId}/${ip}`;
}

function parseAllocationId(physicalId: string): { subnetId: string; ip: string } | undefined {
  const slash = physicalId.indexOf('/');
  if (slash <= 0 || slash === physicalId.length - 1) return undefined;
  return { subnetId: physicalId.slice(0, slash), ip: physicalId.slice(slash + 1) };
}

function subnetResult(subnet: SubnetView): CustomResourceResult {
  return {
    physicalResourceId: subnet.id,
    data: { SubnetId: subnet.id, Cidr: subnet.cidr, GatewayIp: subnet.gatewayIp ?? '' },
  };
}

function allocationResult(allocation: AllocationView): CustomResourceResult {
  return {
    physicalResourceId: allocationPhysicalId(allocation.subnetId, allocation.ip),
    data: { Ip: allocation.ip, SubnetId: allocation.subnetId },
  };
}

const viewOf = (subnet: Subnet): SubnetView => subnetView(subnet, { all: 0n, inPools: 0n });

/** Input that cannot name anything this provider created. */
function isInvalidInput(error: unknown): boolean {
  return (
    error instanceof ValidationError ||
    error instanceof InvalidCidrError ||
    error instanceof InvalidIpError
  );
}

/** "Already gone" for a Delete. */
function isGone(error: unknown): boolean {
  return (
    error instanceof AllocationNotFoundError ||
    error instanceof SubnetNotFoundError ||
    error instanceof PoolNotFoundError
  );
}

// --- Records -------------------------------------------------------------------------

interface ResultRecord {
  readonly kind: 'result';
  readonly physicalResourceId: string;
  readonly requestKey: string;
  readonly identity: string;
  readonly data: Record<string, string>;
}

interface PlanRecord {
  readonly kind: 'plan';
  readonly requestKey: string;
  readonly cidr: string;
  readonly space: string;
}

type ProviderRecord = ResultRecord | PlanRecord;

const recordKeys = {
  partition: (resourceKey: string) => `CFN#${resourceKey}`,
  result: (physicalId: string) => `RES#${physicalId}`,
  plan: (requestKey: string) => `PLAN#${requestKey}`,
};

// --- The provider --------------------------------------------------------------------

export class CustomResourceProvider {
  constructor(
    private readonly ctx: IpamContext,
    private readonly allocator: Allocator,
  ) {}

  /** Does what the request asks; throws an IpamError (its code goes to CloudFormation). */
  async handle(request: CustomResourceRequest): Promise<CustomResourceResult> {
    const ref = requestRefOf(request);
    if (request.RequestType === 'Delete') {
      const physicalId = request.PhysicalResourceId ?? '';
      // Not one of our types: its Create failed, so there is nothing to delete.
      if (isResourceType(request.ResourceType)) {
        const kind = kindOf(request.ResourceType);
        await this.remove(kind, physicalId, request.ResourceProperties, ref);
      }
      return { physicalResourceId: physicalId, data: {} };
    }
    const kind = kindOf(request.ResourceType);
    const spec = this.parse(kind, request.ResourceProperties, ref);
    const physicalId = request.PhysicalResourceId;
    if (request.RequestType === 'Update' && physicalId !== undefined) {
      const old = this.tryParse(kind, request.OldResourceProperties, ref);
      if (old !== undefined && identityOf(kind, old) === identityOf(kind, spec)) {
        if (sameSpec(kind, old, spec)) {
          // Nothing to change: answer what the resource answered before, without a write.
          const record = (await this.records(ref.resourceKey)).find(
            (r): r is ResultRecord => r.kind === 'result' && r.physicalResourceId === physicalId,
          );
          if (record !== undefined) return { physicalResourceId: physicalId, data: record.data };
        }
        return this.updateInPlace(kind, physicalId, spec, ref);
      }
    }
    return this.provision(kind, spec, request, ref);
  }

  /**
   * Undoes what a failed Create or Update of this request created, unless an attempt of
   * it completed (its success may have reached CloudFormation first). `force` is for
   * the Delete of a failed Create, when CloudFormation has taken the failure.
   */
  async undo(request: CustomResourceRequest, force = false): Promise<void> {
    if (!isResourceType(request.ResourceType)) return;
    const kind = kindOf(request.ResourceType);
    const ref = requestRefOf(request);
    await this.undoRequest(kind, request.ResourceProperties, ref.requestKey, ref, force);
  }

  private parse(kind: ResourceKind, raw: unknown, ref: RequestRef): SubnetSpec | AllocationSpec {
    return kind === 'subnet'
      ? parseSubnetProperties(raw, ref)
      : parseAllocationProperties(raw, ref);
  }

  private tryParse(kind: ResourceKind, raw: unknown, ref: RequestRef) {
    try {
      return this.parse(kind, raw, ref);
    } catch (error) {
      if (error instanceof IpamError) return undefined;
      throw error;
    }
  }

  /** Create, or an Update that replaces: a new subnet or address, unless one exists for it. */
  private async provision(
    kind: ResourceKind,
    spec: SubnetSpec | AllocationSpec,
    request: CustomResourceRequest,
    ref: RequestRef,
  ): Promise<CustomResourceResult> {
    const records = await this.records(ref.resourceKey);
    const identity = identityOf(kind, spec);
    const done = records.find(
      (r): r is ResultRecord => r.kind === 'result' && r.requestKey === ref.requestKey,
    );
    if (done !== undefined) return { physicalResourceId: done.physicalResourceId, data: done.data };
    if (request.RequestType === 'Update') {
      // The rollback of an update that replaced this resource: the original still exists.
      for (const record of records) {
        if (
          record.kind === 'result' &&
          record.identity === identity &&
          record.physicalResourceId !== request.PhysicalResourceId &&
          (await this.isOurs(kind, record.physicalResourceId, ref))
        ) {
          return this.updateInPlace(kind, record.physicalResourceId, spec, ref);
        }
      }
    }
    const result =
      kind === 'subnet'
        ? await this.carve(spec as SubnetSpec, request, ref, records)
        : await this.allocate(spec as AllocationSpec, request, ref);
    await this.ctx.doc.send(
      new PutCommand({
        TableName: this.ctx.tableName,
        Item: {
          pk: recordKeys.partition(ref.resourceKey),
          sk: recordKeys.result(result.physicalResourceId),
          type: 'cfnResult',
          physicalResourceId: result.physicalResourceId,
          requestKey: ref.requestKey,
          identity,
          resourceType: RESOURCE_TYPES[kind],
          data: result.data,
          stackId: ref.stackId,
          logicalResourceId: ref.logicalResourceId,
          createdAt: new Date(this.ctx.now()).toISOString(),
        },
      }),
    );
    return result;
  }

  private async carve(
    spec: SubnetSpec,
    request: CustomResourceRequest,
    ref: RequestRef,
    records: readonly ProviderRecord[],
  ): Promise<CustomResourceResult> {
    const pool = await getPool(this.ctx, spec.poolId);
    const plan = records.find(
      (r): r is PlanRecord => r.kind === 'plan' && r.requestKey === ref.requestKey,
    );
    const ours = (subnet: Subnet) =>
      subnet.tags[CFN_TAGS.request] === ref.requestKey ||
      (subnet.id === request.PhysicalResourceId &&
        subnet.tags[CFN_TAGS.resource] === ref.resourceKey);
    /** Ours: the subnet; someone else's: 'taken'; nothing there: 'free'. */
    const lookAt = async (cidr: string): Promise<Subnet | 'taken' | 'free'> => {
      const holder = await findOverlap(this.ctx, pool.space, parseCidr(cidr));
      if (holder === undefined) return 'free';
      const subnet = await loadSubnet(this.ctx, holder.subnetId).catch((error: unknown) => {
        if (error instanceof SubnetNotFoundError) return undefined;
        throw error;
      });
      if (subnet === undefined) return 'free';
      return ours(subnet) ? subnet : 'taken';
    };
    const found = async (subnet: Subnet) =>
      subnet.id === request.PhysicalResourceId
        ? this.updateInPlace('subnet', subnet.id, spec, ref)
        : subnetResult(viewOf(subnet));

    let cidr = spec.cidr ?? plan?.cidr;
    if (cidr !== undefined) {
      // An earlier attempt of this request may have carved it already.
      const there = await lookAt(cidr);
      if (typeof there !== 'string') return found(there);
      if (there === 'taken' && spec.cidr === undefined) cidr = undefined;
    }
    for (let attempt = 1; ; attempt++) {
      cidr ??= (await previewNextCidr(this.ctx, pool.id, spec.prefixLength)).cidr;
      if (spec.cidr === undefined) await this.putPlan(ref, cidr, pool.space);
      try {
        const subnet = await carveSubnet(this.ctx, pool.id, {
          cidr,
          name: spec.name,
          tags: { ...spec.tags, ...cfnTags(ref) },
        });
        return subnetResult(subnet);
      } catch (error) {
        if (!(error instanceof SubnetOverlapError)) throw error;
        // A duplicate delivery of this request won the block, or another carve did.
        const there = await lookAt(cidr);
        if (typeof there !== 'string') return found(there);
        if (spec.cidr !== undefined || attempt >= CARVE_ATTEMPTS) throw error;
        cidr = undefined;
      }
    }
  }

  private async putPlan(ref: RequestRef, cidr: string, space: string): Promise<void> {
    await this.ctx.doc.send(
      new PutCommand({
        TableName: this.ctx.tableName,
        Item: {
          pk: recordKeys.partition(ref.resourceKey),
          sk: recordKeys.plan(ref.requestKey),
          type: 'cfnPlan',
          requestKey: ref.requestKey,
          cidr,
          space,
          [TTL_ATTRIBUTE]: Math.floor(this.ctx.now() / 1000) + PLAN_TTL_SECONDS,
        },
      }),
    );
  }

  private async allocate(
    spec: AllocationSpec,
    request: CustomResourceRequest,
    ref: RequestRef,
  ): Promise<CustomResourceResult> {
    // An earlier attempt of this request that committed but never recorded its result.
    const [earlier] = await this.allocationsOf(spec.subnetId, spec.owner, ref.requestKey);
    if (earlier !== undefined) return allocationResult(earlier);
    try {
      const [allocation] = await this.allocator.allocate(spec.subnetId, {
        ...(spec.strategy === undefined ? {} : { strategy: spec.strategy }),
        ...(spec.ip === undefined ? {} : { ip: parseIp(spec.ip) }),
        ...(spec.macAddress === undefined ? {} : { macAddress: parseMac(spec.macAddress) }),
        owner: spec.owner,
        description: spec.description,
        tags: { ...spec.tags, ...cfnTags(ref) },
      });
      return allocationResult(allocation!);
    } catch (error) {
      if (!(error instanceof IpAlreadyAllocatedError)) throw error;
      const ip = String(error.details.ip);
      const holder = await this.allocator.get(spec.subnetId, parseIp(ip)).catch(() => undefined);
      if (holder?.tags[CFN_TAGS.request] === ref.requestKey) return allocationResult(holder);
      // The address this resource already holds (an Update that now names it as Ip).
      const id = allocationPhysicalId(spec.subnetId, ip);
      if (
        id === request.PhysicalResourceId &&
        holder?.tags[CFN_TAGS.resource] === ref.resourceKey
      ) {
        return this.updateInPlace('allocation', id, spec, ref);
      }
      throw error;
    }
  }

  /** Live allocations of `owner` in the subnet made by the request with `requestKey`. */
  private async allocationsOf(
    subnetId: string,
    owner: string,
    requestKey: string,
  ): Promise<AllocationView[]> {
    const found: AllocationView[] = [];
    let cursor: string | undefined;
    do {
      const page = await listByOwner(
        this.ctx,
        owner,
        { limit: LIMITS.pageSize.max, ...(cursor === undefined ? {} : { cursor }) },
        `${subnetId}#`,
      );
      found.push(...page.items.filter((a) => a.tags[CFN_TAGS.request] === requestKey));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return found;
  }

  /** Same resource: apply name, owner, description and tags; the answer is unchanged. */
  private async updateInPlace(
    kind: ResourceKind,
    physicalId: string,
    spec: SubnetSpec | AllocationSpec,
    ref: RequestRef,
  ): Promise<CustomResourceResult> {
    if (kind === 'subnet') {
      const s = spec as SubnetSpec;
      const current = await loadSubnet(this.ctx, physicalId);
      const tags = mergedTags(s.tags, current.tags, ref);
      if (current.name === s.name && sameTags(current.tags, tags)) {
        return subnetResult(viewOf(current));
      }
      return subnetResult(await updateSubnet(this.ctx, physicalId, { name: s.name, tags }));
    }
    const a = spec as AllocationSpec;
    const id = parseAllocationId(physicalId);
    if (id === undefined) {
      throw new ValidationError(`${physicalId} is not an allocation of this provider.`, {
        field: 'PhysicalResourceId',
      });
    }
    const current = await this.allocator.get(id.subnetId, parseIp(id.ip));
    if (current.tags[CFN_TAGS.resource] !== ref.resourceKey && current.owner !== a.owner) {
      // Released outside CloudFormation and taken by someone else since.
      throw new AllocationNotFoundError(id.subnetId, id.ip);
    }
    const tags = mergedTags(a.tags, current.tags, ref);
    if (
      current.owner === a.owner &&
      current.description === a.description &&
      sameTags(current.tags, tags)
    ) {
      return allocationResult(current);
    }
    return allocationResult(
      await this.allocator.update(id.subnetId, parseIp(id.ip), {
        owner: a.owner,
        description: a.description,
        tags,
      }),
    );
  }

  private async isOurs(kind: ResourceKind, physicalId: string, ref: RequestRef): Promise<boolean> {
    try {
      if (kind === 'subnet') {
        return (await loadSubnet(this.ctx, physicalId)).tags[CFN_TAGS.resource] === ref.resourceKey;
      }
      const id = parseAllocationId(physicalId);
      if (id === undefined) return false;
      const current = await this.allocator.get(id.subnetId, parseIp(id.ip));
      return current.tags[CFN_TAGS.resource] === ref.resourceKey;
    } catch (error) {
      if (error instanceof IpamError) return false;
      throw error;
    }
  }

  /** Delete: release or delete; what is already gone is success. */
  private async remove(
    kind: ResourceKind,
    physicalId: string,
    props: unknown,
    ref: RequestRef,
  ): Promise<void> {
    if (physicalId.startsWith(FAILED_CREATE_PREFIX)) {
      const requestKey = physicalId.slice(FAILED_CREATE_PREFIX.length);
      await this.undoRequest(kind, props, requestKey, ref, true);
      return;
    }
    if (kind === 'subnet') {
      await deleteSubnet(this.ctx, physicalId, onSubnetDeleted).catch((error: unknown) => {
        if (!isGone(error)) throw error;
      });
    } else {
      const id = parseAllocationId(physicalId);
      if (id !== undefined) await this.release(id.subnetId, id.ip, props, ref);
    }
    await this.ctx.doc.send(
      new DeleteCommand({
        TableName: this.ctx.tableName,
        Key: { pk: recordKeys.partition(ref.resourceKey), sk: recordKeys.result(physicalId) },
      }),
    );
  }

  /** Releases the address if this resource still holds it (never someone else's). */
  private async release(subnetId: string, ip: string, props: unknown, ref: RequestRef) {
    try {
      const current = await this.allocator.get(subnetId, parseIp(ip));
      const owner = (this.tryParse('allocation', props, ref) as AllocationSpec | undefined)?.owner;
      const mine =
        current.tags[CFN_TAGS.resource] === ref.resourceKey ||
        (owner !== undefined && current.owner === owner);
      if (!mine) return;
      await this.allocator.release(subnetId, parseIp(ip), current.owner ?? undefined);
    } catch (error) {
      // Gone, someone else's now, or an address no allocation of ours can have.
      if (isGone(error) || error instanceof OwnerMismatchError || isInvalidInput(error)) return;
      throw error;
    }
  }

  private async undoRequest(
    kind: ResourceKind,
    props: unknown,
    requestKey: string,
    ref: RequestRef,
    force: boolean,
  ): Promise<void> {
    const records = await this.records(ref.resourceKey);
    const mine = records.filter((r) => r.requestKey === requestKey);
    if (!force && mine.some((r) => r.kind === 'result')) return;
    const raw = (typeof props === 'object' && props !== null ? props : {}) as Record<
      string,
      unknown
    >;
    try {
      if (kind === 'subnet') {
        const plan = mine.find((r): r is PlanRecord => r.kind === 'plan');
        await this.undoCarve(raw, plan, requestKey);
      } else {
        await this.undoAllocation(raw, requestKey, ref);
      }
    } catch (error) {
      // Properties that never named a valid pool, block or subnet: nothing was created.
      if (!isGone(error) && !isInvalidInput(error)) throw error;
    }
    for (const record of mine) {
      await this.ctx.doc.send(
        new DeleteCommand({
          TableName: this.ctx.tableName,
          Key: {
            pk: recordKeys.partition(ref.resourceKey),
            sk:
              record.kind === 'plan'
                ? recordKeys.plan(record.requestKey)
                : recordKeys.result(record.physicalResourceId),
          },
        }),
      );
    }
  }

  /** Deletes the subnet the request carved: at its planned block (or Cidr), tagged with its key. */
  private async undoCarve(
    raw: Record<string, unknown>,
    plan: PlanRecord | undefined,
    requestKey: string,
  ): Promise<void> {
    const cidr = plan?.cidr ?? (typeof raw.Cidr === 'string' ? raw.Cidr : undefined);
    if (cidr === undefined) return;
    const space =
      plan?.space ??
      (typeof raw.PoolId === 'string' ? (await getPool(this.ctx, raw.PoolId)).space : undefined);
    if (space === undefined) return;
    const holder = await findOverlap(this.ctx, space, parseCidr(cidr));
    if (holder === undefined) return;
    const subnet = await loadSubnet(this.ctx, holder.subnetId);
    if (subnet.tags[CFN_TAGS.request] === requestKey)
      await deleteSubnet(this.ctx, subnet.id, onSubnetDeleted);
  }

  /** Releases what the request allocated: its owner's allocations tagged with its key. */
  private async undoAllocation(
    raw: Record<string, unknown>,
    requestKey: string,
    ref: RequestRef,
  ): Promise<void> {
    if (typeof raw.SubnetId !== 'string') return;
    const owner =
      typeof raw.Owner === 'string' && raw.Owner !== '' ? raw.Owner : defaultHolder(ref);
    for (const allocation of await this.allocationsOf(raw.SubnetId, owner, requestKey)) {
      await this.allocator
        .release(allocation.subnetId, parseIp(allocation.ip), owner)
        .catch((error: unknown) => {
          if (!isGone(error) && !(error instanceof OwnerMismatchError)) throw error;
        });
    }
  }

  private async records(resourceKey: string): Promise<ProviderRecord[]> {
    const records: ProviderRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.ctx.doc.send(
        new QueryCommand({
          TableName: this.ctx.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': recordKeys.partition(resourceKey) },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        if (item.type === 'cfnResult') {
          records.push({
            kind: 'result',
            physicalResourceId: String(item.physicalResourceId),
            requestKey: String(item.requestKey),
            identity: String(item.identity),
            data: item.data as Record<string, string>,
          });
        } else if (item.type === 'cfnPlan') {
          records.push({
            kind: 'plan',
            requestKey: String(item.requestKey),
            cidr: String(item.cidr),
            space: String(item.space),
          });
        }
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return records;
  }
}
