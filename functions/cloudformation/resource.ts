/** What the provider needs of each resource type (subnetResource.ts, allocationResource.ts). */
import type { ProviderRecord } from './records.js';
import type { CustomResourceRequest, CustomResourceResult, RequestRef } from './request.js';

export interface ResourceType<Spec> {
  /** The spec of validated properties; throws a VALIDATION_ERROR (or an address error). */
  parse(raw: unknown, ref: RequestRef): Spec;
  /** A new subnet or address for a Create or a replacing Update, unless an earlier delivery made it. */
  create(
    spec: Spec,
    request: CustomResourceRequest,
    ref: RequestRef,
    records: readonly ProviderRecord[],
  ): Promise<CustomResourceResult>;
  /** Same resource: apply name, owner, description and tags; the answer is unchanged. */
  updateInPlace(physicalId: string, spec: Spec, ref: RequestRef): Promise<CustomResourceResult>;
  /** Whether the physical id still names a resource created for this resource key. */
  isOurs(physicalId: string, ref: RequestRef): Promise<boolean>;
  /** Delete: release or delete; what is already gone is success. */
  remove(physicalId: string, props: unknown, ref: RequestRef): Promise<void>;
  /** Removes what the request with `requestKey` created (its records are `mine`). */
  undo(
    props: Record<string, unknown>,
    mine: readonly ProviderRecord[],
    requestKey: string,
    ref: RequestRef,
  ): Promise<void>;
}
