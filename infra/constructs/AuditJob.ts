/**
 * The audit job on Step Functions (README "Audit" → "The job"): the execution input
 * `{auditId, segments: [{auditId, segment}, …]}` (functions/audit/launch.ts) feeds a
 * distributed Map that runs each Scan segment as its own child execution — invoke
 * functions/audit/segment.ts, again while it answers `done: false` — then
 * functions/audit/merge.ts. Any failure calls functions/audit/fail.ts (the job is
 * `failed` with the reason, its lock released) and fails the execution, so the
 * ExecutionsFailed alarm sees it.
 *
 * **Why a distributed Map, not an inline one.** A job has 1 to 1,000 segments. An
 * inline Map runs at most 40 iterations at once and keeps every iteration's events
 * in the parent's history, capped at 25,000 events: 1,000 segments at ~10 events
 * per invocation (task scheduled/started/succeeded, choice, iteration) are 10,000
 * events for one pass, and each `done: false` loop adds more. A distributed Map
 * gives each segment its own child execution and history. The children are
 * STANDARD: a segment may loop past Express's 5-minute limit.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  DistributedMap,
  Fail,
  JsonPath,
  LogLevel,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

/** The job's Lambdas by role: their names in tableAccess.ts, alarms and `reservedConcurrency`. */
export const AUDIT_JOB_FUNCTIONS = {
  segment: 'auditSegment',
  merge: 'auditMerge',
  fail: 'auditFail',
} as const;

/** Each job Lambda's handler file under functions/ (the others are `functions/<name>.ts`). */
export const AUDIT_JOB_ENTRIES: Readonly<Record<string, string>> = {
  [AUDIT_JOB_FUNCTIONS.segment]: 'audit/segment',
  [AUDIT_JOB_FUNCTIONS.merge]: 'audit/merge',
  [AUDIT_JOB_FUNCTIONS.fail]: 'audit/fail',
};

/**
 * Segments scanned at once. The README's 10 M-item estimate assumes 40; more would
 * take more of the table's read throughput from live traffic (and of the account's
 * Lambda concurrency) for a report that is not urgent.
 */
export const AUDIT_MAX_CONCURRENT_SEGMENTS = 40;

/** Errors of the Lambda service itself (not of our code): safe to invoke again. */
const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

export interface AuditJobProps {
  readonly segment: IFunction;
  readonly merge: IFunction;
  readonly fail: IFunction;
  readonly logRetention: RetentionDays;
  readonly ephemeral: boolean;
}

export class AuditJob extends Construct {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: AuditJobProps) {
    super(scope, id);
    const invoke = (name: string, fn: IFunction, payload: Record<string, unknown>) => {
      const task = new LambdaInvoke(this, name, {
        lambdaFunction: fn,
        payload: TaskInput.fromObject(payload),
        outputPath: '$.Payload',
        // Our own Retry below covers throttles too.
        retryOnServiceExceptions: false,
      });
      task.addRetry({ errors: LAMBDA_SERVICE_ERRORS, maxAttempts: 6, backoffRate: 2 });
      return task;
    };
    const markFailed = (name: string) =>
      invoke(name, props.fail, {
        auditId: JsonPath.stringAt('$.auditId'),
        error: JsonPath.objectAt('$.error'),
      }).next(new Fail(this, `${name}Failed`, { comment: 'The audit is marked failed.' }));

    // One segment: invoke until it answers done. A segment error fails the job with
    // that error's own message (the Map's Catch would only see "threshold exceeded").
    const segment = invoke('ScanSegment', props.segment, {
      auditId: JsonPath.stringAt('$.auditId'),
      segment: JsonPath.numberAt('$.segment'),
    });
    segment.addCatch(markFailed('FailFromSegment'), { resultPath: '$.error' });
    segment.next(
      new Choice(this, 'SegmentDone')
        .when(Condition.booleanEquals('$.done', true), new Succeed(this, 'SegmentFinished'))
        .otherwise(segment),
    );

    const segments = new DistributedMap(this, 'Segments', {
      itemsPath: JsonPath.stringAt('$.segments'),
      maxConcurrency: AUDIT_MAX_CONCURRENT_SEGMENTS,
      mapExecutionType: StateMachineType.STANDARD,
      // Keep the input ({auditId, …}) for the merge; the segments' answers say only "done".
      resultPath: JsonPath.DISCARD,
      label: 'AuditSegments',
    });
    segments.itemProcessor(segment);

    const merge = invoke('Merge', props.merge, { auditId: JsonPath.stringAt('$.auditId') });
    const failJob = markFailed('FailJob');
    segments.addCatch(failJob, { resultPath: '$.error' });
    merge.addCatch(failJob, { resultPath: '$.error' });

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.ephemeral ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineType: StateMachineType.STANDARD,
      comment: 'IPAM audit job: Scan segments in parallel, then merge',
      definitionBody: DefinitionBody.fromChainable(segments.next(merge)),
      tracingEnabled: true,
      // Executions carry ids and error messages, nothing secret.
      logs: { destination: this.logGroup, level: LogLevel.ALL, includeExecutionData: true },
    });

    NagSuppressions.addResourceSuppressions(
      this.stateMachine,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            "CDK's LambdaInvoke also allows the functions' versions and aliases (`<function arn>:*`); the state machine invokes only the unqualified ARNs of the job's three functions.",
          appliesTo: [
            { regex: '/^Resource::<Audit(Segment|Merge|Fail)Function[0-9A-F]+\\.Arn>:\\*$/' },
          ],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason:
            "The distributed Map describes, stops and redrives its own child executions, whose ARNs are only known at run time: `execution:<this state machine's name>:*` (CDK's DistributedMapPolicy).",
          appliesTo: [
            {
              regex:
                '/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:.*\\*$/',
            },
          ],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'CloudWatch Logs vended log delivery (logs:CreateLogDelivery and the like) and X-Ray (xray:PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets) support no resource-level permissions, so their resource must be "*".',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
  }
}
