/** The two kinds of answer: a JSON body, and the one error shape of API.md. */
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { ErrorDetails } from '../../shared/errors.js';
import { type ErrorCode, STATUS_BY_CODE } from './errors.js';

/** On every API response (middleware/securityHeaders.ts; the local server's own answers). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
};

export function jsonResponse(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

/** The one error shape of API.md: {"error": {"code", "message", "details"}}. */
export function errorResponse(
  code: ErrorCode,
  message: string,
  details: ErrorDetails = {},
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return jsonResponse(STATUS_BY_CODE[code], { error: { code, message, details } }, headers);
}
