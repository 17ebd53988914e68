/** The error table and middleware, through the real middy pipeline with synthetic events. */
import { describe, expect, it } from 'vitest';
import {
  AllocationContentionError,
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  SubnetExhaustedError,
} from '../../shared/errors.js';
import { answerTo } from '../support/failingHandler.js';

const respond = answerTo;

describe('HTTP error mapping', () => {
  it('answers contention with 503 ALLOCATION_CONTENTION and Retry-After', async () => {
    const response = await respond(new AllocationContentionError('busy', 2));
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'Retry-After': '2', 'X-Request-Id': 'req-1' });
    expect(response.json.error.code).toBe('ALLOCATION_CONTENTION');
  });

  it('answers DynamoDB throttling that outlasted the retries with 503 SERVICE_UNAVAILABLE', async () => {
    const throttled = Object.assign(new Error('Rate exceeded for table ipam'), {
      name: 'ThrottlingException',
    });
    const response = await respond(throttled);
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'Retry-After': '1' });
    expect(response.json.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(response.body).not.toContain('ipam');
  });

  it('answers anything unexpected with a bare 500 naming only the request id', async () => {
    const response = await respond(
      new TypeError("Cannot read properties of undefined (reading 'pk')"),
    );
    expect(response.statusCode).toBe(500);
    expect(response.json).toEqual({
      error: {
        code: 'INTERNAL_ERROR',
        message: 'An internal error occurred. Quote the request id when reporting it.',
        details: { requestId: 'req-1' },
      },
    });
  });

  it.each([
    [new SubnetExhaustedError(5, 5, 1), 409, 'SUBNET_EXHAUSTED'],
    [new IdempotencyInProgressError('running'), 409, 'IDEMPOTENCY_IN_PROGRESS'],
    [new IdempotencyKeyReusedError('other body'), 422, 'IDEMPOTENCY_KEY_REUSED'],
  ])('maps %s to its status', async (error, status, code) => {
    const response = await respond(error);
    expect(response.statusCode).toBe(status);
    expect(response.json.error.code).toBe(code);
  });
});
