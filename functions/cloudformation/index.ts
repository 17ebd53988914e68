/** The CloudFormation custom-resource provider: what a request does (handler: ../customResource.ts). */
export {
  type AllocationSpec,
  allocationPhysicalId,
  CFN_TAG_PREFIX,
  CFN_TAGS,
  CustomResourceProvider,
  type CustomResourceRequest,
  type CustomResourceResult,
  failedCreateId,
  failureReason,
  kindOf,
  parseAllocationProperties,
  parseSubnetProperties,
  RESOURCE_TYPES,
  type RequestRef,
  type ResourceKind,
  requestRefOf,
  type SubnetSpec,
} from './provider.js';
export { putResponse, type SendResponse } from './response.js';
