/**
 * The CloudFormation custom-resource provider other CDK apps use to carve subnets
 * and allocate addresses while they deploy (functions/customResource.ts): one
 * IpamFunction (own role, log group, exact table grants), its ARN in an SSM
 * parameter, and alarms on its failures and throttles.
 *
 * It is a plain Lambda-backed custom resource, not the `custom-resources` Provider
 * framework: the function answers CloudFormation's pre-signed URL itself, so there is
 * one function with the stack's settings (arm64, tracing, Powertools, no managed
 * policy) instead of a second framework function with its own role and runtime.
 * CloudFormation invokes it with the deploying principal's credentials, so it needs
 * no resource policy for stacks of this account.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { SharedFunctionProps } from '../functionSettings.js';
import { tableAccessOf } from '../tableAccess.js';
import { IpamFunction } from './IpamFunction.js';
import { providerArnParameterName } from './IpamSubnet.js';
import type { IpamTables } from './IpamTables.js';

/** The provider's name in tableAccess.ts and `reservedConcurrency`. */
export const PROVIDER_FUNCTION = 'customResource';
/** A carve is 7-11 requests and an allocation a few; this leaves room for throttling retries. */
export const PROVIDER_FUNCTION_TIMEOUT = Duration.minutes(2);

export interface IpamProviderProps {
  /** functions/customResource.ts */
  readonly entry: string;
  readonly shared: SharedFunctionProps;
  readonly environment: Readonly<Record<string, string>>;
  readonly tables: IpamTables;
  readonly logRetention: RetentionDays;
  readonly ephemeral: boolean;
  readonly reservedConcurrency?: number;
  /** The alarm topic (alarmEmail), if any. */
  readonly alarmTopic?: ITopic;
}

export class IpamProvider extends Construct {
  readonly function: IpamFunction;
  /** The provider's ARN: the ServiceToken of Custom::IpamSubnet and Custom::IpamAllocation. */
  readonly serviceToken: string;
  /** `/ipam/<stack name>/provider-arn`, holding `serviceToken`. */
  readonly parameter: StringParameter;
  readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: IpamProviderProps) {
    super(scope, id);
    this.function = new IpamFunction(this, 'Function', {
      name: PROVIDER_FUNCTION,
      entry: props.entry,
      description: 'IPAM CloudFormation provider: Custom::IpamSubnet, Custom::IpamAllocation',
      shared: props.shared,
      timeout: PROVIDER_FUNCTION_TIMEOUT,
      environment: props.environment,
      tables: props.tables,
      access: tableAccessOf(PROVIDER_FUNCTION),
      logRetention: props.logRetention,
      ephemeral: props.ephemeral,
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrency: props.reservedConcurrency }),
    });
    const fn = this.function.function;
    // CloudFormation invokes asynchronously. A crash or timeout (no answer sent) is
    // retried twice; requests are idempotent, and CloudFormation stops waiting after
    // the resource's ServiceTimeout anyway.
    fn.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
    this.serviceToken = fn.functionArn;

    this.parameter = new StringParameter(this, 'ArnParameter', {
      parameterName: providerArnParameterName(Stack.of(this).stackName),
      stringValue: this.serviceToken,
      description:
        'ServiceToken of Custom::IpamSubnet and Custom::IpamAllocation (the IPAM provider function ARN)',
    });

    const fiveMinutes = Duration.minutes(5);
    this.alarms = [
      new Alarm(this, 'Errors', {
        metric: fn.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription:
          'The custom-resource provider crashed, timed out or could not deliver an answer to CloudFormation (failed requests it answers are not errors).',
      }),
      new Alarm(this, 'Throttles', {
        metric: fn.metricThrottles({ period: fiveMinutes, statistic: Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: 'Lambda throttled invocations of the custom-resource provider.',
      }),
    ];
    if (props.alarmTopic !== undefined) {
      const action: IAlarmAction = new SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }
}
