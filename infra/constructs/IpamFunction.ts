/**
 * One Lambda of the service: its own role (no AWS managed policy), its own log
 * group with a retention, the shared settings, and exactly the DynamoDB actions
 * its code calls (infra/tableAccess.ts) on the table and index ARNs.
 */
import { Aws, type Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { SharedFunctionProps } from '../functionSettings.js';
import { IDEMPOTENCY_ACTIONS, type TableAccess, type TableAction } from '../tableAccess.js';
import type { IpamTables } from './IpamTables.js';

export interface IpamFunctionProps {
  /** The route group (functions/<name>.ts) or `auditSchedule`. */
  readonly name: string;
  readonly entry: string;
  readonly description: string;
  readonly shared: SharedFunctionProps;
  readonly timeout: Duration;
  readonly environment: Readonly<Record<string, string>>;
  readonly tables: IpamTables;
  readonly access: TableAccess;
  readonly logRetention: RetentionDays;
  readonly ephemeral: boolean;
  readonly reservedConcurrency?: number;
}

/** What DynamoDB may do with a customer-managed table key on the caller's behalf. */
const TABLE_KEY_ACTIONS = [
  'kms:Decrypt',
  'kms:DescribeKey',
  'kms:Encrypt',
  'kms:GenerateDataKey',
  'kms:GenerateDataKeyWithoutPlaintext',
  'kms:ReEncryptFrom',
  'kms:ReEncryptTo',
];

export class IpamFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly name: string;

  constructor(scope: Construct, id: string, props: IpamFunctionProps) {
    super(scope, id);
    this.name = props.name;
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `IPAM ${props.name} function`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      ...props.shared,
      entry: props.entry,
      description: props.description,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      environment: { ...props.shared.environment, ...props.environment },
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
    });

    this.allowTableActions(props.tables, props.access);

    // Tracing.ACTIVE adds xray:PutTraceSegments and xray:PutTelemetryRecords on "*".
    NagSuppressions.addResourceSuppressions(
      this.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords do not support resource-level permissions, so their resource must be "*".',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
  }

  private allowTableActions(tables: IpamTables, access: TableAccess): void {
    const dynamo = (actions: readonly TableAction[]) =>
      actions.map((action) => `dynamodb:${action}`);
    this.role.addToPolicy(
      new PolicyStatement({
        sid: 'MainTable',
        actions: dynamo(access.table),
        resources: [tables.table.tableArn],
      }),
    );
    if (access.index) {
      this.role.addToPolicy(
        new PolicyStatement({
          sid: 'ListIndex',
          actions: dynamo(['Query']),
          resources: [tables.indexArn],
        }),
      );
    }
    if (access.idempotency) {
      this.role.addToPolicy(
        new PolicyStatement({
          sid: 'IdempotencyTable',
          actions: dynamo(IDEMPOTENCY_ACTIONS),
          resources: [tables.idempotencyTable.tableArn],
        }),
      );
    }
    const usesItems =
      access.table.some((action) => action !== 'DescribeTable') || access.idempotency;
    if (tables.key !== undefined && usesItems) {
      this.role.addToPolicy(
        new PolicyStatement({
          sid: 'TableKeyViaDynamoDB',
          effect: Effect.ALLOW,
          actions: TABLE_KEY_ACTIONS,
          resources: [tables.key.keyArn],
          conditions: {
            StringEquals: {
              'kms:ViaService': `dynamodb.${Aws.REGION}.${Aws.URL_SUFFIX}`,
            },
          },
        }),
      );
    }
  }
}
