/**
 * The Authorization header AWS would expect for a request a capture server received,
 * computed from scratch (canonical request, string to sign, HMAC key chain per the AWS
 * SigV4 specification, node:crypto only) — never by the signer under test.
 */
import { createHash, createHmac } from 'node:crypto';
import type http from 'node:http';

export interface ReceivedRequest {
  readonly method: string;
  /** The request target as received: path and query, still encoded. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export const sha256 = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) =>
  createHmac('sha256', key).update(data, 'utf8').digest();
const encode = (text: string) =>
  encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );

/** The Authorization header AWS would expect for this received request. */
export function expectedSigV4Authorization(
  req: ReceivedRequest,
  key: { accessKeyId: string; secretAccessKey: string; region: string; service: string },
): string {
  const { secretAccessKey: secret, region } = key;
  const amzDate = String(req.headers['x-amz-date']);
  const date = amzDate.slice(0, 8);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))![1]!;
  const [rawPath, rawQuery = ''] = req.url.split('?') as [string, string?];
  // Every service but S3: each path segment, as sent (encoded once), is encoded again.
  const canonicalUri = rawPath.split('/').map(encode).join('/');
  const canonicalQuery = rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const [k, v = ''] = pair.split('=') as [string, string?];
      return [encode(decodeURIComponent(k)), encode(decodeURIComponent(v))] as const;
    })
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(req.headers[name]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    req.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    sha256(req.body),
  ].join('\n');
  const scope = `${date}/${region}/${key.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${secret}`, date);
  const kSigning = hmac(hmac(hmac(kDate, region), key.service), 'aws4_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
  return `AWS4-HMAC-SHA256 Credential=${key.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}
