/**
 * The CloudFormation request as the provider reads it: which resource type, the keys
 * that make a retried delivery find its earlier work, and the failure answer.
 */
import { createHash } from 'node:crypto';
import { IpamError, ValidationError } from '../../shared/errors.js';

export const RESOURCE_TYPES = {
  subnet: 'Custom::IpamSubnet',
  allocation: 'Custom::IpamAllocation',
} as const;
export type ResourceKind = keyof typeof RESOURCE_TYPES;

/** The physical id answered for a Create that failed; its Delete undoes what that request left. */
export const FAILED_CREATE_PREFIX = 'ipam:create-failed:';

/** The fields of a CloudFormation custom-resource event this provider reads. */
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

export function isResourceType(resourceType: string): boolean {
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
