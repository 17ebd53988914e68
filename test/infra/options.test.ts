/**
 * The context options (infra/config.ts) and what each does to the template. These
 * stacks skip bundling (placeholder assets): stack.test.ts bundles for real once.
 * cdk-nag runs on every variant.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES, type Route } from '../../functions/http/routes.js';
import { ConfigError, parseConfig } from '../../infra/config.js';
import { AUDIT_FUNCTION } from '../../infra/IpamStack.js';
import {
  apiMethods,
  logicalIdOf,
  resourcesOfType,
  roleStatements,
  type Synthesized,
  synthesize,
} from './synth.js';

const VPCE = 'vpce-0123456789abcdef0';
const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const WEB_ACL_ARN =
  'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/ipam/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111';

describe('context parsing', () => {
  it('has safe defaults', () => {
    expect(parseConfig({})).toEqual({
      stackName: 'Ipam',
      ephemeral: false,
      tableEncryption: 'aws-managed',
      logLevel: 'INFO',
      logRetentionDays: 30,
      reservedConcurrency: { byFunction: {} },
      throttleRateLimit: 100,
      throttleBurstLimit: 200,
      privateApi: false,
      apiCloudWatchRole: true,
      auditSchedule: 'rate(1 hour)',
      historyRetentionDays: 90,
      deriveHints: false,
    });
  });

  it('reads deriveHints', () => {
    expect(parseConfig({ deriveHints: 'true' }).deriveHints).toBe(true);
    expect(() => parseConfig({ deriveHints: 'yes' })).toThrow(/deriveHints/);
  });

  it('reads historyRetentionDays and refuses nonsense', () => {
    expect(parseConfig({ historyRetentionDays: '30' }).historyRetentionDays).toBe(30);
    expect(() => parseConfig({ historyRetentionDays: 0 })).toThrow(/historyRetentionDays/);
  });

  it('reads command-line strings and cdk.json values alike', () => {
    const fromCli = parseConfig({
      ephemeral: 'true',
      throttleRateLimit: '50',
      reservedConcurrency: '{"allocations": 20, "auditSchedule": 1}',
      privateApi: 'true',
      vpcEndpointId: VPCE,
    });
    const fromJson = parseConfig({
      ephemeral: true,
      throttleRateLimit: 50,
      reservedConcurrency: { allocations: 20, auditSchedule: 1 },
      privateApi: true,
      vpcEndpointId: VPCE,
    });
    expect(fromCli).toEqual(fromJson);
    expect(fromCli.reservedConcurrency).toEqual({
      byFunction: { allocations: 20, auditSchedule: 1 },
    });
    expect(parseConfig({ reservedConcurrency: '5' }).reservedConcurrency).toEqual({
      all: 5,
      byFunction: {},
    });
    expect(parseConfig({ tableKeyArn: KEY_ARN }).tableEncryption).toBe('customer-managed');
  });

  it.each([
    [{ privateApi: 'true' }, /vpcEndpointId/],
    [{ vpcEndpointId: VPCE }, /only used with privateApi/],
    [{ privateApi: 'true', vpcEndpointId: 'vpc-123' }, /vpcEndpointId must match/],
    [{ ephemeral: 'yes' }, /ephemeral must be true or false/],
    [{ auditSchedule: 'every hour' }, /auditSchedule must match/],
    [{ logRetentionDays: '10' }, /logRetentionDays must be one of/],
    [{ throttleRateLimit: '-1' }, /throttleRateLimit must be an integer/],
    [{ tableEncryption: 'none' }, /tableEncryption must be one of/],
    [{ tableEncryption: 'aws-managed', tableKeyArn: KEY_ARN }, /customer-managed key/],
    [{ reservedConcurrency: '{"meta": "x"}' }, /reservedConcurrency.meta must be an integer/],
    [{ alarmEmail: 'ops' }, /alarmEmail must match/],
    [{ logLevel: 'verbose' }, /logLevel must be one of/],
  ])('rejects %j', (values, message) => {
    expect(() => parseConfig(values)).toThrow(ConfigError);
    expect(() => parseConfig(values)).toThrow(message);
  });

  it('rejects reserved concurrency for a function that does not exist', () => {
    expect(() => synthesize({ reservedConcurrency: '{"nope": 1}' })).toThrow(
      /'nope'.*not a function/,
    );
  });
});

describe('privateApi=true', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({ privateApi: 'true', vpcEndpointId: VPCE });
  }, 120_000);
  afterAll(() => synth?.cleanUp());

  it('is a PRIVATE endpoint of that VPC endpoint', () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['PRIVATE'], VpcEndpointIds: [VPCE] },
    });
  });

  it('has a resource policy that only lets requests through that endpoint', () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Policy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
            Condition: { StringNotEquals: { 'aws:SourceVpce': VPCE } },
          }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'execute-api:Invoke',
            Resource: 'execute-api:/*',
            Condition: { StringEquals: { 'aws:SourceVpce': VPCE } },
          }),
        ]),
      },
    });
  });

  it('allows the public routes anonymously (still only through the endpoint)', () => {
    const publicRoutes = ROUTES.filter((route) => route.public === true);
    expect(publicRoutes.length).toBeGreaterThan(0);
    synth.template.hasResourceProperties('AWS::ApiGateway::RestApi', {
      Policy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { AWS: '*' },
            Resource:
              publicRoutes.length === 1
                ? `execute-api:/*/${publicRoutes[0]!.method}${publicRoutes[0]!.path}`
                : publicRoutes.map((r) => `execute-api:/*/${r.method}${r.path}`),
            Condition: { StringEquals: { 'aws:SourceVpce': VPCE } },
          }),
        ]),
      },
    });
  });

  it('keeps IAM auth on every data route and passes cdk-nag', () => {
    const open = apiMethods(synth.template).filter((m) => m.authorizationType !== 'AWS_IAM');
    expect(open.map((m) => `${m.httpMethod} ${m.path}`)).toEqual(['GET /health']);
    expect(synth.nagFindings).toEqual([]);
  });
});

describe('ephemeral=true', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({ ephemeral: 'true', stackName: 'IpamTest' });
  }, 120_000);
  afterAll(() => synth?.cleanUp());

  it('tables are destroyed with the stack and not deletion-protected, PITR stays on', () => {
    expect(synth.stack.stackName).toBe('IpamTest');
    const tables = Object.values(resourcesOfType(synth.template, 'AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(2);
    for (const table of tables) {
      expect(table).toMatchObject({
        DeletionPolicy: 'Delete',
        Properties: {
          DeletionProtectionEnabled: false,
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        },
      });
    }
    synth.template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    expect(synth.nagFindings).toEqual([]);
  });
});

describe('tableEncryption=customer-managed', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({ tableEncryption: 'customer-managed' });
  }, 120_000);
  afterAll(() => synth?.cleanUp());

  it('creates a rotating key and encrypts both tables with it', () => {
    const key = logicalIdOf(synth.stack.tables.key as never);
    synth.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const tables = Object.values(resourcesOfType(synth.template, 'AWS::DynamoDB::Table'));
    for (const table of tables) {
      expect(table.Properties?.SSESpecification).toEqual({
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] },
      });
    }
  });

  it('lets the data functions use the key only through DynamoDB, and not the meta function', () => {
    const statements = roleStatements(synth.template);
    for (const [name, fn] of synth.stack.functions) {
      const kms = (statements.get(logicalIdOf(fn.role)) ?? []).filter(
        (s) => s.Sid === 'TableKeyViaDynamoDB',
      );
      if (name === 'meta') {
        expect(kms).toEqual([]);
        continue;
      }
      expect(kms).toHaveLength(1);
      expect(kms[0]).toMatchObject({
        Resource: { 'Fn::GetAtt': [logicalIdOf(synth.stack.tables.key as never), 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': expect.anything() } },
      });
      expect(JSON.stringify(kms[0]?.Action)).not.toContain('*');
    }
    expect(synth.nagFindings).toEqual([]);
  });
});

describe('tableKeyArn=<existing key>', () => {
  it('encrypts with the imported key and grants it by ARN', () => {
    const synth = synthesize({ tableKeyArn: KEY_ARN });
    try {
      synth.template.resourceCountIs('AWS::KMS::Key', 0);
      synth.template.hasResourceProperties('AWS::DynamoDB::Table', {
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: KEY_ARN },
      });
      synth.template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Sid: 'TableKeyViaDynamoDB', Resource: KEY_ARN }),
          ]),
        },
      });
      expect(synth.nagFindings).toEqual([]);
    } finally {
      synth.cleanUp();
    }
  });
});

describe('alarmEmail=…', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({ alarmEmail: 'ops@example.com' });
  }, 120_000);
  afterAll(() => synth?.cleanUp());

  it('notifies an encrypted, TLS-only topic on every alarm', () => {
    synth.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    synth.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' } }),
        ]),
      },
    });
    const topic = Object.keys(resourcesOfType(synth.template, 'AWS::SNS::Topic'))[0]!;
    const alarms = Object.values(resourcesOfType(synth.template, 'AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      expect(alarm.Properties?.AlarmActions).toEqual([{ Ref: topic }]);
    }
    // CloudWatch must be able to use the topic's key.
    synth.template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: Match.arrayWith(['kms:Decrypt']),
          }),
        ]),
      },
    });
    expect(synth.nagFindings).toEqual([]);
  });
});

describe('webAclArn=…', () => {
  it('associates the web ACL with the stage', () => {
    const synth = synthesize({ webAclArn: WEB_ACL_ARN });
    try {
      synth.template.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
        WebACLArn: WEB_ACL_ARN,
        ResourceArn: Match.anyValue(),
      });
      expect(synth.nagFindings).toEqual([]);
    } finally {
      synth.cleanUp();
    }
  });
});

describe('tuning options', () => {
  let synth: Synthesized;
  beforeAll(() => {
    synth = synthesize({
      throttleRateLimit: '25',
      throttleBurstLimit: '50',
      auditSchedule: 'cron(0 */6 * * ? *)',
      auditGraceMs: '600000',
      reservedConcurrency: '{"allocations": 40, "auditSchedule": 1}',
      logLevel: 'DEBUG',
      logRetentionDays: '90',
      apiCloudWatchRole: 'false',
    });
  }, 120_000);
  afterAll(() => synth?.cleanUp());

  it('throttles the stage as asked', () => {
    synth.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: Match.arrayWith([
        Match.objectLike({ ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 }),
      ]),
    });
  });

  it('schedules the audit as asked and passes the grace period', () => {
    synth.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 */6 * * ? *)',
    });
    const audit = synth.stack.functions.get(AUDIT_FUNCTION)!;
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Role: { 'Fn::GetAtt': [logicalIdOf(audit.role), 'Arn'] },
      ReservedConcurrentExecutions: 1,
      Environment: { Variables: Match.objectLike({ IPAM_AUDIT_GRACE_MS: '600000' }) },
    });
  });

  it('reserves concurrency only where asked', () => {
    const functions = resourcesOfType(synth.template, 'AWS::Lambda::Function');
    const reserved = Object.fromEntries(
      [...synth.stack.functions].map(([name, fn]) => [
        name,
        functions[logicalIdOf(fn.function)]?.Properties?.ReservedConcurrentExecutions,
      ]),
    );
    expect(reserved).toMatchObject({ allocations: 40, auditSchedule: 1, meta: undefined });
  });

  it('sets log level and retention, and leaves the account-wide API Gateway role alone', () => {
    synth.template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_LOG_LEVEL: 'DEBUG' }) },
    });
    synth.template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    synth.template.resourceCountIs('AWS::ApiGateway::Account', 0);
    expect(synth.nagFindings).toEqual([]);
  });
});

describe('routes', () => {
  const openapi = ROUTES.find((route) => route.id === 'openapi')!;

  it('another public route is a cdk-nag finding until someone suppresses it with a reason', () => {
    const routes = ROUTES.map((route) => (route === openapi ? { ...route, public: true } : route));
    const synth = synthesize({}, { routes });
    try {
      expect(synth.nagFindings).toEqual([
        expect.stringMatching(/^AwsSolutions-APIG4: .*openapi\.json\/GET/),
      ]);
    } finally {
      synth.cleanUp();
    }
  });

  it('two variable names at one level fail the synth, not the deploy', () => {
    const clash = { ...openapi, id: 'clash', path: '/subnets/{id}/usage' };
    expect(() => synthesize({}, { routes: [...ROUTES, clash] })).toThrow(
      /\/subnets has two variable children/,
    );
  });

  it('a route group without declared table access fails the synth', () => {
    const unknown = { ...openapi, id: 'x', path: '/x', group: 'reports' } as unknown as Route;
    expect(() => synthesize({}, { routes: [...ROUTES, unknown] })).toThrow(
      /No DynamoDB access is declared for function 'reports'/,
    );
  });
});
