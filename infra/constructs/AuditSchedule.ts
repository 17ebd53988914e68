/**
 * Runs the audit on a schedule (EventBridge Scheduler, hourly by default) with
 * `{"repair": false}`. Lambda is invoked asynchronously, so two things can fail and
 * both land in one encrypted, TLS-only dead-letter queue: delivery (Scheduler
 * retries, then sends the event to the queue) and the run itself (the function's
 * on-failure destination).
 */
import { Aws, Duration } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import {
  type IScheduleTarget,
  Schedule,
  ScheduleExpression,
  type ScheduleTargetConfig,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

export interface AuditScheduleProps {
  readonly function: IFunction;
  /** A Scheduler expression: `rate(1 hour)`, `cron(0 * * * ? *)`. */
  readonly expression: string;
}

/** The event of every scheduled run: report only, never repair unattended. */
export const SCHEDULED_AUDIT_INPUT = { repair: false } as const;

export class AuditSchedule extends Construct {
  readonly schedule: Schedule;
  readonly deadLetterQueue: Queue;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: AuditScheduleProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      {
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is itself the dead-letter queue of the audit schedule and of the audit function; a dead-letter queue of a dead-letter queue would only move the same messages.',
      },
    ]);

    // A run that fails goes to the queue at once; the next scheduled run resumes anyway.
    props.function.configureAsyncInvoke({
      onFailure: new SqsDestination(this.deadLetterQueue),
      retryAttempts: 0,
      maxEventAge: Duration.hours(1),
    });

    // Our own role instead of the target's default, which would also allow invoking
    // every version and alias (`<function arn>:*`).
    this.role = new Role(this, 'Role', {
      description: 'EventBridge Scheduler invoking the IPAM audit',
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [props.function.functionArn],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );

    const role = this.role;
    const queue = this.deadLetterQueue;
    const target: IScheduleTarget = {
      bind: (): ScheduleTargetConfig => ({
        arn: props.function.functionArn,
        role,
        input: ScheduleTargetInput.fromObject(SCHEDULED_AUDIT_INPUT),
        retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
        deadLetterConfig: { arn: queue.queueArn },
      }),
    };
    this.schedule = new Schedule(this, 'Schedule', {
      description: 'IPAM audit, report only',
      schedule: ScheduleExpression.expression(props.expression),
      target,
    });
  }
}
