/**
 * A CDK app that uses a deployed IPAM while it deploys: it carves a /24 for its VPC
 * from an IPAM subnet pool, lays the VPC's subnets out in it, and reserves an address
 * of a private subnet in IPAM for an internal Network Load Balancer.
 *
 *   npx cdk synth -a "npx tsx examples/consumer/app.ts" -c ipamPoolId=pool_…
 *
 * Context (all optional for synth):
 *   ipamPoolId        the subnet pool to carve from (a placeholder otherwise: the synth
 *                     warns, and a deploy fails with POOL_NOT_FOUND)
 *   ipamStackName     the IPAM stack whose SSM parameter holds the provider ARN (Ipam)
 *   ipamServiceToken  the provider ARN itself, instead of reading it from SSM
 *   stackName         this stack's name (IpamConsumer)
 */
import { pathToFileURL } from 'node:url';
import { Annotations, App, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type { Construct } from 'constructs';
import { IpamAllocation, IpamSubnet, ipamServiceToken } from '../../infra/constructs/index.js';

/** Not a pool: a deploy with it fails with POOL_NOT_FOUND, which says what to set. */
export const PLACEHOLDER_POOL_ID = 'pool_SET-ipamPoolId-IN-CONTEXT';

export interface ConsumerStackProps extends StackProps {
  readonly poolId: string;
  /** The provider ARN; read from the IPAM stack's SSM parameter when absent. */
  readonly serviceToken?: string;
  /** Default `Ipam`. */
  readonly ipamStackName?: string;
}

export class ConsumerStack extends Stack {
  readonly subnet: IpamSubnet;
  readonly vpc: ec2.Vpc;
  readonly loadBalancerAddress: IpamAllocation;
  readonly loadBalancer: elbv2.NetworkLoadBalancer;

  constructor(scope: Construct, id: string, props: ConsumerStackProps) {
    super(scope, id, props);
    if (props.poolId === PLACEHOLDER_POOL_ID) {
      Annotations.of(this).addWarningV2(
        'ipam:placeholder-pool',
        'No ipamPoolId in the context: the template carves from a placeholder pool and will fail to deploy with POOL_NOT_FOUND.',
      );
    }
    const serviceToken = props.serviceToken ?? ipamServiceToken(this, props.ipamStackName);

    this.subnet = new IpamSubnet(this, 'VpcBlock', {
      serviceToken,
      poolId: props.poolId,
      prefixLength: 24,
      name: `${id} VPC`,
      tags: { app: 'consumer' },
    });

    // Two AZs × (public, private) /26s fill the /24.
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: this.subnet.vpcIpAddresses(),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 26 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 26 },
      ],
    });

    // The load balancer's address must lie in its subnet and avoid the 4 addresses
    // AWS reserves at the start of it: the 13th address (offset 12) of the first
    // private subnet. IPAM records it, so nothing else in IPAM gets it, and refuses it
    // (IP_ALREADY_ALLOCATED fails the deploy) if someone holds it already.
    const lbSubnet = this.vpc.isolatedSubnets[0]!;
    const ip = Fn.select(0, Fn.split('/', Fn.select(3, Fn.cidr(lbSubnet.ipv4CidrBlock, 4, '2'))));
    this.loadBalancerAddress = new IpamAllocation(this, 'LoadBalancerAddress', {
      serviceToken,
      subnetId: this.subnet.subnetId,
      ip,
      owner: `${id}/load-balancer`,
      description: 'Private address of the internal Network Load Balancer',
    });

    this.loadBalancer = new elbv2.NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      internetFacing: false,
      subnetMappings: [{ subnet: lbSubnet, privateIpv4Address: this.loadBalancerAddress.ip }],
    });

    new CfnOutput(this, 'VpcCidr', { value: this.subnet.cidr });
    new CfnOutput(this, 'IpamSubnetId', { value: this.subnet.subnetId });
    new CfnOutput(this, 'LoadBalancerIp', { value: this.loadBalancerAddress.ip });
  }
}

/** The app as `cdk synth` runs it: options from the context, placeholders for synth. */
export function buildApp(app = new App()): { app: App; stack: ConsumerStack } {
  const context = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return value === undefined || value === '' ? undefined : String(value);
  };
  const serviceToken = context('ipamServiceToken');
  const ipamStackName = context('ipamStackName');
  const stack = new ConsumerStack(app, context('stackName') ?? 'IpamConsumer', {
    poolId: context('ipamPoolId') ?? PLACEHOLDER_POOL_ID,
    ...(serviceToken === undefined ? {} : { serviceToken }),
    ...(ipamStackName === undefined ? {} : { ipamStackName }),
    description: 'Example consumer of IPAM: a VPC on a carved /24 and a reserved NLB address',
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  return { app, stack };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildApp().app.synth();
}
