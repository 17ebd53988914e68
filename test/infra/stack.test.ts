/**
 * The stack as `npx cdk synth` builds it with no options: every function bundled
 * by the local esbuild, CDK's CloudFormation validation on, cdk-nag AwsSolutions
 * applied. One synthesis shared by every test of this file.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Capture, Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../functions/http/routes.js';
import { DEFAULTS } from '../../infra/config.js';
import {
  AUDIT_JOB_FUNCTIONS,
  AUDIT_MAX_CONCURRENT_SEGMENTS,
} from '../../infra/constructs/AuditJob.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../infra/functionSettings.js';
import {
  AUDIT_FUNCTION,
  FALLBACK_GROUP,
  UTILIZATION_ALARM_PERCENT,
} from '../../infra/IpamStack.js';
import { IDEMPOTENCY_ACTIONS, tableAccessOf } from '../../infra/tableAccess.js';
import { IDEMPOTENCY_TABLE, KEY, LIST_INDEX, TTL_ATTRIBUTE } from '../../shared/store/table.js';
import {
  actionsOf,
  apiMethods,
  logicalIdOf,
  resourcesOf,
  resourcesOfType,
  roleStatements,
  type Synthesized,
  synthesize,
} from './synth.js';

let synth: Synthesized;

beforeAll(() => {
  synth = synthesize({}, { bundle: true, validate: true });
}, 300_000);
afterAll(() => synth?.cleanUp());

const template = () => synth.template;
const functionId = (name: string) => logicalIdOf(synth.stack.functions.get(name)!.function);
const roleId = (name: string) => logicalIdOf(synth.stack.functions.get(name)!.role);
const groups = [...new Set(ROUTES.map((route) => route.group))];

describe('functions', () => {
  it('one per route group plus the audit and its job steps, the custom-resource provider and the stream processor', () => {
    const job = Object.values(AUDIT_JOB_FUNCTIONS);
    expect([...synth.stack.functions.keys()].sort()).toEqual(
      [...groups, AUDIT_FUNCTION, ...job].sort(),
    );
    template().resourceCountIs('AWS::Lambda::Function', groups.length + 3 + job.length);
  });

  it('every function is arm64 on Node 22 or 24, traced, with the Powertools and table environment', () => {
    const functions = resourcesOfType(template(), 'AWS::Lambda::Function');
    expect(Object.keys(functions).length).toBeGreaterThan(0);
    for (const { Properties } of Object.values(functions)) {
      expect(Properties).toMatchObject({
        Architectures: ['arm64'],
        Runtime: expect.stringMatching(/^nodejs(22|24)\.x$/),
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
        Environment: {
          Variables: {
            POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
            POWERTOOLS_LOG_LEVEL: DEFAULTS.logLevel,
            NODE_OPTIONS: '--enable-source-maps',
            IPAM_TABLE_NAME: { Ref: logicalIdOf(synth.stack.tables.table) },
            IPAM_IDEMPOTENCY_TABLE_NAME: { Ref: logicalIdOf(synth.stack.tables.idempotencyTable) },
            // Blocks' hints stay off unless the stack says deriveHints=true; every
            // function is told (the processor writes them, an audit expects them).
            IPAM_HINTS: 'off',
          },
        },
      });
      expect(Properties).not.toHaveProperty('ReservedConcurrentExecutions');
    }
  });

  it('each function logs to its own log group with a retention', () => {
    for (const fn of synth.stack.functions.values()) {
      template().hasResourceProperties('AWS::Lambda::Function', {
        LoggingConfig: { LogGroup: { Ref: logicalIdOf(fn.logGroup) } },
      });
      template().hasResource('AWS::Logs::LogGroup', {
        Properties: { RetentionInDays: DEFAULTS.logRetentionDays },
        DeletionPolicy: 'Retain',
      });
    }
  });

  it('the audit gets its metrics namespace and the longest timeout', () => {
    template().hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 900,
      Environment: { Variables: Match.objectLike({ IPAM_METRICS_NAMESPACE: METRICS_NAMESPACE }) },
    });
    const functions = resourcesOfType(template(), 'AWS::Lambda::Function');
    expect(functions[functionId(FALLBACK_GROUP)]?.Properties?.Timeout).toBeLessThan(29);
  });

  it('bundles are minified ES modules with source maps, the createRequire shim and the SDK inside', () => {
    for (const name of synth.stack.functions.keys()) {
      const code = resourcesOfType(template(), 'AWS::Lambda::Function')[functionId(name)]
        ?.Properties?.Code as { S3Key: string };
      const dir = join(synth.app.outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
      expect(readdirSync(dir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
      const bundle = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(
        bundle.startsWith("import { createRequire as __ipamCreateRequire } from 'node:module';"),
      ).toBe(true);
      expect(bundle).toMatch(/sourceMappingURL=index\.mjs\.map\s*$/);
      // Bundled, not imported from the runtime: no bare @aws-sdk import is left.
      expect(bundle).not.toMatch(/from\s*["']@aws-sdk\//);
      expect(bundle).not.toMatch(/import\(\s*["']@aws-sdk\//);
      // Minified: very long lines on average.
      expect(bundle.length / bundle.split('\n').length).toBeGreaterThan(1000);
    }
  });
});

describe('tables', () => {
  it('on demand, point-in-time recovery, deletion protection, retained, AWS-managed KMS', () => {
    template().resourceCountIs('AWS::DynamoDB::Table', 2);
    for (const table of [synth.stack.tables.table, synth.stack.tables.idempotencyTable]) {
      const resource = resourcesOfType(template(), 'AWS::DynamoDB::Table')[logicalIdOf(table)];
      expect(resource).toMatchObject({
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
          SSESpecification: { SSEEnabled: true },
        },
      });
      // SSEEnabled alone is KMS with the AWS-managed key (aws/dynamodb), no key of ours.
      expect(resource?.Properties?.SSESpecification).toEqual({ SSEEnabled: true });
    }
  });

  it('the main table has the keys, index and TTL of shared/table.ts', () => {
    template().hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: KEY.partition, KeyType: 'HASH' },
        { AttributeName: KEY.sort, KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: LIST_INDEX.name,
          KeySchema: [
            { AttributeName: LIST_INDEX.partition, KeyType: 'HASH' },
            { AttributeName: LIST_INDEX.sort, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it("the idempotency table has Powertools' key and TTL", () => {
    template().hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: IDEMPOTENCY_TABLE.key, KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: IDEMPOTENCY_TABLE.ttl, Enabled: true },
    });
  });
});

describe('IAM', () => {
  it('no statement grants dynamodb:* or a DynamoDB action on "*"', () => {
    for (const { Properties } of Object.values(resourcesOfType(template(), 'AWS::IAM::Policy'))) {
      const statements = (Properties as { PolicyDocument: { Statement: never[] } }).PolicyDocument
        .Statement;
      for (const statement of statements) {
        const dynamo = actionsOf(statement).filter((action) => action.startsWith('dynamodb:'));
        if (dynamo.length === 0) continue;
        expect(dynamo.some((action) => action.includes('*'))).toBe(false);
        for (const resource of resourcesOf(statement)) {
          expect(JSON.stringify(resource)).not.toContain('*');
        }
      }
    }
  });

  it('each function gets exactly its declared table actions, on the table, index and idempotency ARNs', () => {
    const tableArn = { 'Fn::GetAtt': [logicalIdOf(synth.stack.tables.table), 'Arn'] };
    const idempotencyArn = {
      'Fn::GetAtt': [logicalIdOf(synth.stack.tables.idempotencyTable), 'Arn'],
    };
    const statements = roleStatements(template());
    for (const name of synth.stack.functions.keys()) {
      const access = tableAccessOf(name);
      const dynamo = (statements.get(roleId(name)) ?? []).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('dynamodb:')),
      );
      const bySid = new Map(dynamo.map((s) => [s.Sid, s]));
      expect(bySid.get('MainTable')?.Resource).toEqual(tableArn);
      expect(new Set(actionsOf(bySid.get('MainTable')!))).toEqual(
        new Set(access.table.map((a) => `dynamodb:${a}`)),
      );
      if (access.index) {
        expect(actionsOf(bySid.get('ListIndex')!)).toEqual(['dynamodb:Query']);
        expect(JSON.stringify(bySid.get('ListIndex')?.Resource)).toContain(
          `/index/${LIST_INDEX.name}`,
        );
      }
      if (access.idempotency) {
        expect(bySid.get('IdempotencyTable')?.Resource).toEqual(idempotencyArn);
        expect(new Set(actionsOf(bySid.get('IdempotencyTable')!))).toEqual(
          new Set(IDEMPOTENCY_ACTIONS.map((a) => `dynamodb:${a}`)),
        );
      }
      const expected = ['MainTable', ...(access.index ? ['ListIndex'] : [])];
      if (access.idempotency) expected.push('IdempotencyTable');
      expect([...bySid.keys()].sort()).toEqual(expected.sort());
    }
  });

  it('the meta function may only describe the table', () => {
    const dynamo = (roleStatements(template()).get(roleId(FALLBACK_GROUP)) ?? []).flatMap((s) =>
      actionsOf(s).filter((a) => a.startsWith('dynamodb:')),
    );
    expect(dynamo).toEqual(['dynamodb:DescribeTable']);
  });

  it('function roles carry no AWS managed policy', () => {
    for (const fn of synth.stack.functions.values()) {
      const role = resourcesOfType(template(), 'AWS::IAM::Role')[logicalIdOf(fn.role)];
      expect(role?.Properties?.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('API', () => {
  it('every ROUTES entry has its method, integrated with its group function', () => {
    const methods = apiMethods(template());
    for (const route of ROUTES) {
      const method = methods.find((m) => m.path === route.path && m.httpMethod === route.method);
      expect(method, `${route.method} ${route.path}`).toBeDefined();
      expect(method?.functionId).toBe(functionId(route.group));
      expect(method?.authorizationType).toBe(route.public === true ? 'NONE' : 'AWS_IAM');
    }
  });

  it('AWS_IAM on every method except GET /health', () => {
    const methods = apiMethods(template());
    const open = methods.filter((m) => m.authorizationType !== 'AWS_IAM');
    expect(open.map((m) => `${m.httpMethod} ${m.path}`)).toEqual(['GET /health']);
    expect(methods.length).toBeGreaterThan(ROUTES.length);
  });

  it('unknown paths and other methods reach the meta function', () => {
    const methods = apiMethods(template());
    const paths = new Set(methods.map((m) => m.path));
    expect(paths).toContain('/');
    expect(paths).toContain('/{proxy+}');
    for (const path of paths) {
      // A wrong method on a known path → ANY → meta → 405.
      const any = methods.find((m) => m.path === path && m.httpMethod === 'ANY');
      expect(any, `ANY ${path}`).toBeDefined();
      expect(any?.functionId).toBe(functionId(FALLBACK_GROUP));
      expect(any?.authorizationType).toBe('AWS_IAM');
      // A deeper unknown path → a variable child (which recurses) or a greedy {proxy+}.
      if (path.endsWith('{proxy+}')) continue;
      const prefix = path === '/' ? '/' : `${path}/`;
      const children = [...paths].filter(
        (p) =>
          p.startsWith(prefix) && p.length > prefix.length && !p.slice(prefix.length).includes('/'),
      );
      expect(
        children.some((child) => child.slice(prefix.length).startsWith('{')),
        `${path} has a variable child or {proxy+}`,
      ).toBe(true);
    }
  });

  it('Lambda proxy integrations, one invoke permission per function scoped to this API', () => {
    template().allResourcesProperties('AWS::ApiGateway::Method', {
      Integration: Match.objectLike({ Type: 'AWS_PROXY', IntegrationHttpMethod: 'POST' }),
    });
    template().resourceCountIs('AWS::Lambda::Permission', groups.length);
    const sourceArn = new Capture();
    template().hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'apigateway.amazonaws.com',
      SourceArn: sourceArn,
    });
    expect(JSON.stringify(sourceArn.asObject())).toContain(logicalIdOf(synth.stack.api.api));
  });

  it('a regional API: no resource policy', () => {
    template().hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
      Policy: Match.absent(),
    });
  });

  it('stage throttling, JSON access logs, tracing and execution logs', () => {
    const format = new Capture();
    template().hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1',
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: format,
      },
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: DEFAULTS.throttleRateLimit,
          ThrottlingBurstLimit: DEFAULTS.throttleBurstLimit,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ]),
    });
    const fields = JSON.parse(format.asString()) as Record<string, string>;
    expect(fields).toMatchObject({
      requestId: '$context.requestId',
      userArn: '$context.identity.userArn',
      status: '$context.status',
      resourcePath: '$context.resourcePath',
    });
    template().hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: DEFAULTS.logRetentionDays,
    });
  });

  it("API Gateway's own errors use the API's error shape", () => {
    for (const type of ['DEFAULT_4XX', 'DEFAULT_5XX']) {
      const template_ = new Capture();
      template().hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        ResponseTemplates: { 'application/json': template_ },
      });
      expect(template_.asString()).toContain('"error":{"code":"$context.error.responseType"');
    }
  });
});

describe('scheduled audit', () => {
  it('targets the audit function with {"repair": false}, hourly, with retries and a dead-letter queue', () => {
    const input = new Capture();
    template().hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: DEFAULTS.auditSchedule,
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [functionId(AUDIT_FUNCTION), 'Arn'] },
        Input: input,
        RetryPolicy: { MaximumRetryAttempts: Match.anyValue(), MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [logicalIdOf(synth.stack.auditSchedule.deadLetterQueue), 'Arn'] },
        },
        RoleArn: { 'Fn::GetAtt': [logicalIdOf(synth.stack.auditSchedule.role), 'Arn'] },
      },
    });
    expect(JSON.parse(input.asString())).toEqual({ repair: false });
  });

  it("the scheduler's role may invoke only the audit function and write to the queue", () => {
    const statements = roleStatements(template()).get(logicalIdOf(synth.stack.auditSchedule.role));
    expect(statements).toEqual([
      expect.objectContaining({
        Action: 'lambda:InvokeFunction',
        Resource: { 'Fn::GetAtt': [functionId(AUDIT_FUNCTION), 'Arn'] },
      }),
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Resource: {
          'Fn::GetAtt': [logicalIdOf(synth.stack.auditSchedule.deadLetterQueue), 'Arn'],
        },
      }),
    ]);
  });

  it('failed runs go to the same queue, which is encrypted and TLS-only', () => {
    template().hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: functionId(AUDIT_FUNCTION) },
      MaximumRetryAttempts: 0,
      DestinationConfig: {
        OnFailure: {
          Destination: {
            'Fn::GetAtt': [logicalIdOf(synth.stack.auditSchedule.deadLetterQueue), 'Arn'],
          },
        },
      },
    });
    template().hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    template().hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });
});

describe('audit job', () => {
  const stateMachineId = () => logicalIdOf(synth.stack.auditJob.stateMachine);

  /** The state machine's definition, with each CloudFormation token as "<token>". */
  function machineDefinition(): unknown {
    const machine = resourcesOfType(template(), 'AWS::StepFunctions::StateMachine')[
      stateMachineId()
    ];
    return machine?.Properties?.DefinitionString;
  }

  /** The state machine's definition, with each CloudFormation token as "<token>". */
  function definition(): {
    StartAt: string;
    States: Record<string, Record<string, unknown>>;
  } {
    const joined = machineDefinition() as { 'Fn::Join': [string, unknown[]] };
    const parts = joined['Fn::Join'][1];
    return JSON.parse(parts.map((part) => (typeof part === 'string' ? part : '<token>')).join(''));
  }

  it('a standard state machine, traced, logging everything to its own log group', () => {
    template().resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template().hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: {
        Level: 'ALL',
        Destinations: [
          {
            CloudWatchLogsLogGroup: {
              LogGroupArn: { 'Fn::GetAtt': [logicalIdOf(synth.stack.auditJob.logGroup), 'Arn'] },
            },
          },
        ],
      },
    });
  });

  it('a distributed Map over the segments loops each segment until done, then merges; failures mark the audit failed', () => {
    const { StartAt, States } = definition();
    const map = States[StartAt] as {
      Type: string;
      ItemsPath: string;
      MaxConcurrency: number;
      Next: string;
      Catch: { ErrorEquals: string[]; Next: string }[];
      ItemProcessor: {
        ProcessorConfig: { Mode: string; ExecutionType: string };
        StartAt: string;
        States: Record<string, Record<string, unknown>>;
      };
    };
    expect(map).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.segments',
      MaxConcurrency: AUDIT_MAX_CONCURRENT_SEGMENTS,
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
    });
    const inner = map.ItemProcessor.States;
    const segment = inner[map.ItemProcessor.StartAt] as {
      Next: string;
      Retry: { ErrorEquals: string[] }[];
      Catch: { Next: string }[];
    };
    expect(segment).toMatchObject({
      Type: 'Task',
      Parameters: { Payload: { 'auditId.$': '$.auditId', 'segment.$': '$.segment' } },
    });
    expect(segment.Retry.flatMap((r) => r.ErrorEquals)).toEqual(
      expect.arrayContaining(['Lambda.ServiceException', 'Lambda.TooManyRequestsException']),
    );
    // Not done: back to the same task.
    expect(inner[segment.Next]).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.done', BooleanEquals: true }],
      Default: map.ItemProcessor.StartAt,
    });
    const merge = States[map.Next] as { Catch: { Next: string }[] };
    expect(merge).toMatchObject({
      Type: 'Task',
      Parameters: { Payload: { 'auditId.$': '$.auditId' } },
    });
    // Every Catch (map, merge, a segment) calls the fail function, then fails the execution.
    const failures = [
      [States, map.Catch[0]?.Next],
      [States, merge.Catch[0]?.Next],
      [inner, segment.Catch[0]?.Next],
    ] as const;
    for (const [states, name] of failures) {
      const task = states[name ?? ''] as { Next: string; Parameters: unknown };
      expect(task.Parameters).toMatchObject({
        Payload: { 'auditId.$': '$.auditId', 'error.$': '$.error' },
      });
      expect(states[task.Next]).toMatchObject({ Type: 'Fail' });
    }
    // The segment, merge and fail functions are the ones invoked.
    const invoked = JSON.stringify(machineDefinition());
    for (const name of Object.values(AUDIT_JOB_FUNCTIONS)) {
      expect(invoked).toContain(`"${functionId(name)}","Arn"`);
    }
  });

  it('only the segment role may Scan the table; the /audits route role may not', () => {
    const statements = roleStatements(template());
    const scans = (name: string) =>
      (statements.get(roleId(name)) ?? []).some((s) => actionsOf(s).includes('dynamodb:Scan'));
    expect(scans(AUDIT_JOB_FUNCTIONS.segment)).toBe(true);
    expect(scans('audits')).toBe(false);
    const scanners = [...synth.stack.functions.keys()].filter(scans);
    expect(scanners).toEqual([AUDIT_JOB_FUNCTIONS.segment]);
  });

  it('POST /audits and the schedule may start executions of this state machine only, and are told its ARN', () => {
    const machineRef = { Ref: stateMachineId() };
    const statements = roleStatements(template());
    for (const name of synth.stack.functions.keys()) {
      const starts = (statements.get(roleId(name)) ?? []).filter((s) =>
        actionsOf(s).some((action) => action.startsWith('states:')),
      );
      if (name === 'audits' || name === AUDIT_FUNCTION) {
        expect(starts.map((s) => [actionsOf(s), s.Resource])).toEqual([
          [['states:StartExecution'], machineRef],
        ]);
        const fn = resourcesOfType(template(), 'AWS::Lambda::Function')[functionId(name)];
        expect(fn?.Properties?.Environment).toMatchObject({
          Variables: { IPAM_AUDIT_STATE_MACHINE_ARN: machineRef },
        });
      } else {
        expect(starts).toEqual([]);
      }
    }
  });

  it('the merge publishes the metrics; the segment and merge run up to 15 minutes', () => {
    const functions = resourcesOfType(template(), 'AWS::Lambda::Function');
    const merge = functions[functionId(AUDIT_JOB_FUNCTIONS.merge)]?.Properties;
    expect(merge?.Environment).toMatchObject({
      Variables: { IPAM_METRICS_NAMESPACE: METRICS_NAMESPACE },
    });
    expect(merge?.Timeout).toBe(900);
    expect(functions[functionId(AUDIT_JOB_FUNCTIONS.segment)]?.Properties?.Timeout).toBe(900);
  });

  it('alarms on failed executions', () => {
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsFailed',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: stateMachineId() } }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });
});

describe('alarms and outputs', () => {
  it('alarms on API 5xx, every function, throttles, dead letters and subnet utilisation', () => {
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/ApiGateway',
      MetricName: '5XXError',
    });
    for (const name of synth.stack.functions.keys()) {
      template().hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId(name) } }],
      });
    }
    const throttles = new Capture();
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: throttles,
    });
    const throttled = (
      throttles.asArray() as { MetricStat?: { Metric: { MetricName: string } } }[]
    ).filter((m) => m.MetricStat?.Metric.MetricName === 'Throttles');
    expect(throttled).toHaveLength(synth.stack.functions.size);
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
    });
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: 'MaxSubnetUtilization',
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      Statistic: 'Maximum',
      Threshold: UTILIZATION_ALARM_PERCENT,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'ignore',
    });
  });

  it('no SNS topic and no alarm actions without alarmEmail', () => {
    template().resourceCountIs('AWS::SNS::Topic', 0);
    template().allResourcesProperties('AWS::CloudWatch::Alarm', { AlarmActions: Match.absent() });
  });

  it('outputs the API URL and the table names', () => {
    template().hasOutput('ApiUrl', {});
    template().hasOutput('TableName', {
      Value: { Ref: logicalIdOf(synth.stack.tables.table) },
    });
    template().hasOutput('IdempotencyTableName', {
      Value: { Ref: logicalIdOf(synth.stack.tables.idempotencyTable) },
    });
  });
});

describe('checks', () => {
  it('cdk-nag AwsSolutions: no unsuppressed finding', () => {
    expect(synth.nagFindings).toEqual([]);
  });

  it("CDK's CloudFormation validation reports nothing", () => {
    const report = join(synth.app.outdir, 'validation-report.json');
    expect(existsSync(report)).toBe(true);
    const { pluginReports } = JSON.parse(readFileSync(report, 'utf8')) as {
      pluginReports: { violations?: unknown[] }[];
    };
    expect(pluginReports.flatMap((r) => r.violations ?? [])).toEqual([]);
  });
});
