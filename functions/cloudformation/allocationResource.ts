/**
 * `Custom::IpamAllocation`: allocates an address. A retry finds an earlier attempt's
 * allocation among its owner's allocations in the subnet (the owner index), and an
 * explicit `Ip` that is "already allocated" is ours if the holder carries our
 * request key.
 */
import { type AllocationView, type Allocator, listByOwner } from '../../shared/allocator/index.js';
import {
  AllocationNotFoundError,
  IpAlreadyAllocatedError,
  IpamError,
  OwnerMismatchError,
  ValidationError,
} from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { parseIp, parseMac } from '../../shared/net/address.js';
import type { IpamContext } from '../../shared/store/context.js';
import { type AllocationSpec, defaultHolder, parseAllocationProperties } from './properties.js';
import type { CustomResourceRequest, CustomResourceResult, RequestRef } from './request.js';
import type { ResourceType } from './resource.js';
import {
  allocationPhysicalId,
  allocationResult,
  isGone,
  isInvalidInput,
  parseAllocationId,
} from './results.js';
import { CFN_TAGS, cfnTags, mergedTags, sameTags } from './tags.js';

export class AllocationResource implements ResourceType<AllocationSpec> {
  constructor(
    private readonly ctx: IpamContext,
    private readonly allocator: Allocator,
  ) {}

  parse(raw: unknown, ref: RequestRef): AllocationSpec {
    return parseAllocationProperties(raw, ref);
  }

  async create(
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
      if (allocation === undefined) throw new Error('The allocator answered no allocation.');
      return allocationResult(allocation);
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
        return this.updateInPlace(id, spec, ref);
      }
      throw error;
    }
  }

  async updateInPlace(
    physicalId: string,
    spec: AllocationSpec,
    ref: RequestRef,
  ): Promise<CustomResourceResult> {
    const id = parseAllocationId(physicalId);
    if (id === undefined) {
      throw new ValidationError(`${physicalId} is not an allocation of this provider.`, {
        field: 'PhysicalResourceId',
      });
    }
    const current = await this.allocator.get(id.subnetId, parseIp(id.ip));
    if (current.tags[CFN_TAGS.resource] !== ref.resourceKey && current.owner !== spec.owner) {
      // Released outside CloudFormation and taken by someone else since.
      throw new AllocationNotFoundError(id.subnetId, id.ip);
    }
    const tags = mergedTags(spec.tags, current.tags, ref);
    if (
      current.owner === spec.owner &&
      current.description === spec.description &&
      sameTags(current.tags, tags)
    ) {
      return allocationResult(current);
    }
    return allocationResult(
      await this.allocator.update(id.subnetId, parseIp(id.ip), {
        owner: spec.owner,
        description: spec.description,
        tags,
      }),
    );
  }

  async isOurs(physicalId: string, ref: RequestRef): Promise<boolean> {
    const id = parseAllocationId(physicalId);
    if (id === undefined) return false;
    const current = await this.allocator.get(id.subnetId, parseIp(id.ip));
    return current.tags[CFN_TAGS.resource] === ref.resourceKey;
  }

  /** Releases the address if this resource still holds it (never someone else's). */
  async remove(physicalId: string, props: unknown, ref: RequestRef): Promise<void> {
    const id = parseAllocationId(physicalId);
    if (id === undefined) return;
    try {
      const current = await this.allocator.get(id.subnetId, parseIp(id.ip));
      const owner = this.tryParse(props, ref)?.owner;
      const mine =
        current.tags[CFN_TAGS.resource] === ref.resourceKey ||
        (owner !== undefined && current.owner === owner);
      if (!mine) return;
      await this.allocator.release(id.subnetId, parseIp(id.ip), current.owner ?? undefined);
    } catch (error) {
      // Gone, someone else's now, or an address no allocation of ours can have.
      if (isGone(error) || error instanceof OwnerMismatchError || isInvalidInput(error)) return;
      throw error;
    }
  }

  /** Releases what the request allocated: its owner's allocations tagged with its key. */
  async undo(
    props: Record<string, unknown>,
    _mine: unknown,
    requestKey: string,
    ref: RequestRef,
  ): Promise<void> {
    if (typeof props.SubnetId !== 'string') return;
    const owner =
      typeof props.Owner === 'string' && props.Owner !== '' ? props.Owner : defaultHolder(ref);
    for (const allocation of await this.allocationsOf(props.SubnetId, owner, requestKey)) {
      await this.allocator
        .release(allocation.subnetId, parseIp(allocation.ip), owner)
        .catch((error: unknown) => {
          if (!isGone(error) && !(error instanceof OwnerMismatchError)) throw error;
        });
    }
  }

  private tryParse(props: unknown, ref: RequestRef): AllocationSpec | undefined {
    try {
      return this.parse(props, ref);
    } catch (error) {
      if (error instanceof IpamError) return undefined;
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
}
