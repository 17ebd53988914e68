export { headerNormalizer } from './headerNormalizer.js';
export {
  type HttpErrorHandlerOptions,
  httpErrorHandler,
  internalErrorResponse,
} from './httpErrorHandler.js';
export { REQUEST_ID_HEADER, requestId, requestIdOf } from './requestId.js';
export { securityHeaders } from './securityHeaders.js';
