/** The HTTP edge: the route table, dispatch into typed operations, and the answer shapes. */
export {
  assertNoBody,
  MAX_BODY_BYTES,
  parseJsonBody,
  parseJsonObject,
  payloadTooLarge,
} from './body.js';
export { groupHandler, unroutable } from './dispatch.js';
export { type ErrorCode, HttpError, STATUS_BY_CODE } from './errors.js';
export { idempotencyKeyOf, idempotencyScope, withIdempotency } from './idempotency.js';
export { FORBIDDEN_KEYS, findKeyProblem, type KeyProblem } from './json.js';
export {
  internalErrorResponse,
  REQUEST_ID_HEADER,
  requestIdOf,
} from './middleware/index.js';
export { openApiDocument } from './openapi.js';
export { decodeParameter, type PathSegments, parameterNames, splitPath } from './path.js';
export { type HttpHandler, httpPipeline } from './pipeline.js';
export { errorResponse, jsonResponse, SECURITY_HEADERS } from './response.js';
export {
  allowedMethods,
  answerableErrors,
  matchRoute,
  type Operations,
  ROUTES,
  type RouteMatch,
} from './routes.js';
export type {
  Group,
  HttpResult,
  Method,
  Operation,
  OperationRequest,
  PathParameters,
  Route,
  RouteDefinition,
} from './types.js';
export { ANONYMOUS_ACTOR, whoOfEvent } from './who.js';
