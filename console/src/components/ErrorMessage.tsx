/** An API error as the API worded it: its code and message, verbatim. */
import type { ApiError } from '../api.js';

export function ErrorMessage({ error }: { error: ApiError | undefined }) {
  if (error === undefined) return null;
  return (
    <p class="error" role="alert">
      <code>{error.code}</code> {error.message}
    </p>
  );
}
