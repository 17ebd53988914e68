/**
 * Test-only SDK middleware that makes chosen DynamoDB calls fail, to exercise the
 * paths DynamoDB Local never takes (throttling, conflicts, lost responses).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface FaultRule {
  /** Command name, e.g. 'TransactWriteItemsCommand', or '*' for every command. */
  readonly command: string;
  /** Fail the calls whose 1-based number (counting only this command) passes this test. */
  readonly when: (call: number) => boolean;
  /** Error name to throw, e.g. 'InternalServerError' or 'ThrottlingException'. */
  readonly error: string;
  /** Send the request first and lose the response: the write stands, the caller sees an error. */
  readonly afterSend?: boolean;
}

export function injectFaults(
  client: DynamoDBClient,
  rules: readonly FaultRule[],
): { calls: Map<string, number> } {
  const calls = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      const call = (calls.get(command) ?? 0) + 1;
      calls.set(command, call);
      const rule = rules.find(
        (candidate) =>
          (candidate.command === '*' || candidate.command === command) && candidate.when(call),
      );
      if (rule === undefined) return next(args);
      const fail = () =>
        Object.assign(new Error(`injected ${rule.error}`), { name: rule.error, $fault: 'server' });
      if (rule.afterSend) {
        await next(args);
        throw fail();
      }
      throw fail();
    },
    { step: 'initialize', name: 'injectFaults' },
  );
  return { calls };
}
