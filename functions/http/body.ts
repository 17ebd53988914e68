/**
 * The request body: at most 64 KiB of UTF-8 JSON (Content-Type: application/json)
 * holding one object, no key twice, no prototype keys. An absent body counts as {}
 * (every body field is optional somewhere); routes without a body accept none.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { ValidationError } from '../../shared/errors.js';
import { HttpError } from './errors.js';
import { findKeyProblem } from './json.js';

export const MAX_BODY_BYTES = 64 * 1024;

const JSON_MEDIA_TYPE = /^application\/json\s*(;.*)?$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** 413 for a body over MAX_BODY_BYTES (also answered by the local server before reading on). */
export function payloadTooLarge(): HttpError {
  return new HttpError(
    'PAYLOAD_TOO_LARGE',
    `The request body is over ${MAX_BODY_BYTES / 1024} KiB.`,
    { maxBytes: MAX_BODY_BYTES },
  );
}

/** Throws unless the request has no body. */
export function assertNoBody(event: APIGatewayProxyEvent): undefined {
  if (event.body !== null && event.body !== undefined && event.body.length > 0) {
    throw new ValidationError(
      `${event.httpMethod} ${event.resource} takes no request body; send parameters in the query.`,
    );
  }
  return undefined;
}

/**
 * The body as a JSON object. Expects lower-case header names (the headers
 * middleware normalises them).
 */
export function parseJsonBody(event: APIGatewayProxyEvent): unknown {
  if (event.body === null || event.body === undefined || event.body.length === 0) return {};
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : undefined;
  const size = bytes?.length ?? Buffer.byteLength(event.body);
  if (size > MAX_BODY_BYTES) throw payloadTooLarge();
  const contentType = event.headers?.['content-type'];
  if (contentType === undefined || !JSON_MEDIA_TYPE.test(contentType.trim())) {
    throw new HttpError(
      'UNSUPPORTED_MEDIA_TYPE',
      'Send the body as JSON with Content-Type: application/json.',
      { contentType: contentType ?? null },
    );
  }
  return parseJsonObject(bytes === undefined ? event.body : decodeUtf8(bytes));
}

function decodeUtf8(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ValidationError('The request body is not valid UTF-8; send JSON as UTF-8.');
  }
}

/** One JSON object, each key once and none of the prototype keys. */
export function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`The request body is not valid JSON: ${(error as Error).message}.`);
  }
  const problem = findKeyProblem(text);
  if (problem?.kind === 'forbidden') {
    throw new ValidationError(
      `The request body uses the key ${JSON.stringify(problem.key)}, which is not allowed.`,
    );
  }
  if (problem?.kind === 'duplicate') {
    throw new ValidationError(`body.${problem.path}: given more than once; give each field once.`, {
      issues: [{ path: `body.${problem.path}`, message: 'given more than once' }],
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}
