/** Events on an EventBridge bus (PutEvents; a refused entry fails the record, which is retried). */
import { type EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { IpamEvent } from './event.js';
import type { EventPublisher } from './publisher.js';

export class EventPublishError extends Error {
  override readonly name = 'EventPublishError';
}

export function eventBridgePublisher(client: EventBridgeClient, busName: string): EventPublisher {
  return {
    publishes: true,
    publish: async (event: IpamEvent) => {
      const output = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: busName,
              Source: event.source,
              DetailType: event.detailType,
              Detail: JSON.stringify(event.detail),
              Time: new Date(event.detail.at),
            },
          ],
        }),
      );
      // PutEvents answers 200 even when it refused an entry: look at each one.
      const refused = output.Entries?.find((entry) => entry.ErrorCode !== undefined);
      if ((output.FailedEntryCount ?? 0) > 0 || refused !== undefined) {
        throw new EventPublishError(
          `EventBridge refused event ${event.detail.eventId}: ${refused?.ErrorCode} ${refused?.ErrorMessage}`,
        );
      }
    },
  };
}
