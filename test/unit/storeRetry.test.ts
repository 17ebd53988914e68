/**
 * The store's retry classification (the SDK's, plus what it cannot know), how the
 * HTTP layer answers what the store throws, and the client's request time-out.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../shared/store/client.js';
import {
  isRetryableAwsError,
  isRetryableCancellation,
  TransactionThrottledError,
} from '../../shared/store/retry.js';
import { answerTo } from '../support/failingHandler.js';

const error = (fields: Record<string, unknown>, message = 'failed'): Error =>
  Object.assign(new Error(message), fields);

const canceled = (...codes: string[]): Error =>
  error({
    name: 'TransactionCanceledException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

describe('isRetryableAwsError', () => {
  it.each([
    ['ThrottlingException', error({ name: 'ThrottlingException' })],
    [
      'ProvisionedThroughputExceededException',
      error({ name: 'ProvisionedThroughputExceededException' }),
    ],
    ['RequestLimitExceeded', error({ name: 'RequestLimitExceeded' })],
    ['TransactionInProgressException', error({ name: 'TransactionInProgressException' })],
    ['TransactionConflictException', error({ name: 'TransactionConflictException' })],
    ['InternalServerError', error({ name: 'InternalServerError', $fault: 'server' })],
    ['HTTP 500', error({ name: 'InternalServerError', $metadata: { httpStatusCode: 500 } })],
    [
      'ServiceUnavailable',
      error({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }),
    ],
    ['HTTP 429', error({ name: 'Unknown', $metadata: { httpStatusCode: 429 } })],
    ['TimeoutError', error({ name: 'TimeoutError' })],
    ['RequestTimeout', error({ name: 'RequestTimeout' })],
    ['ECONNRESET', error({ code: 'ECONNRESET' }, 'socket hang up')],
    ['an aborted response', error({ code: 'ECONNRESET' }, 'aborted')],
    ['EPIPE', error({ code: 'EPIPE' })],
    ['ETIMEDOUT', error({ code: 'ETIMEDOUT' })],
    ['ECONNREFUSED', error({ code: 'ECONNREFUSED' })],
    ['a network error as the cause', error({ cause: error({ code: 'ECONNRESET' }) })],
    [
      'TransactionThrottledError',
      new TransactionThrottledError(canceled('ThrottlingError'), false),
    ],
  ])('retries %s', (_name, failure) => {
    expect(isRetryableAwsError(failure)).toBe(true);
  });

  it.each([
    [
      'ConditionalCheckFailedException',
      error({ name: 'ConditionalCheckFailedException', $fault: 'client' }),
    ],
    [
      'ValidationException',
      error({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } }),
    ],
    ['TransactionCanceledException', canceled('ConditionalCheckFailed')],
    ['a caller abort', error({ name: 'AbortError', $fault: 'server' })],
    ['a plain error', new Error('bug')],
    ['undefined', undefined],
    ['a string', 'ECONNRESET'],
  ])('does not retry %s', (_name, failure) => {
    expect(isRetryableAwsError(failure)).toBe(false);
  });
});

describe('isRetryableCancellation', () => {
  it.each([
    [['ThrottlingError'], true],
    [['None', 'ProvisionedThroughputExceeded', 'None'], true],
    [['TransactionConflict', 'None'], true],
    [['ThrottlingError', 'TransactionConflict'], true],
    [['ConditionalCheckFailed', 'ThrottlingError'], false],
    [['None', 'ConditionalCheckFailed'], false],
    [['ValidationError', 'ThrottlingError'], false],
    [['None', 'None'], false],
    [[], false],
  ])('%j → %s', (codes, expected) => {
    expect(isRetryableCancellation(canceled(...codes))).toBe(expected);
  });

  it('is false for anything but a cancellation', () => {
    expect(isRetryableCancellation(error({ name: 'ThrottlingException' }))).toBe(false);
  });
});

describe('HTTP answers to what the store throws', () => {
  const respond = answerTo;

  it('answers a transaction cancelled for capacity through every retry with 503 and Retry-After', async () => {
    const response = await respond(
      new TransactionThrottledError(canceled('None', 'ProvisionedThroughputExceeded'), false),
    );
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'Retry-After': '1', 'X-Request-Id': 'req-1' });
    expect(response.json.error.code).toBe('SERVICE_UNAVAILABLE');
  });

  it('answers a connection reset that outlasted the retries with 503, not 500', async () => {
    const response = await respond(error({ code: 'ECONNRESET' }, 'socket hang up'));
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'Retry-After': '1' });
    expect(response.json.error.code).toBe('SERVICE_UNAVAILABLE');
  });
});

describe('the DynamoDB client', () => {
  // A server that accepts connections and never answers: a request to it hangs
  // forever unless the client has a request time-out.
  let server: Server;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  it('gives up on a request that gets no answer, with a retryable TimeoutError', async () => {
    const { port } = server.address() as { port: number };
    const client = createDynamoClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'local',
      requestTimeoutMs: 200,
    });
    const failure = await client
      .send(new GetItemCommand({ TableName: 'ipam', Key: { pk: { S: 'x' }, sk: { S: 'y' } } }))
      .then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
    client.destroy();
    expect((failure as Error | undefined)?.name).toBe('TimeoutError');
    expect(isRetryableAwsError(failure)).toBe(true);
    // The SDK retried it before giving up.
    expect((failure as { $metadata?: { attempts?: number } }).$metadata?.attempts).toBe(4);
  });
});
