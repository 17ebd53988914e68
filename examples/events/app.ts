/**
 * An EventBridge rule on the IPAM bus that sends every allocation event to a log
 * group (a start for a DNS updater: swap the target for your Lambda).
 *   npx cdk synth -a "npx tsx examples/events/app.ts" -c eventBusName=<EventBusName output>
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { EventBus, Rule } from 'aws-cdk-lib/aws-events';
import { CloudWatchLogGroup } from 'aws-cdk-lib/aws-events-targets';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';

const app = new App();
const busName = String(app.node.tryGetContext('eventBusName') ?? 'IpamHistoryBus');
const stack = new Stack(app, 'IpamEventsExample');
const bus = EventBus.fromEventBusName(stack, 'IpamBus', busName);
const logs = new LogGroup(stack, 'AllocationEvents', {
  retention: RetentionDays.ONE_MONTH,
  removalPolicy: RemovalPolicy.DESTROY,
});
new Rule(stack, 'AllocationsToLogs', {
  eventBus: bus,
  description: 'IPAM allocation events (created, released, expired) to a log group',
  eventPattern: {
    source: ['ipam'],
    detailType: ['Allocation Created', 'Allocation Released', 'Lease Expired'],
  },
  targets: [new CloudWatchLogGroup(logs)],
});
app.synth();
