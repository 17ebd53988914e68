/**
 * History and events in the stack: the table's stream, the processor's event source
 * mapping (bisect, partial failures, bounded retries, SQS on-failure destination),
 * the bus, alarms, and grants no wider than the processor's use.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ITERATOR_AGE_ALARM_MS,
  STREAM_RETRY_ATTEMPTS,
} from '../../infra/constructs/IpamHistory.js';
import {
  actionsOf,
  logicalIdOf,
  resourcesOf,
  roleStatements,
  type Synthesized,
  synthesize,
} from './synth.js';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize({ historyRetentionDays: 30 });
}, 300_000);
afterAll(() => synth?.cleanUp());

const template = () => synth.template;
const processor = () => synth.stack.history.processor;

describe('history and events infrastructure', () => {
  it('streams the table with old and new images', () => {
    template().hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
    });
  });

  it('maps the stream to the processor with bisect, partial failures, retries and a DLQ', () => {
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalIdOf(processor().function) },
      EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(synth.stack.tables.table), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: STREAM_RETRY_ATTEMPTS,
      DestinationConfig: {
        OnFailure: {
          Destination: { 'Fn::GetAtt': [logicalIdOf(synth.stack.history.deadLetterQueue), 'Arn'] },
        },
      },
    });
    template().resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  });

  it('gives the processor the bus name and the retention', () => {
    template().hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          IPAM_EVENT_BUS_NAME: { Ref: logicalIdOf(synth.stack.history.bus) },
          IPAM_HISTORY_RETENTION_DAYS: '30',
        }),
      },
    });
    template().resourceCountIs('AWS::Events::EventBus', 1);
  });

  it('grants PutEvents on the bus only, stream reads on the stream only', () => {
    const statements = roleStatements(template()).get(logicalIdOf(processor().role)) ?? [];
    const granting = (action: string) =>
      statements.filter((statement) => actionsOf(statement).includes(action));
    const putEvents = granting('events:PutEvents');
    expect(putEvents).toHaveLength(1);
    expect(resourcesOf(putEvents[0]!)).toEqual([
      { 'Fn::GetAtt': [logicalIdOf(synth.stack.history.bus), 'Arn'] },
    ]);
    for (const action of [
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:DescribeStream',
    ]) {
      const found = granting(action);
      expect(found).toHaveLength(1);
      expect(resourcesOf(found[0]!)).toEqual([
        { 'Fn::GetAtt': [logicalIdOf(synth.stack.tables.table), 'StreamArn'] },
      ]);
    }
    // No other role may read the stream or publish events.
    for (const [role, list] of roleStatements(template())) {
      if (role === logicalIdOf(processor().role)) continue;
      const actions = list.flatMap(actionsOf);
      expect(
        actions.filter((a) => a === 'events:PutEvents' || a.startsWith('dynamodb:GetRecords')),
      ).toEqual([]);
    }
    const table = statements.find((statement) => statement.Sid === 'MainTable');
    expect(actionsOf(table!).sort()).toEqual(
      ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'].sort(),
    );
  });

  it('alarms on the DLQ and on the iterator age', () => {
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalIdOf(synth.stack.history.deadLetterQueue), 'QueueName'] },
        },
      ],
      Threshold: 1,
    });
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Threshold: ITERATOR_AGE_ALARM_MS,
    });
  });

  it('is cdk-nag clean', () => {
    expect(synth.nagFindings).toEqual([]);
  });
});
