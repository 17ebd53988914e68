/**
 * Who makes a request's writes, as the history records them: the caller's IAM
 * identity from the API Gateway request context, and the request's X-Request-Id.
 *
 * Only the request context is read, never a header: API Gateway builds the context
 * itself, so a caller cannot claim another identity. The local server (local/server.ts)
 * fabricates the context, and that is where `X-Ipam-Actor` is honoured.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Who } from '../../shared/store/context.js';
import { requestIdOf } from './middleware/index.js';

/** The actor of a request the context names no caller for (a public route). */
export const ANONYMOUS_ACTOR = 'unknown';

/** The request's actor (`identity.userArn`, else `identity.caller`) and request id. */
export function whoOfEvent(event: APIGatewayProxyEvent): Who {
  const identity = event.requestContext?.identity;
  const actor = nonEmpty(identity?.userArn) ?? nonEmpty(identity?.caller) ?? ANONYMOUS_ACTOR;
  return { actor, requestId: requestIdOf(event) };
}

function nonEmpty(value: string | null | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
