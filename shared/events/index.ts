/**
 * Change events: each committed change, published once (see shared/history).
 *
 * | file             | what it holds                                                        |
 * | ---------------- | -------------------------------------------------------------------- |
 * | `event.ts`       | the event shape: `source: "ipam"`, detail-types, the detail          |
 * | `publisher.ts`   | the publisher interface; no-op, log (`IPAM_EVENTS=log`), in memory   |
 * | `eventBridge.ts` | PutEvents to the stack's bus                                          |
 * | `environment.ts` | the publisher IPAM_EVENT_BUS_NAME / IPAM_EVENTS=log ask for          |
 */

export { publisherFromEnvironment } from './environment.js';
export {
  DETAIL_TYPES,
  type DetailType,
  type EntryFields,
  EVENT_SOURCE,
  type EventAction,
  type EventDetail,
  eventOf,
  type IpamEvent,
} from './event.js';
export { EventPublishError, eventBridgePublisher } from './eventBridge.js';
export { type EventPublisher, logPublisher, memoryPublisher, noopPublisher } from './publisher.js';
