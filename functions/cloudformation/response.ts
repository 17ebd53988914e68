/**
 * Sends the answer to CloudFormation: a PUT to the event's pre-signed S3 ResponseURL,
 * retried with back-off. Throws only when every attempt failed (then Lambda retries
 * the invocation, which answers the same without allocating again).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { backoffMs, sleep } from '../../shared/store/retry.js';

const SEND_ATTEMPTS = 4;
const SEND_TIMEOUT_MS = 10_000;

export type SendResponse = (responseUrl: string, body: string) => Promise<void>;

/**
 * PUTs the answer to the pre-signed URL: no content type (it is part of the
 * signature, which was made without one), retried with back-off.
 */
export const putResponse: SendResponse = async (responseUrl, body) => {
  let lastError: unknown;
  for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
    if (attempt > 0) await sleep(backoffMs(attempt, 200, 5000));
    try {
      await put(responseUrl, body);
      return;
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error('Could not deliver the custom resource response to CloudFormation.', {
    cause: lastError,
  });
};

function put(responseUrl: string, body: string): Promise<void> {
  const url = new URL(responseUrl);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const request = send(
      url,
      {
        method: 'PUT',
        headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
        timeout: SEND_TIMEOUT_MS,
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else reject(new Error(`The response URL answered HTTP ${status}.`));
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('The response URL timed out.')));
    request.on('error', reject);
    request.end(body);
  });
}
