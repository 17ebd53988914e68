/**
 * Exit codes and the errors that carry them. Every failure a user can cause ends
 * in one of these with a one-line message; only a bug in the CLI prints a stack.
 */

/** Distinct exit codes (documented in `ipam --help` and the README). */
export const ExitCode = {
  OK: 0,
  /** Anything else: an unexpected server error (500), a malformed response. */
  OTHER: 1,
  /** Bad arguments or options, or a request the API refused as invalid (400, 405, 413, 415, 422). */
  USAGE: 2,
  /** The subnet, pool, allocation or audit does not exist (404). */
  NOT_FOUND: 3,
  /** Conflict: overlap, in use, already allocated, exhausted, owner mismatch (409); import conflicts. */
  CONFLICT: 4,
  /** Contention or unavailable after the CLI's own retries (503, 429, 502, 504), endpoint unreachable. */
  UNAVAILABLE: 5,
  /** Authentication or authorisation: 401, 403, no AWS credentials. */
  AUTH: 6,
  /** The server does not offer this yet (its route answers 404 ROUTE_NOT_FOUND). */
  NOT_SUPPORTED: 7,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_HELP = `Exit codes:
  0  success
  1  other error (unexpected server error, malformed response)
  2  usage: bad arguments, or the API refused the request as invalid (400/405/413/415/422)
  3  not found (404: subnet, pool, allocation, audit; or no match for a name/CIDR)
  4  conflict or exhausted (409: overlap, in use, already allocated, pool/subnet full,
     owner mismatch; import: conflicts were found)
  5  contention or unavailable after retries (503/429/502/504), endpoint unreachable
  6  authentication/authorisation (401/403, no AWS credentials)
  7  not supported by this server yet (the route does not exist)`;

/** Base class of every error the CLI reports as a message, not a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.USAGE, options);
    this.name = 'UsageError';
  }
}

export class NotFoundError extends CliError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.NOT_FOUND, options);
    this.name = 'NotFoundError';
  }
}

export class UnreachableError extends CliError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.UNAVAILABLE, options);
    this.name = 'UnreachableError';
  }
}

export class AuthError extends CliError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, ExitCode.AUTH, options);
    this.name = 'AuthError';
  }
}

/** The API answered with an error body `{"error": {code, message, details}}`. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly apiMessage: string,
    readonly details: Record<string, unknown>,
    readonly body: unknown,
  ) {
    super(`${code}: ${apiMessage}`, exitCodeOfStatus(status, code));
    this.name = 'ApiError';
  }
}

export function exitCodeOfStatus(status: number, code = ''): ExitCode {
  if (code === 'ROUTE_NOT_FOUND') return ExitCode.NOT_SUPPORTED;
  if (status === 401 || status === 403) return ExitCode.AUTH;
  if (status === 404) return ExitCode.NOT_FOUND;
  if (status === 409) return ExitCode.CONFLICT;
  if (status === 429 || status === 502 || status === 503 || status === 504) {
    return ExitCode.UNAVAILABLE;
  }
  if (status >= 400 && status < 500) return ExitCode.USAGE;
  return ExitCode.OTHER;
}
