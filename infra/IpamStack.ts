/**
 * The whole service in one stack: the tables, one function per route group of
 * ROUTES plus the scheduled audit and the audit job's steps, the job's state
 * machine, the REST API, the schedule and the alarms.
 */
import { join } from 'node:path';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { ROUTES, type Route } from '../functions/http/routes.js';
import { type IpamConfig, reservedConcurrencyOf } from './config.js';
import { AUDIT_JOB_ENTRIES, AUDIT_JOB_FUNCTIONS, AuditJob } from './constructs/AuditJob.js';
import { AuditSchedule } from './constructs/AuditSchedule.js';
import { IpamAlarms } from './constructs/IpamAlarms.js';
import { IpamApi } from './constructs/IpamApi.js';
import { IpamFunction } from './constructs/IpamFunction.js';
import { IpamHistory } from './constructs/IpamHistory.js';
import { IpamProvider, PROVIDER_FUNCTION } from './constructs/IpamProvider.js';
import { IpamTables } from './constructs/IpamTables.js';
import {
  API_FUNCTION_TIMEOUT,
  AUDIT_FUNCTION_TIMEOUT,
  METRICS_NAMESPACE,
  PROJECT_ROOT,
  SERVICE_NAME,
  sharedFunctionProps,
} from './functionSettings.js';
import { tableAccessOf } from './tableAccess.js';

export interface IpamStackProps extends StackProps {
  readonly config: IpamConfig;
  /** Defaults to ROUTES; tests pass their own. */
  readonly routes?: readonly Route[];
}

/** The audit function's name in context options and `reservedConcurrency`. */
export const AUDIT_FUNCTION = 'auditSchedule';
/** The stream processor's name (functions/stream/handler.ts) in options and tableAccess. */
export const STREAM_FUNCTION = 'stream';
/** The group whose function also answers unknown routes (functions/meta.ts). */
export const FALLBACK_GROUP = 'meta';
export const STAGE_NAME = 'v1';
export const UTILIZATION_ALARM_PERCENT = 90;
/** Functions that run up to Lambda's 15 minutes: the scheduled audit and the job's scan and merge. */
const LONG_RUNNING = new Set<string>([
  AUDIT_FUNCTION,
  AUDIT_JOB_FUNCTIONS.segment,
  AUDIT_JOB_FUNCTIONS.merge,
]);

export class IpamStack extends Stack {
  readonly tables: IpamTables;
  /** Every function by name: the route groups, `auditSchedule` and the job's (AUDIT_JOB_FUNCTIONS). */
  readonly functions: ReadonlyMap<string, IpamFunction>;
  readonly api: IpamApi;
  readonly auditSchedule: AuditSchedule;
  readonly auditJob: AuditJob;
  readonly alarms: IpamAlarms;
  /** The custom-resource provider other CDK apps carve subnets and allocate with. */
  readonly provider: IpamProvider;
  /** The stream processor, its mapping and DLQ, and the event bus. */
  readonly history: IpamHistory;

  constructor(scope: Construct, id: string, props: IpamStackProps) {
    super(scope, id, props);
    const { config } = props;
    const routes = props.routes ?? ROUTES;

    this.tables = new IpamTables(this, 'Tables', {
      ephemeral: config.ephemeral,
      encryption: config.tableEncryption,
      ...(config.tableKeyArn === undefined ? {} : { keyArn: config.tableKeyArn }),
    });

    const shared = sharedFunctionProps(config);
    const tableEnvironment = {
      IPAM_TABLE_NAME: this.tables.table.tableName,
      IPAM_IDEMPOTENCY_TABLE_NAME: this.tables.idempotencyTable.tableName,
      // Every function: the processor writes hints, an audit that any function
      // starts expects them (shared/hints/settings.ts).
      IPAM_HINTS: config.deriveHints ? 'on' : 'off',
    };
    const makeFunction = (
      name: string,
      description: string,
      extra: Record<string, string>,
      entry = join(PROJECT_ROOT, 'functions', `${AUDIT_JOB_ENTRIES[name] ?? name}.ts`),
    ) =>
      new IpamFunction(this, `${pascal(name)}Function`, {
        name,
        entry,
        description,
        shared,
        timeout: LONG_RUNNING.has(name) ? AUDIT_FUNCTION_TIMEOUT : API_FUNCTION_TIMEOUT,
        environment: { ...tableEnvironment, ...extra },
        tables: this.tables,
        access: tableAccessOf(name),
        logRetention: config.logRetentionDays,
        ephemeral: config.ephemeral,
        ...optional('reservedConcurrency', reservedConcurrencyOf(config, name)),
      });

    const functions = new Map<string, IpamFunction>();
    const groups = [...new Set([FALLBACK_GROUP, ...routes.map((route) => route.group)])];
    for (const group of groups) {
      const paths = [...new Set(routes.filter((r) => r.group === group).map((r) => r.path))];
      functions.set(group, makeFunction(group, `IPAM API: ${paths.join(' ')}`.slice(0, 256), {}));
    }
    functions.set(
      AUDIT_FUNCTION,
      makeFunction(AUDIT_FUNCTION, 'IPAM scheduled audit (report only)', {
        IPAM_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...optional('IPAM_AUDIT_GRACE_MS', config.auditGraceMs?.toString()),
      }),
    );
    const job = AUDIT_JOB_FUNCTIONS;
    functions.set(job.segment, makeFunction(job.segment, 'IPAM audit job: one Scan segment', {}));
    functions.set(
      job.merge,
      makeFunction(job.merge, 'IPAM audit job: merge, report, metrics', {
        IPAM_METRICS_NAMESPACE: METRICS_NAMESPACE,
      }),
    );
    functions.set(job.fail, makeFunction(job.fail, 'IPAM audit job: mark failed', {}));
    this.functions = functions;
    for (const name of Object.keys(config.reservedConcurrency.byFunction)) {
      if (!functions.has(name) && name !== PROVIDER_FUNCTION && name !== STREAM_FUNCTION) {
        throw new Error(
          `reservedConcurrency names '${name}', which is not a function: ${[...functions.keys(), PROVIDER_FUNCTION, STREAM_FUNCTION].join(', ')}.`,
        );
      }
    }

    const httpFunctions = new Map<string, IFunction>(
      groups.map((group) => [group, functions.get(group)!.function]),
    );
    this.api = new IpamApi(this, 'Api', {
      routes,
      functions: httpFunctions,
      fallback: httpFunctions.get(FALLBACK_GROUP)!,
      stageName: STAGE_NAME,
      throttleRateLimit: config.throttleRateLimit,
      throttleBurstLimit: config.throttleBurstLimit,
      ...optional('vpcEndpointId', config.privateApi ? config.vpcEndpointId : undefined),
      ...optional('webAclArn', config.webAclArn),
      cloudWatchRole: config.apiCloudWatchRole,
      logRetention: config.logRetentionDays,
      ephemeral: config.ephemeral,
    });

    this.auditJob = new AuditJob(this, 'AuditJob', {
      segment: functions.get(job.segment)!.function,
      merge: functions.get(job.merge)!.function,
      fail: functions.get(job.fail)!.function,
      logRetention: config.logRetentionDays,
      ephemeral: config.ephemeral,
    });
    // POST /audits and the schedule start jobs on the state machine (functions/audit/launch.ts).
    for (const [name, starter] of functions) {
      if (!tableAccessOf(name).startsAuditJob) continue;
      starter.function.addEnvironment(
        'IPAM_AUDIT_STATE_MACHINE_ARN',
        this.auditJob.stateMachine.stateMachineArn,
      );
      this.auditJob.stateMachine.grantStartExecution(starter.role);
    }

    this.auditSchedule = new AuditSchedule(this, 'AuditSchedule', {
      function: functions.get(AUDIT_FUNCTION)!.function,
      expression: config.auditSchedule,
    });

    this.alarms = new IpamAlarms(this, 'Alarms', {
      api: this.api.api,
      functions: new Map([...functions].map(([name, f]) => [name, f.function])),
      deadLetterQueue: this.auditSchedule.deadLetterQueue,
      auditJob: this.auditJob.stateMachine,
      metricsNamespace: METRICS_NAMESPACE,
      // Powertools Metrics adds `service` to every metric it publishes.
      metricsDimensions: { service: SERVICE_NAME },
      utilizationThresholdPercent: UTILIZATION_ALARM_PERCENT,
      ...optional('alarmEmail', config.alarmEmail),
    });

    // Not in `functions` either (no route, no audit): IpamHistory alarms on it.
    const processor = makeFunction(
      STREAM_FUNCTION,
      'IPAM stream processor: history entries, change events, map summaries, block hints',
      {
        IPAM_HISTORY_RETENTION_DAYS: String(config.historyRetentionDays),
      },
      join(PROJECT_ROOT, 'functions', 'stream', 'handler.ts'),
    );
    this.history = new IpamHistory(this, 'History', {
      tables: this.tables,
      processor,
      ...optional(
        'alarmAction',
        this.alarms.topic === undefined ? undefined : new SnsAction(this.alarms.topic),
      ),
    });

    // Not in `functions` (the API and audit functions): it has its own alarms.
    this.provider = new IpamProvider(this, 'CustomResourceProvider', {
      entry: join(PROJECT_ROOT, 'functions', `${PROVIDER_FUNCTION}.ts`),
      shared,
      environment: tableEnvironment,
      tables: this.tables,
      logRetention: config.logRetentionDays,
      ephemeral: config.ephemeral,
      ...optional('reservedConcurrency', reservedConcurrencyOf(config, PROVIDER_FUNCTION)),
      ...optional('alarmTopic', this.alarms.topic),
    });

    new CfnOutput(this, 'ApiUrl', {
      value: this.api.url,
      description: 'Base URL of the API stage',
    });
    new CfnOutput(this, 'TableName', { value: this.tables.table.tableName });
    new CfnOutput(this, 'IdempotencyTableName', {
      value: this.tables.idempotencyTable.tableName,
    });
    new CfnOutput(this, 'AuditFunctionName', {
      value: functions.get(AUDIT_FUNCTION)!.function.functionName,
    });
    new CfnOutput(this, 'AuditDeadLetterQueueUrl', {
      value: this.auditSchedule.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'EventBusName', {
      value: this.history.bus.eventBusName,
      description: 'EventBridge bus of the change events (source "ipam")',
    });
    new CfnOutput(this, 'StreamDeadLetterQueueUrl', {
      value: this.history.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'CustomResourceProviderArn', {
      value: this.provider.serviceToken,
      description: 'ServiceToken of Custom::IpamSubnet and Custom::IpamAllocation',
    });
    new CfnOutput(this, 'CustomResourceProviderParameter', {
      value: this.provider.parameter.parameterName,
      description: 'SSM parameter holding CustomResourceProviderArn',
    });
  }
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** `{ [key]: value }` when the value is defined, else `{}` (for optional readonly props). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
