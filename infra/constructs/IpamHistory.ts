/**
 * History and events: the stream processor (functions/stream/handler.ts) reading the
 * table's stream through an event source mapping, the EventBridge bus it publishes
 * to, the dead-letter queue of records it gave up on, and their alarms.
 *
 * The mapping bisects a failing batch, takes partial failures (the processor
 * reports the first failed record), retries a record a bounded number of times,
 * then sends the record's batch description to the DLQ and moves on. Grants are
 * exactly what it uses: read of this table's stream, events:PutEvents on this bus,
 * sqs:SendMessage on this queue (besides the table actions of infra/tableAccess.ts).
 */
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  Stats,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { EventSourceMapping, type IFunction, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { IpamFunction } from './IpamFunction.js';
import type { IpamTables } from './IpamTables.js';

export interface IpamHistoryProps {
  readonly tables: IpamTables;
  /** The processor (its role gets the grants below). */
  readonly processor: IpamFunction;
  /** Where the alarms notify, when the stack has a topic. */
  readonly alarmAction?: IAlarmAction;
}

/** Lambda retries of one record before it goes to the DLQ (bisecting meanwhile). */
export const STREAM_RETRY_ATTEMPTS = 5;
/** Iterator age at which history is visibly late (ms). */
export const ITERATOR_AGE_ALARM_MS = 60_000;

export class IpamHistory extends Construct {
  readonly bus: EventBus;
  readonly processor: IpamFunction;
  readonly deadLetterQueue: Queue;
  readonly mapping: EventSourceMapping;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: IpamHistoryProps) {
    super(scope, id);
    const table = props.tables.table;
    const streamArn = table.tableStreamArn;
    if (streamArn === undefined) throw new Error('The IPAM table needs its stream enabled.');
    this.processor = props.processor;
    const fn: IFunction = props.processor.function;

    this.bus = new EventBus(this, 'Bus', { description: 'IPAM change events (source "ipam")' });
    props.processor.function.addEnvironment('IPAM_EVENT_BUS_NAME', this.bus.eventBusName);
    // PutEvents on this bus only.
    this.bus.grantPutEventsTo(props.processor.role);

    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      {
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is itself the on-failure destination of the stream processor; a dead-letter queue of it would only move the same messages.',
      },
    ]);

    // What the event source mapping reads, on this stream's ARN only (not
    // grantStreamRead, whose ListStreams is on "*").
    props.processor.role.addToPolicy(
      new PolicyStatement({
        sid: 'TableStream',
        actions: [
          'dynamodb:DescribeStream',
          'dynamodb:GetRecords',
          'dynamodb:GetShardIterator',
          'dynamodb:ListStreams',
        ],
        resources: [streamArn],
      }),
    );
    if (props.tables.key !== undefined) props.tables.key.grantDecrypt(props.processor.role);

    this.mapping = new EventSourceMapping(this, 'Mapping', {
      target: fn,
      eventSourceArn: streamArn,
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      maxBatchingWindow: Duration.millis(0),
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: STREAM_RETRY_ATTEMPTS,
      // Older than the stream keeps (24 h) cannot be read anyway.
      maxRecordAge: Duration.hours(24),
      parallelizationFactor: 1,
      onFailure: new SqsDlq(this.deadLetterQueue),
    });

    this.alarm('StreamProcessorErrors', {
      metric: fn.metricErrors({ period: Duration.minutes(5), statistic: Stats.SUM }),
      threshold: 1,
      description: 'The stream processor failed (crash or timeout): history and events wait.',
    });
    this.alarm('StreamDeadLetters', {
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: Stats.MAXIMUM,
      }),
      threshold: 1,
      description:
        'The stream processor gave up on a record (history entry and event missing): see the stream DLQ.',
    });
    this.alarm('StreamIteratorAge', {
      metric: fn.metric('IteratorAge', { period: Duration.minutes(5), statistic: Stats.MAXIMUM }),
      threshold: ITERATOR_AGE_ALARM_MS,
      description: `History and events lag the table by more than ${ITERATOR_AGE_ALARM_MS / 1000} s (stream iterator age).`,
    });
    if (props.alarmAction !== undefined) {
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(props.alarmAction);
        alarm.addOkAction(props.alarmAction);
      }
    }
  }

  private alarm(
    id: string,
    options: { metric: Alarm['metric']; threshold: number; description: string },
  ): void {
    this.alarms.push(
      new Alarm(this, id, {
        metric: options.metric,
        threshold: options.threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: options.description,
      }),
    );
  }
}
