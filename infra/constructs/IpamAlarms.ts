/**
 * The alarms an operator needs: the API answering 5xx, a function failing or being
 * throttled, the audit's dead-letter queue filling, an audit job execution failing,
 * and a subnet above 90 % full
 * (from the metric the scheduled audit publishes). With an e-mail address they
 * notify an SNS topic (KMS-encrypted, TLS-only).
 */
import { Aws, Duration } from 'aws-cdk-lib';
import type { RestApi } from 'aws-cdk-lib/aws-apigateway';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { AUDIT_METRICS } from '../../shared/audit/metrics.js';

export interface IpamAlarmsProps {
  readonly api: RestApi;
  /** Every function of the service, by name. */
  readonly functions: ReadonlyMap<string, IFunction>;
  readonly deadLetterQueue: IQueue;
  /** The audit job's state machine (AuditJob.ts). */
  readonly auditJob: IStateMachine;
  /** The audit's metrics: namespace and the dimensions Powertools adds to every metric. */
  readonly metricsNamespace: string;
  readonly metricsDimensions: Readonly<Record<string, string>>;
  readonly utilizationThresholdPercent: number;
  readonly alarmEmail?: string;
}

/** CloudWatch allows at most 10 metrics in one alarm's math expression. */
const MAX_METRICS_PER_ALARM = 10;

export class IpamAlarms extends Construct {
  readonly alarms: Alarm[] = [];
  readonly topic?: Topic;

  constructor(scope: Construct, id: string, props: IpamAlarmsProps) {
    super(scope, id);
    const fiveMinutes = Duration.minutes(5);

    this.add('Api5xx', {
      metric: props.api.metricServerError({ period: fiveMinutes, statistic: Stats.SUM }),
      threshold: 5,
      description:
        'The API answered 5 or more 5xx responses in 5 minutes (503 contention/unavailable included).',
    });

    for (const [name, fn] of props.functions) {
      this.add(`${pascal(name)}Errors`, {
        metric: fn.metricErrors({ period: fiveMinutes, statistic: Stats.SUM }),
        threshold: 1,
        description: `The ${name} function failed (crash or timeout; handled API errors are not failures).`,
      });
    }

    const functions = [...props.functions];
    for (let start = 0; start < functions.length; start += MAX_METRICS_PER_ALARM) {
      const chunk = functions.slice(start, start + MAX_METRICS_PER_ALARM);
      const usingMetrics: Record<string, IMetric> = {};
      chunk.forEach(([, fn], i) => {
        usingMetrics[`t${i}`] = fn.metricThrottles({ period: fiveMinutes, statistic: Stats.SUM });
      });
      this.add(start === 0 ? 'Throttles' : `Throttles${start / MAX_METRICS_PER_ALARM + 1}`, {
        metric: new MathExpression({
          expression: `SUM([${Object.keys(usingMetrics).join(',')}])`,
          usingMetrics,
          period: fiveMinutes,
          label: 'Throttled invocations',
        }),
        threshold: 1,
        description: `Lambda throttled invocations of: ${chunk.map(([name]) => name).join(', ')}.`,
      });
    }

    this.add('AuditDeadLetters', {
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: fiveMinutes,
        statistic: Stats.MAXIMUM,
      }),
      threshold: 1,
      description: 'A scheduled audit could not be delivered or failed: see the dead-letter queue.',
    });

    this.add('AuditJobFailed', {
      metric: props.auditJob.metricFailed({ period: fiveMinutes, statistic: Stats.SUM }),
      threshold: 1,
      description:
        'An audit job execution failed: the audit is marked failed with the reason (GET /audits/{id}).',
    });

    this.add('SubnetUtilization', {
      metric: new Metric({
        namespace: props.metricsNamespace,
        metricName: AUDIT_METRICS.maxSubnetUtilization,
        dimensionsMap: { ...props.metricsDimensions },
        statistic: Stats.MAXIMUM,
        period: Duration.hours(1),
      }),
      threshold: props.utilizationThresholdPercent,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      // Published once per audit run: keep the last state between runs.
      treatMissingData: TreatMissingData.IGNORE,
      description: `A subnet is more than ${props.utilizationThresholdPercent} % allocated (the audit's ${AUDIT_METRICS.maxSubnetUtilization}).`,
    });

    if (props.alarmEmail !== undefined) {
      const key = new Key(this, 'TopicKey', {
        description: 'Encrypts the IPAM alarm topic',
        enableKeyRotation: true,
      });
      this.topic = new Topic(this, 'Topic', { masterKey: key, enforceSSL: true });
      // CloudWatch publishes the alarms (and so must be able to use the key).
      this.topic.grantPublish(
        new ServicePrincipal('cloudwatch.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
      );
      this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
      const action = new SnsAction(this.topic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }

  private add(
    id: string,
    options: {
      metric: IMetric;
      threshold: number;
      description: string;
      comparisonOperator?: ComparisonOperator;
      treatMissingData?: TreatMissingData;
    },
  ): void {
    this.alarms.push(
      new Alarm(this, id, {
        metric: options.metric,
        threshold: options.threshold,
        evaluationPeriods: 1,
        comparisonOperator:
          options.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: options.treatMissingData ?? TreatMissingData.NOT_BREACHING,
        alarmDescription: options.description,
      }),
    );
  }
}

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
