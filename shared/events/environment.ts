/**
 * The publisher the environment asks for: IPAM_EVENT_BUS_NAME → that EventBridge
 * bus (the deployed processor); IPAM_EVENTS=log → JSON lines on stderr (`npm
 * start`); otherwise none.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { eventBridgePublisher } from './eventBridge.js';
import { type EventPublisher, logPublisher, noopPublisher } from './publisher.js';

export function publisherFromEnvironment(env: NodeJS.ProcessEnv = process.env): EventPublisher {
  const bus = env.IPAM_EVENT_BUS_NAME;
  if (bus !== undefined && bus !== '') return eventBridgePublisher(new EventBridgeClient({}), bus);
  if (env.IPAM_EVENTS === 'log') return logPublisher();
  return noopPublisher;
}
