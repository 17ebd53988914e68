/**
 * Request paths as API Gateway (REST) treats them: split at '/', routed on the
 * URL-decoded segments, path parameters handed on still percent-encoded. The
 * handlers decode each parameter exactly once (dispatch.ts), locally and in AWS.
 */

/** A request path's segments, as sent and URL-decoded. */
export interface PathSegments {
  readonly raw: readonly string[];
  readonly decoded: readonly string[];
}

/** Splits `/a/b%2Fc` into `a`, `b%2Fc` (raw) and `a`, `b/c`; undefined when not decodable. */
export function splitPath(path: string): PathSegments | undefined {
  const raw = path.split('/').slice(1);
  try {
    return { raw, decoded: raw.map(decodeURIComponent) };
  } catch {
    return undefined;
  }
}

/** The names of a template's parameters: `subnetId`, `ip` for `/subnets/{subnetId}/allocations/{ip}`. */
export function parameterNames(template: string): string[] {
  return [...template.matchAll(/\{(\w+)\}/g)].flatMap((match) =>
    match[1] === undefined ? [] : [match[1]],
  );
}

/**
 * A path parameter decoded once. A value that does not decode (`%E0%A4%A`) is kept
 * as sent: it names nothing, and the operation answers so (e.g. 404 or INVALID_IP).
 */
export function decodeParameter(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
