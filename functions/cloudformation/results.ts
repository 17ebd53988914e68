/** The answers CloudFormation gets (physical ids, Fn::GetAtt data) and the error classes the provider tells apart. */
import type { AllocationView } from '../../shared/allocator/index.js';
import {
  AllocationNotFoundError,
  InvalidCidrError,
  InvalidIpError,
  PoolNotFoundError,
  SubnetNotFoundError,
  ValidationError,
} from '../../shared/errors.js';
import { type Subnet, type SubnetView, subnetView } from '../../shared/subnets/subnet.js';
import type { CustomResourceResult } from './request.js';

export function allocationPhysicalId(subnetId: string, ip: string): string {
  return `${subnetId}/${ip}`;
}

export function parseAllocationId(
  physicalId: string,
): { subnetId: string; ip: string } | undefined {
  const slash = physicalId.indexOf('/');
  if (slash <= 0 || slash === physicalId.length - 1) return undefined;
  return { subnetId: physicalId.slice(0, slash), ip: physicalId.slice(slash + 1) };
}

export function subnetResult(subnet: SubnetView): CustomResourceResult {
  return {
    physicalResourceId: subnet.id,
    data: { SubnetId: subnet.id, Cidr: subnet.cidr, GatewayIp: subnet.gatewayIp ?? '' },
  };
}

export function allocationResult(allocation: AllocationView): CustomResourceResult {
  return {
    physicalResourceId: allocationPhysicalId(allocation.subnetId, allocation.ip),
    data: { Ip: allocation.ip, SubnetId: allocation.subnetId },
  };
}

export const viewOf = (subnet: Subnet): SubnetView => subnetView(subnet, { all: 0n, inPools: 0n });

/** Input that cannot name anything this provider created. */
export function isInvalidInput(error: unknown): boolean {
  return (
    error instanceof ValidationError ||
    error instanceof InvalidCidrError ||
    error instanceof InvalidIpError
  );
}

/** "Already gone" for a Delete. */
export function isGone(error: unknown): boolean {
  return (
    error instanceof AllocationNotFoundError ||
    error instanceof SubnetNotFoundError ||
    error instanceof PoolNotFoundError
  );
}
