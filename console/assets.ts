/**
 * The console's three files, as the local server and `ipam console` serve them: `/`
 * (the page) and `/console/app.js`, `/console/app.css`. Built once, on the first
 * request, so a server that only answers the API never pays for the build.
 */
import { buildConsole, type ConsoleBundle } from './build.js';

export interface ConsoleAsset {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Paths the console owns; every other path belongs to the API. */
export const CONSOLE_PATHS = ['/', '/console/app.js', '/console/app.css'] as const;

/**
 * Everything from our own origin, nothing inline: the bundle sets styles through the
 * CSSOM (allowed), never through style attributes in markup.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

let bundle: Promise<ConsoleBundle> | undefined;

export function isConsolePath(method: string, pathname: string): boolean {
  return (
    (method === 'GET' || method === 'HEAD') &&
    (CONSOLE_PATHS as readonly string[]).includes(pathname)
  );
}

/** The asset for a console path (see isConsolePath). A failed build is retried next time. */
export async function consoleAsset(pathname: string): Promise<ConsoleAsset> {
  bundle ??= buildConsole().catch((error: unknown) => {
    bundle = undefined;
    throw error;
  });
  const { html, js, css } = await bundle;
  const [type, body] =
    pathname === '/console/app.js'
      ? ['text/javascript; charset=utf-8', js]
      : pathname === '/console/app.css'
        ? ['text/css; charset=utf-8', css]
        : ['text/html; charset=utf-8', html];
  return {
    status: 200,
    headers: {
      'Content-Type': type,
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-cache',
    },
    body,
  };
}
