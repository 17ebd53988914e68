/**
 * The CloudFormation custom-resource provider (`Custom::IpamSubnet`,
 * `Custom::IpamAllocation`): its ARN is the `ServiceToken` of those resources.
 *
 * CloudFormation invokes it asynchronously with the raw event and waits for the
 * answer at the event's pre-signed S3 `ResponseURL`. Every outcome is answered: the
 * result, or FAILED with `CODE: message` (the API's error code) as the reason. Only
 * when the answer cannot be delivered does the handler throw, so that Lambda retries
 * the invocation; the request is idempotent (cloudformation/provider.ts), so the retry
 * answers the same without allocating again.
 */
import type {
  CloudFormationCustomResourceEvent,
  CloudFormationCustomResourceResponse,
} from 'aws-lambda';
import { Allocator } from '../shared/allocator/index.js';
import { type IpamContext, type Who, withWho } from '../shared/store/context.js';
import {
  CustomResourceProvider,
  failedCreateId,
  failureReason,
  putResponse,
  type SendResponse,
} from './cloudformation/index.js';
import { allocator, ctx, logger } from './runtime.js';

/** CloudFormation rejects answers over 4096 bytes; the reason is the only long field. */
const MAX_REASON_LENGTH = 1000;

export { putResponse, type SendResponse } from './cloudformation/index.js';

export interface ProviderLogger {
  info(message: string, ...extra: unknown[]): void;
  error(message: string, ...extra: unknown[]): void;
}

export interface CustomResourceHandlerDeps {
  readonly ctx: IpamContext;
  /** Defaults to a new Allocator on `ctx`. */
  readonly allocator?: Allocator;
  readonly logger?: ProviderLogger;
  /** Defaults to an HTTPS PUT of the answer to the pre-signed ResponseURL. */
  readonly send?: SendResponse;
}

export type CustomResourceHandler = (
  event: CloudFormationCustomResourceEvent,
) => Promise<CloudFormationCustomResourceResponse>;

/** The handler on any context (tests pass DynamoDB Local's); `handler` uses runtime.ts's. */
export function createCustomResourceHandler(
  deps: CustomResourceHandlerDeps,
): CustomResourceHandler {
  const allocator = deps.allocator ?? new Allocator(deps.ctx);
  const log = deps.logger ?? { info: () => {}, error: () => {} };
  const send = deps.send ?? putResponse;
  return async (event) => {
    // The stack is the actor of what its resources write (the history says which stack).
    const who: Who = { actor: event.StackId, requestId: event.RequestId };
    const provider = new CustomResourceProvider(withWho(deps.ctx, who), allocator.actingAs(who));
    const response = await answer(provider, event, log);
    await send(event.ResponseURL, JSON.stringify(response));
    return response;
  };
}

async function answer(
  provider: CustomResourceProvider,
  event: CloudFormationCustomResourceEvent,
  log: ProviderLogger,
): Promise<CloudFormationCustomResourceResponse> {
  // The ResponseURL is a credential for the answer: never logged.
  const { ResponseURL: _url, ...request } = event;
  const common = {
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  try {
    const result = await provider.handle(event);
    log.info('Custom resource request done', {
      request,
      physicalResourceId: result.physicalResourceId,
      data: result.data,
    });
    return {
      ...common,
      Status: 'SUCCESS',
      PhysicalResourceId: result.physicalResourceId,
      Data: result.data,
    };
  } catch (error) {
    log.error('Custom resource request failed', { request, error: describe(error) });
    if (event.RequestType !== 'Delete') {
      await provider.undo(event).catch((undoError: unknown) => {
        log.error(
          'Could not undo the failed request (a failed Create is undone again by its Delete)',
          {
            request,
            error: describe(undoError),
          },
        );
      });
    }
    const reason = failureReason(error, event.RequestId);
    return {
      ...common,
      Status: 'FAILED',
      Reason:
        reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 1)}…` : reason,
      PhysicalResourceId:
        event.RequestType === 'Create' ? failedCreateId(event) : event.PhysicalResourceId,
    };
  }
}

function describe(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, stack: error.stack, code };
}

export const handler: CustomResourceHandler = createCustomResourceHandler({
  ctx,
  allocator,
  logger,
});
