/**
 * A subnet carved from an IPAM subnet pool while another CDK app deploys
 * (`Custom::IpamSubnet`, served by the provider of infra/constructs/IpamProvider.ts).
 * Depends on aws-cdk-lib and constructs only, so it can be copied into any CDK app.
 */
import { CustomResource, Duration, Fn, type RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';

/** The SSM parameter an IPAM stack publishes its provider's ARN (the service token) in. */
export function providerArnParameterName(ipamStackName = 'Ipam'): string {
  return `/ipam/${ipamStackName}/provider-arn`;
}

/**
 * The service token of the IPAM stack `ipamStackName` in this account and region, read
 * from its SSM parameter when the stack deploys (a CloudFormation parameter; nothing
 * is looked up at synth time).
 */
export function ipamServiceToken(scope: Construct, ipamStackName = 'Ipam'): string {
  return ssm.StringParameter.valueForStringParameter(
    scope,
    providerArnParameterName(ipamStackName),
  );
}

/** How long CloudFormation waits for the provider before it fails the resource. */
export const DEFAULT_SERVICE_TIMEOUT = Duration.minutes(15);

export interface IpamSubnetProps {
  /** The provider's ARN: `ipamServiceToken(scope)`, or the IPAM stack's output. */
  readonly serviceToken: string;
  /** The subnet pool to carve from. Changing it carves a new subnet (and deletes the old one). */
  readonly poolId: string;
  /** The size of the subnet; the pool's default when neither this nor `cidr` is given. Replaces on change. */
  readonly prefixLength?: number;
  /** An exact block of the pool instead of the best fit. Replaces on change. */
  readonly cidr?: string;
  /** Default `cfn:<stack name>/<logical id>`. Updated in place. */
  readonly name?: string;
  /** Updated in place; keys starting with `ipam:cfn-` are the provider's. */
  readonly tags?: Record<string, string>;
  /** The release cool-down: a released address stays QUARANTINED this long. Default none. Updated in place. */
  readonly reuseDelay?: Duration;
  /** `RemovalPolicy.RETAIN` keeps the subnet in IPAM when the resource leaves the stack. */
  readonly removalPolicy?: RemovalPolicy;
  /** Default 15 minutes. */
  readonly serviceTimeout?: Duration;
}

export class IpamSubnet extends Construct {
  static readonly RESOURCE_TYPE = 'Custom::IpamSubnet';

  readonly resource: CustomResource;
  /** The carved CIDR, e.g. `10.64.3.0/24` (a token). */
  readonly cidr: string;
  /** The IPAM subnet id, for `IpamAllocation` (a token). */
  readonly subnetId: string;
  /** The subnet's gateway address in IPAM; empty when it has none (a token). */
  readonly gatewayIp: string;
  /** The prefix length when known at synth time (from `prefixLength` or `cidr`). */
  readonly prefixLength?: number;

  constructor(scope: Construct, id: string, props: IpamSubnetProps) {
    super(scope, id);
    if (props.prefixLength !== undefined && props.cidr !== undefined) {
      throw new Error(`${this.node.path}: give prefixLength or cidr, not both.`);
    }
    if (
      props.prefixLength !== undefined &&
      !Token.isUnresolved(props.prefixLength) &&
      (!Number.isInteger(props.prefixLength) || props.prefixLength < 0 || props.prefixLength > 128)
    ) {
      throw new Error(`${this.node.path}: prefixLength must be a whole number from 0 to 128.`);
    }
    const reuseDelaySeconds = props.reuseDelay?.toSeconds({ integral: true });
    if (
      reuseDelaySeconds !== undefined &&
      !Token.isUnresolved(reuseDelaySeconds) &&
      reuseDelaySeconds > 86_400
    ) {
      throw new Error(`${this.node.path}: reuseDelay must be at most one day.`);
    }
    this.prefixLength = knownPrefixLength(props);
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: props.serviceToken,
      resourceType: IpamSubnet.RESOURCE_TYPE,
      properties: {
        PoolId: props.poolId,
        PrefixLength: props.prefixLength,
        Cidr: props.cidr,
        Name: props.name,
        Tags: props.tags,
        ReuseDelaySeconds: reuseDelaySeconds,
      },
      serviceTimeout: props.serviceTimeout ?? DEFAULT_SERVICE_TIMEOUT,
      ...(props.removalPolicy === undefined ? {} : { removalPolicy: props.removalPolicy }),
    });
    this.cidr = this.resource.getAttString('Cidr');
    this.subnetId = this.resource.getAttString('SubnetId');
    this.gatewayIp = this.resource.getAttString('GatewayIp');
  }

  /**
   * `ipAddresses` for an `ec2.Vpc` on this subnet. `ec2.IpAddresses.cidr()` needs a
   * literal CIDR to lay out the subnets, and this one is only known at deploy time;
   * this lays them out with `Fn::Cidr` instead. Needs the prefix length at synth
   * time and a `cidrMask` on every `subnetConfiguration` (IPv4).
   */
  vpcIpAddresses(): ec2.IIpAddresses {
    if (this.prefixLength === undefined) {
      throw new Error(
        `${this.node.path}: vpcIpAddresses() needs prefixLength (or cidr) to lay out the VPC's subnets.`,
      );
    }
    return new TokenCidrIpAddresses(this.cidr, this.prefixLength, this.node.path);
  }
}

function knownPrefixLength(props: IpamSubnetProps): number | undefined {
  if (props.prefixLength !== undefined && !Token.isUnresolved(props.prefixLength)) {
    return props.prefixLength;
  }
  if (props.cidr !== undefined && !Token.isUnresolved(props.cidr)) {
    const length = Number(props.cidr.split('/')[1]);
    return Number.isInteger(length) ? length : undefined;
  }
  return undefined;
}

/** VPC subnets laid out in a CIDR known only at deploy time: aligned, in request order. */
class TokenCidrIpAddresses implements ec2.IIpAddresses {
  constructor(
    private readonly cidr: string,
    private readonly prefixLength: number,
    private readonly path: string,
  ) {}

  allocateVpcCidr(): ec2.VpcIpamOptions {
    return { cidrBlock: this.cidr };
  }

  allocateSubnetsCidr(input: ec2.AllocateCidrRequest): ec2.SubnetIpamOptions {
    if (this.prefixLength > 28) throw new Error(`${this.path}: a VPC CIDR is /16 to /28.`);
    const vpcSize = 2n ** BigInt(32 - this.prefixLength);
    let next = 0n;
    const allocatedSubnets = input.requestedSubnets.map(({ configuration }) => {
      const mask = configuration.cidrMask;
      if (mask === undefined || mask < this.prefixLength || mask > 28) {
        throw new Error(
          `${this.path}: subnet configuration '${configuration.name}' needs a cidrMask from ${this.prefixLength} to 28.`,
        );
      }
      const size = 2n ** BigInt(32 - mask);
      next = ((next + size - 1n) / size) * size;
      const index = Number(next / size);
      next += size;
      if (next > vpcSize || index > 255) {
        throw new Error(`${this.path}: the VPC's subnets do not fit in a /${this.prefixLength}.`);
      }
      // The index-th /mask block of the VPC's CIDR.
      return { cidr: Fn.select(index, Fn.cidr(input.vpcCidr, index + 1, String(32 - mask))) };
    });
    return { allocatedSubnets };
  }
}
