/**
 * Where events go. A publisher either delivers an event or throws (then the stream
 * record is retried); `publishes` false means events go nowhere, so the history
 * entry needs no "published" bookkeeping.
 */
import type { IpamEvent } from './event.js';

export interface EventPublisher {
  readonly publishes: boolean;
  publish(event: IpamEvent): Promise<void>;
}

/** Events go nowhere (the default locally, and in tests that do not look). */
export const noopPublisher: EventPublisher = {
  publishes: false,
  publish: async () => undefined,
};

/** `IPAM_EVENTS=log`: each event as one JSON line (`{"source","detail-type","detail"}`). */
export function logPublisher(
  write: (line: string) => void = (line) => process.stderr.write(line),
): EventPublisher {
  return {
    publishes: true,
    publish: async (event) => {
      write(
        `${JSON.stringify({ source: event.source, 'detail-type': event.detailType, detail: event.detail })}\n`,
      );
    },
  };
}

/** Keeps events in memory (tests, measurements). */
export function memoryPublisher(): EventPublisher & { readonly events: IpamEvent[] } {
  const events: IpamEvent[] = [];
  return {
    events,
    publishes: true,
    publish: async (event) => {
      events.push(event);
    },
  };
}
