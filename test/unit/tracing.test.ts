/** X-Ray tracing of the DynamoDB client: on in Lambda, a no-op locally and in tests. */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { describe, expect, it } from 'vitest';
import { client, tracer } from '../../functions/runtime.js';
import { createDynamoClient } from '../../shared/store/client.js';

const xrayMiddleware = (stack: { identify(): string[] }) =>
  stack.identify().filter((name) => /xray/i.test(name));

describe('tracing', () => {
  it('is off outside Lambda and leaves the client untouched', () => {
    expect(process.env.AWS_EXECUTION_ENV).toBeUndefined();
    expect(tracer.isTracingEnabled()).toBe(false);
    expect(xrayMiddleware(client.middlewareStack)).toEqual([]);
  });

  it('records DynamoDB calls as subsegments in Lambda', () => {
    const previous = process.env.AWS_EXECUTION_ENV;
    process.env.AWS_EXECUTION_ENV = 'AWS_Lambda_nodejs20.x';
    try {
      const traced = new Tracer({ serviceName: 'ipam' }).captureAWSv3Client(
        createDynamoClient({ endpoint: 'http://127.0.0.1:1', region: 'local' }),
      );
      expect(xrayMiddleware(traced.middlewareStack)).not.toEqual([]);
    } finally {
      if (previous === undefined) delete process.env.AWS_EXECUTION_ENV;
      else process.env.AWS_EXECUTION_ENV = previous;
    }
  });
});
