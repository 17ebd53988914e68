/**
 * An address allocated from an IPAM subnet while another CDK app deploys
 * (`Custom::IpamAllocation`, served by the provider of infra/constructs/IpamProvider.ts).
 * Depends on aws-cdk-lib and constructs only, so it can be copied into any CDK app.
 */
import { CustomResource, type Duration, type RemovalPolicy, Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DEFAULT_SERVICE_TIMEOUT } from './IpamSubnet.js';

export interface IpamAllocationProps {
  /** The provider's ARN: `ipamServiceToken(scope)`, or the IPAM stack's output. */
  readonly serviceToken: string;
  /** The IPAM subnet (e.g. `IpamSubnet.subnetId`). Changing it allocates anew and releases the old address. */
  readonly subnetId: string;
  /** How the address is picked (default random); ignored once allocated. */
  readonly strategy?: 'random' | 'sequential';
  /** This exact address. Replaces on change. */
  readonly ip?: string;
  /** The EUI-64 address of this MAC (IPv6 /64 subnets). Replaces on change. */
  readonly macAddress?: string;
  /** Default `cfn:<stack name>/<logical id>`. Updated in place. */
  readonly owner?: string;
  /** Updated in place. */
  readonly description?: string;
  /** Updated in place; keys starting with `ipam:cfn-` are the provider's. */
  readonly tags?: Record<string, string>;
  /** `RemovalPolicy.RETAIN` keeps the address allocated when the resource leaves the stack. */
  readonly removalPolicy?: RemovalPolicy;
  /** Default 15 minutes. */
  readonly serviceTimeout?: Duration;
}

export class IpamAllocation extends Construct {
  static readonly RESOURCE_TYPE = 'Custom::IpamAllocation';

  readonly resource: CustomResource;
  /** The allocated address (a token). */
  readonly ip: string;
  /** The IPAM subnet it belongs to (a token). */
  readonly subnetId: string;

  constructor(scope: Construct, id: string, props: IpamAllocationProps) {
    super(scope, id);
    const choices = [props.strategy, props.ip, props.macAddress].filter((v) => v !== undefined);
    if (choices.length > 1) {
      throw new Error(`${this.node.path}: give at most one of strategy, ip and macAddress.`);
    }
    if (
      props.strategy !== undefined &&
      !Token.isUnresolved(props.strategy) &&
      !['random', 'sequential'].includes(props.strategy)
    ) {
      throw new Error(`${this.node.path}: strategy must be random or sequential.`);
    }
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: props.serviceToken,
      resourceType: IpamAllocation.RESOURCE_TYPE,
      properties: {
        SubnetId: props.subnetId,
        Strategy: props.strategy,
        Ip: props.ip,
        MacAddress: props.macAddress,
        Owner: props.owner,
        Description: props.description,
        Tags: props.tags,
      },
      serviceTimeout: props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT,
      ...(props.removalPolicy === undefined ? {} : { removalPolicy: props.removalPolicy }),
    });
    this.ip = this.resource.getAttString('Ip');
    this.subnetId = this.resource.getAttString('SubnetId');
  }
}
