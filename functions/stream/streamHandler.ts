/**
 * The DynamoDB Streams handler: the batch goes to processStreamRecords; a failed
 * record is reported as the batch's first failure (ReportBatchItemFailures), so
 * Lambda checkpoints before it and retries from there — bisecting, and after its
 * retries sending the record's batch to the on-failure destination (the DLQ).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { EventPublisher } from '../../shared/events/index.js';
import { processStreamRecords, type StreamRecordInput } from '../../shared/history/index.js';
import type { IpamContext } from '../../shared/store/context.js';

export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

export function createStreamHandler(
  ctx: IpamContext,
  publisher: EventPublisher,
  logger: Pick<Logger, 'error' | 'info'>,
): StreamHandler {
  return async (event) => {
    const records = event.Records as readonly StreamRecordInput[];
    const result = await processStreamRecords(ctx, records, publisher);
    logger.info('Stream batch processed', {
      records: records.length,
      entriesWritten: result.entriesWritten,
      eventsPublished: result.eventsPublished,
      failed: result.failures.length,
      consumedWriteCapacity: result.capacity.write,
    });
    const first = result.firstFailure;
    if (first === undefined) return { batchItemFailures: [] };
    logger.error('Stream record failed; Lambda retries from it', {
      sequenceNumber: first.sequenceNumber,
      error: first.error,
    });
    // An empty identifier would fail the whole batch (AWS docs), which is also right
    // for a record without a sequence number.
    return { batchItemFailures: [{ itemIdentifier: first.sequenceNumber ?? '' }] };
  };
}
