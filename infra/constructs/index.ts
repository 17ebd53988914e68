/**
 * What another CDK app needs to use this IPAM while it deploys: the two custom
 * resources and the service-token lookup. Only aws-cdk-lib and constructs behind
 * them (the stack's own constructs, IpamProvider included, are imported directly).
 */
export { IpamAllocation, type IpamAllocationProps } from './IpamAllocation.js';
export {
  DEFAULT_SERVICE_TIMEOUT,
  IpamSubnet,
  type IpamSubnetProps,
  ipamServiceToken,
  providerArnParameterName,
} from './IpamSubnet.js';
