/**
 * CloudFormation custom resources: `Custom::IpamSubnet` carves a subnet from a subnet
 * pool, `Custom::IpamAllocation` allocates an address. This module decides what a
 * request does; functions/customResource.ts receives the event and sends the answer.
 *
 * CloudFormation (and Lambda's retries of an asynchronous invocation) may deliver a
 * request more than once. Every request has a deterministic request key and every
 * resource a resource key (request.ts); what a request creates carries both as tags
 * (tags.ts), so a retry finds what an earlier attempt did instead of doing it again.
 * A completed request is recorded under the resource (records.ts), so a retry
 * answers from it directly, and the rollback of an update that replaced the
 * resource gets the original back instead of a third one.
 */
import type { Allocator } from '../../shared/allocator/index.js';
import { IpamError } from '../../shared/errors.js';
import type { IpamContext } from '../../shared/store/context.js';
import { AllocationResource } from './allocationResource.js';
import { type AllocationSpec, identityOf, type SubnetSpec, sameSpec } from './properties.js';
import { ProviderRecords, type ResultRecord } from './records.js';
import {
  type CustomResourceRequest,
  type CustomResourceResult,
  FAILED_CREATE_PREFIX,
  isResourceType,
  kindOf,
  RESOURCE_TYPES,
  type RequestRef,
  type ResourceKind,
  requestRefOf,
} from './request.js';
import type { ResourceType } from './resource.js';
import { isGone, isInvalidInput } from './results.js';
import { SubnetResource } from './subnetResource.js';

export {
  type AllocationSpec,
  parseAllocationProperties,
  parseSubnetProperties,
  type SubnetSpec,
} from './properties.js';
export {
  type CustomResourceRequest,
  type CustomResourceResult,
  failedCreateId,
  failureReason,
  kindOf,
  RESOURCE_TYPES,
  type RequestRef,
  type ResourceKind,
  requestRefOf,
} from './request.js';
export { allocationPhysicalId } from './results.js';
export { CFN_TAG_PREFIX, CFN_TAGS } from './tags.js';

type Spec = SubnetSpec | AllocationSpec;

export class CustomResourceProvider {
  private readonly records: ProviderRecords;
  private readonly types: Readonly<Record<ResourceKind, ResourceType<Spec>>>;

  constructor(ctx: IpamContext, allocator: Allocator) {
    this.records = new ProviderRecords(ctx);
    // Each type takes only its own spec; `kindOf` picks the type and parse makes its spec.
    this.types = {
      subnet: new SubnetResource(ctx, this.records) as ResourceType<Spec>,
      allocation: new AllocationResource(ctx, allocator) as ResourceType<Spec>,
    };
  }

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
    const type = this.types[kind];
    const spec = type.parse(request.ResourceProperties, ref);
    const physicalId = request.PhysicalResourceId;
    if (request.RequestType === 'Update' && physicalId !== undefined) {
      const old = this.tryParse(kind, request.OldResourceProperties, ref);
      if (old !== undefined && identityOf(kind, old) === identityOf(kind, spec)) {
        if (sameSpec(kind, old, spec)) {
          // Nothing to change: answer what the resource answered before, without a write.
          const record = (await this.records.of(ref.resourceKey)).find(
            (r): r is ResultRecord => r.kind === 'result' && r.physicalResourceId === physicalId,
          );
          if (record !== undefined) return { physicalResourceId: physicalId, data: record.data };
        }
        return type.updateInPlace(physicalId, spec, ref);
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

  private tryParse(kind: ResourceKind, raw: unknown, ref: RequestRef): Spec | undefined {
    try {
      return this.types[kind].parse(raw, ref);
    } catch (error) {
      if (error instanceof IpamError) return undefined;
      throw error;
    }
  }

  /** Create, or an Update that replaces: a new subnet or address, unless one exists for it. */
  private async provision(
    kind: ResourceKind,
    spec: Spec,
    request: CustomResourceRequest,
    ref: RequestRef,
  ): Promise<CustomResourceResult> {
    const type = this.types[kind];
    const records = await this.records.of(ref.resourceKey);
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
          return type.updateInPlace(record.physicalResourceId, spec, ref);
        }
      }
    }
    const result = await type.create(spec, request, ref, records);
    await this.records.putResult(ref, result, identity, RESOURCE_TYPES[kind]);
    return result;
  }

  private async isOurs(kind: ResourceKind, physicalId: string, ref: RequestRef): Promise<boolean> {
    try {
      return await this.types[kind].isOurs(physicalId, ref);
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
    await this.types[kind].remove(physicalId, props, ref);
    await this.records.deleteResult(ref.resourceKey, physicalId);
  }

  private async undoRequest(
    kind: ResourceKind,
    props: unknown,
    requestKey: string,
    ref: RequestRef,
    force: boolean,
  ): Promise<void> {
    const records = await this.records.of(ref.resourceKey);
    const mine = records.filter((r) => r.requestKey === requestKey);
    if (!force && mine.some((r) => r.kind === 'result')) return;
    const raw = (typeof props === 'object' && props !== null ? props : {}) as Record<
      string,
      unknown
    >;
    try {
      await this.types[kind].undo(raw, mine, requestKey, ref);
    } catch (error) {
      // Properties that never named a valid pool, block or subnet: nothing was created.
      if (!isGone(error) && !isInvalidInput(error)) throw error;
    }
    for (const record of mine) await this.records.deleteRecord(ref.resourceKey, record);
  }
}
