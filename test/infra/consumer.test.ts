/**
 * CDK apps as IPAM clients: the example consumer app (examples/consumer/app.ts), the
 * IpamSubnet and IpamAllocation constructs it uses, and the provider the IPAM stack
 * publishes for them. The example is synthesized like `cdk synth` does, offline.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type ConsumerStack, PLACEHOLDER_POOL_ID } from '../../examples/consumer/app.js';
import { PROVIDER_FUNCTION } from '../../infra/constructs/IpamProvider.js';
import {
  IpamAllocation,
  IpamSubnet,
  providerArnParameterName,
} from '../../infra/constructs/index.js';
import { PROJECT_ROOT } from '../../infra/functionSettings.js';
import { tableAccessOf } from '../../infra/tableAccess.js';
import { LIST_INDEX } from '../../shared/store/table.js';
import {
  actionsOf,
  logicalIdOf,
  resourcesOfType,
  roleStatements,
  type Synthesized,
  synthesize,
} from './synth.js';

const TOKEN = 'arn:aws:lambda:eu-west-1:123456789012:function:Ipam-Provider';
const POOL = 'pool_0123456789abcdefghijkl';

function consumer(context: Record<string, string> = {}): {
  stack: ConsumerStack;
  template: Template;
} {
  const { stack } = buildApp(new App({ context }));
  return { stack, template: Template.fromStack(stack) };
}

/** `Fn::GetAtt` of an IpamSubnet's or IpamAllocation's custom resource. */
const getAtt = (construct: IpamSubnet | IpamAllocation, attribute: string) => ({
  'Fn::GetAtt': [logicalIdOf(construct.resource), attribute],
});

describe('the example consumer app', () => {
  it('carves its /24 with Custom::IpamSubnet, the service token read from SSM by default', () => {
    const { stack, template } = consumer();
    template.resourceCountIs('Custom::IpamSubnet', 1);
    const parameter = Object.entries(
      template.toJSON().Parameters as Record<string, { Default?: string; Type: string }>,
    ).find(([, p]) => p.Default === providerArnParameterName('Ipam'));
    expect(parameter?.[1].Type).toBe('AWS::SSM::Parameter::Value<String>');
    template.hasResourceProperties('Custom::IpamSubnet', {
      ServiceToken: { Ref: parameter?.[0] },
      PoolId: PLACEHOLDER_POOL_ID,
      PrefixLength: 24,
      Name: 'IpamConsumer VPC',
      Tags: { app: 'consumer' },
      ServiceTimeout: '900',
    });
    template.hasResource('Custom::IpamSubnet', { DeletionPolicy: 'Delete' });
    // The placeholder pool is called out at synth time.
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('No ipamPoolId'));
  });

  it('puts the VPC on the carved CIDR and lays its four /26 subnets out in it', () => {
    const { stack, template } = consumer({ ipamPoolId: POOL });
    template.hasResourceProperties('AWS::EC2::VPC', {
      CidrBlock: getAtt(stack.subnet, 'Cidr'),
    });
    const vpcCidr = { 'Fn::GetAtt': [logicalIdOf(stack.vpc), 'CidrBlock'] };
    const subnets = Object.values(resourcesOfType(template, 'AWS::EC2::Subnet'));
    expect(
      subnets
        .map((s) => s.Properties?.CidrBlock)
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual(
      [0, 1, 2, 3].map((i) => ({ 'Fn::Select': [i, { 'Fn::Cidr': [vpcCidr, i + 1, '6'] }] })),
    );
    expect(Annotations.fromStack(stack).findWarning('*', Match.anyValue())).toEqual([]);
  });

  it('reserves the load balancer address with Custom::IpamAllocation and puts the NLB on it', () => {
    const { stack, template } = consumer({ ipamPoolId: POOL });
    template.resourceCountIs('Custom::IpamAllocation', 1);
    template.hasResourceProperties('Custom::IpamAllocation', {
      SubnetId: getAtt(stack.subnet, 'SubnetId'),
      // The 13th address of the first private subnet.
      Ip: {
        'Fn::Select': [
          0,
          {
            'Fn::Split': ['/', { 'Fn::Select': [3, { 'Fn::Cidr': [Match.anyValue(), 4, '2'] }] }],
          },
        ],
      },
      Owner: 'IpamConsumer/load-balancer',
      Description: Match.stringLikeRegexp('Network Load Balancer'),
      Strategy: Match.absent(),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Type: 'network',
      Scheme: 'internal',
      SubnetMappings: [
        {
          SubnetId: stack.resolve(stack.vpc.isolatedSubnets[0]!.subnetId),
          PrivateIPv4Address: getAtt(stack.loadBalancerAddress, 'Ip'),
        },
      ],
    });
    template.hasOutput('LoadBalancerIp', { Value: getAtt(stack.loadBalancerAddress, 'Ip') });
    template.hasOutput('VpcCidr', { Value: getAtt(stack.subnet, 'Cidr') });
  });

  it('takes the service token, the IPAM stack name and its own name from the context', () => {
    const direct = consumer({ ipamServiceToken: TOKEN, ipamPoolId: POOL, stackName: 'Team1' });
    expect(direct.stack.stackName).toBe('Team1');
    direct.template.hasResourceProperties('Custom::IpamSubnet', {
      ServiceToken: TOKEN,
      PoolId: POOL,
    });
    direct.template.hasResourceProperties('Custom::IpamAllocation', { ServiceToken: TOKEN });
    expect(JSON.stringify(direct.template.toJSON().Parameters)).not.toContain('provider-arn');
    const other = consumer({ ipamStackName: 'IpamTest' });
    expect(JSON.stringify(other.template.toJSON().Parameters)).toContain(
      '"Default":"/ipam/IpamTest/provider-arn"',
    );
  });

  it('`npx cdk synth -a "npx tsx examples/consumer/app.ts"` works offline', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'ipam-consumer-'));
    try {
      execFileSync(
        'npx',
        [
          'cdk',
          'synth',
          '-a',
          'npx tsx examples/consumer/app.ts',
          '-o',
          outdir,
          '--quiet',
          '--no-notices',
        ],
        {
          cwd: PROJECT_ROOT,
          env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
          stdio: 'pipe',
          timeout: 120_000,
        },
      );
      const template = Template.fromJSON(
        JSON.parse(readFileSync(join(outdir, 'IpamConsumer.template.json'), 'utf8')),
      );
      template.resourceCountIs('Custom::IpamSubnet', 1);
      template.resourceCountIs('Custom::IpamAllocation', 1);
      template.resourceCountIs('AWS::EC2::VPC', 1);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 150_000);
});

describe('IpamSubnet and IpamAllocation', () => {
  const stack = () => new Stack(new App(), 'Client');

  it('map their props to the provider properties and expose the attributes as tokens', () => {
    const scope = stack();
    const subnet = new IpamSubnet(scope, 'Net', {
      serviceToken: TOKEN,
      poolId: POOL,
      cidr: '10.1.2.0/24',
    });
    const address = new IpamAllocation(scope, 'Addr', {
      serviceToken: TOKEN,
      subnetId: subnet.subnetId,
      strategy: 'sequential',
      tags: { role: 'dns' },
    });
    expect(subnet.prefixLength).toBe(24);
    const template = Template.fromStack(scope);
    template.hasResourceProperties(IpamSubnet.RESOURCE_TYPE, {
      ServiceToken: TOKEN,
      PoolId: POOL,
      Cidr: '10.1.2.0/24',
      PrefixLength: Match.absent(),
      Name: Match.absent(),
    });
    template.hasResourceProperties(IpamAllocation.RESOURCE_TYPE, {
      SubnetId: getAtt(subnet, 'SubnetId'),
      Strategy: 'sequential',
      Tags: { role: 'dns' },
      Ip: Match.absent(),
    });
    expect(scope.resolve(subnet.gatewayIp)).toEqual(getAtt(subnet, 'GatewayIp'));
    expect(scope.resolve(address.ip)).toEqual(getAtt(address, 'Ip'));
    expect(scope.resolve(address.subnetId)).toEqual(getAtt(address, 'SubnetId'));
  });

  it('reject contradictory props at synth time', () => {
    const scope = stack();
    expect(
      () =>
        new IpamSubnet(scope, 'A', {
          serviceToken: TOKEN,
          poolId: POOL,
          prefixLength: 24,
          cidr: '10.0.0.0/24',
        }),
    ).toThrow(/prefixLength or cidr, not both/);
    expect(
      () => new IpamSubnet(scope, 'B', { serviceToken: TOKEN, poolId: POOL, prefixLength: 24.5 }),
    ).toThrow(/whole number/);
    expect(
      () =>
        new IpamAllocation(scope, 'C', {
          serviceToken: TOKEN,
          subnetId: 's',
          ip: '10.0.0.5',
          strategy: 'random',
        }),
    ).toThrow(/at most one of strategy, ip and macAddress/);
  });

  it('vpcIpAddresses() needs a known prefix length and a cidrMask that fits for every subnet', () => {
    const scope = stack();
    const unsized = new IpamSubnet(scope, 'Unsized', { serviceToken: TOKEN, poolId: POOL });
    expect(() => unsized.vpcIpAddresses()).toThrow(/needs prefixLength/);
    const sized = new IpamSubnet(scope, 'Sized', {
      serviceToken: TOKEN,
      poolId: POOL,
      prefixLength: 24,
    });
    expect(
      () =>
        new ec2.Vpc(scope, 'NoMask', {
          ipAddresses: sized.vpcIpAddresses(),
          maxAzs: 2,
          natGateways: 0,
          subnetConfiguration: [{ name: 'a', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
        }),
    ).toThrow(/needs a cidrMask from 24 to 28/);
    expect(
      () =>
        new ec2.Vpc(scope, 'TooMany', {
          ipAddresses: sized.vpcIpAddresses(),
          maxAzs: 2,
          natGateways: 0,
          // 2 AZs × 2 × /25 is twice the /24.
          subnetConfiguration: [
            { name: 'a', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 25 },
            { name: 'b', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 25 },
          ],
        }),
    ).toThrow(/do not fit in a \/24/);
  });

  it('lays mixed subnet sizes out aligned, in order', () => {
    const scope = stack();
    const subnet = new IpamSubnet(scope, 'Net', {
      serviceToken: TOKEN,
      poolId: POOL,
      prefixLength: 22,
    });
    const vpc = new ec2.Vpc(scope, 'Vpc', {
      ipAddresses: subnet.vpcIpAddresses(),
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [
        { name: 'small', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 26 },
        { name: 'big', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    const vpcCidr = { 'Fn::GetAtt': [logicalIdOf(vpc), 'CidrBlock'] };
    const cidrs = vpc.isolatedSubnets.map((s) => scope.resolve(s.ipv4CidrBlock));
    // small /26 at 0 and 1 (offsets 0, 64), then the /24s aligned at offsets 256 and 512.
    expect(cidrs).toEqual([
      { 'Fn::Select': [0, { 'Fn::Cidr': [vpcCidr, 1, '6'] }] },
      { 'Fn::Select': [1, { 'Fn::Cidr': [vpcCidr, 2, '6'] }] },
      { 'Fn::Select': [1, { 'Fn::Cidr': [vpcCidr, 2, '8'] }] },
      { 'Fn::Select': [2, { 'Fn::Cidr': [vpcCidr, 3, '8'] }] },
    ]);
  });
});

describe('the provider in the IPAM stack', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({
      alarmEmail: 'ops@example.com',
      reservedConcurrency: '{"customResource": 3}',
    });
  }, 120_000);
  afterAll(() => synth?.cleanUp());

  const provider = () => synth.stack.provider;

  it('is one function with the stack settings, its own role, log group and async retries', () => {
    const fn = provider().function;
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Role: { 'Fn::GetAtt': [logicalIdOf(fn.role), 'Arn'] },
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 120,
      ReservedConcurrentExecutions: 3,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: logicalIdOf(fn.logGroup) } },
      Environment: {
        Variables: Match.objectLike({
          IPAM_TABLE_NAME: { Ref: logicalIdOf(synth.stack.tables.table) },
        }),
      },
    });
    synth.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalIdOf(fn.function) },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
    });
    expect(synth.stack.functions.has(PROVIDER_FUNCTION)).toBe(false);
    expect(
      resourcesOfType(synth.template, 'AWS::IAM::Role')[logicalIdOf(fn.role)]?.Properties
        ?.ManagedPolicyArns,
    ).toBeUndefined();
  });

  it('may use the main table and its index, and not the idempotency table', () => {
    const access = tableAccessOf(PROVIDER_FUNCTION);
    expect(access).toMatchObject({ index: true, idempotency: false });
    const statements = (
      roleStatements(synth.template).get(logicalIdOf(provider().function.role)) ?? []
    ).filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    const bySid = new Map(statements.map((s) => [s.Sid, s]));
    expect([...bySid.keys()].sort()).toEqual(['ListIndex', 'MainTable']);
    expect(new Set(actionsOf(bySid.get('MainTable')!))).toEqual(
      new Set(access.table.map((a) => `dynamodb:${a}`)),
    );
    expect(bySid.get('MainTable')?.Resource).toEqual({
      'Fn::GetAtt': [logicalIdOf(synth.stack.tables.table), 'Arn'],
    });
    expect(JSON.stringify(bySid.get('ListIndex')?.Resource)).toContain(`/index/${LIST_INDEX.name}`);
    expect(JSON.stringify(statements)).not.toContain(
      logicalIdOf(synth.stack.tables.idempotencyTable),
    );
  });

  it('publishes its ARN as an output and in the SSM parameter /ipam/<stack>/provider-arn', () => {
    const arn = { 'Fn::GetAtt': [logicalIdOf(provider().function.function), 'Arn'] };
    synth.template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/ipam/Ipam/provider-arn',
      Type: 'String',
      Value: arn,
    });
    synth.template.hasOutput('CustomResourceProviderArn', { Value: arn });
    synth.template.hasOutput('CustomResourceProviderParameter', {
      Value: { Ref: logicalIdOf(provider().parameter) },
    });
  });

  it('alarms on its failures and throttles, to the alarm topic', () => {
    const topic = Object.keys(resourcesOfType(synth.template, 'AWS::SNS::Topic'))[0]!;
    for (const metric of ['Errors', 'Throttles']) {
      synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [
          { Name: 'FunctionName', Value: { Ref: logicalIdOf(provider().function.function) } },
        ],
        AlarmActions: [{ Ref: topic }],
        OKActions: [{ Ref: topic }],
      });
    }
  });

  it('keeps cdk-nag AwsSolutions clean', () => {
    expect(synth.nagFindings).toEqual([]);
  });

  it('an unknown reservedConcurrency name lists the provider among the functions', () => {
    expect(() => synthesize({ reservedConcurrency: '{"reports": 1}' })).toThrow(
      /not a function: .*customResource/,
    );
  });
});
