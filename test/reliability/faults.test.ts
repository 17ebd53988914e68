import { beforeAll, describe, expect, it } from 'vitest';
import { AllocationContentionError, SubnetExhaustedError } from '../../shared/errors.js';
import { createDocumentClient, createDynamoClient } from '../../shared/store/client.js';
import { isRetryableAwsError } from '../../shared/store/retry.js';
import { createSubnet, getSubnet } from '../../shared/subnets/subnets.js';
import { createTestDb, storedIps, type TestDb } from '../support/dynamo.js';
import { injectFaults } from '../support/faults.js';
import { TextAllocator } from '../support/textAllocator.js';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});

const FAULTS = [
  { error: 'ProvisionedThroughputExceededException', afterSend: false },
  { error: 'ThrottlingException', afterSend: false },
  { error: 'TransactionConflictException', afterSend: false },
  { error: 'InternalServerError', afterSend: false },
  { error: 'TimeoutError', afterSend: true },
];

/** An allocator whose every DynamoDB call fails with probability `rate`. */
function faultyAllocator(rate: number): TextAllocator {
  const client = createDynamoClient({ endpoint: db.endpoint, region: 'local' });
  let next = FAULTS[0]!;
  injectFaults(
    client,
    FAULTS.map((fault) => ({
      command: '*',
      when: () => {
        if (Math.random() >= rate) return false;
        next = FAULTS[Math.floor(Math.random() * FAULTS.length)]!;
        return next === fault;
      },
      error: fault.error,
      afterSend: fault.afterSend,
    })),
  );
  return new TextAllocator({ ...db.ctx, doc: createDocumentClient(client) });
}

describe('allocator under injected DynamoDB faults', () => {
  it.each([0.1, 0.3])('keeps every promise at a %s failure rate', async (rate) => {
    const subnet = await createSubnet(db.ctx, { cidr: '10.0.0.0/25', space: `faults-${rate}` });
    const held = new Map<string, number>();
    const failures: string[] = [];
    let operations = 0;
    await Promise.all(
      Array.from({ length: 12 }, async (_, worker) => {
        const allocator = faultyAllocator(rate);
        const mine: string[] = [];
        for (let round = 0; round < 30; round++) {
          operations++;
          try {
            if (mine.length > 0 && round % 3 === 2) {
              const ip = mine.shift()!;
              // From the moment the release is sent, another caller may rightly get the address.
              held.delete(ip);
              try {
                await allocator.release(subnet.id, ip);
              } catch (error) {
                // Not released after all (unless it was, and someone holds it anew).
                if (!held.has(ip)) held.set(ip, worker);
                throw error;
              }
            } else {
              const count = round % 5 === 0 ? 3 : 1;
              const allocations = await allocator.allocate(subnet.id, {
                owner: `w${worker}`,
                count,
              });
              for (const { ip } of allocations) {
                expect(held.has(ip), `${ip} handed out twice`).toBe(false);
                held.set(ip, worker);
                mine.push(ip);
              }
            }
          } catch (error) {
            if (error instanceof SubnetExhaustedError) continue;
            failures.push((error as Error).name);
            // Every failure is one a caller should retry: 503 over HTTP, never a 500.
            expect(
              error instanceof AllocationContentionError || isRetryableAwsError(error),
              String(error),
            ).toBe(true);
          }
        }
      }),
    );
    expect(await storedIps(db.ctx, subnet.id)).toEqual([...held.keys()].sort());
    expect((await getSubnet(db.ctx, subnet.id)).usage.allocated).toBe(held.size);
    expect(operations).toBe(360);
    console.info(
      `rate ${rate}: ${operations} operations, ${failures.length} failed retryably, ${held.size} held, 0 duplicates`,
    );
  });
});
