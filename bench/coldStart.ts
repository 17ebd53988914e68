/**
 * Cold start: every `functions/*.ts` bundled as its Lambda would be (esbuild,
 * minified, platform node, ESM, target node22, everything bundled), its size, and
 * the time a fresh Node process takes to `import()` it (median of 5 processes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { median, round } from './metrics.js';

export interface ColdStartEntry {
  function: string;
  bytes: number;
  /** Median `import()` time in a fresh process, or null when the import failed. */
  importMs: number | null;
  importRunsMs: number[];
  error?: string;
}

export interface ColdStartResult {
  functions: ColdStartEntry[];
  /** functions/*.ts that are not handlers (no `handler` export), bundled but not listed above. */
  skipped: { file: string; reason: string }[];
  note: string;
}

// ESM bundles of CommonJS dependencies need `require`; Lambda bundlers add the same shim.
const REQUIRE_SHIM =
  "import { createRequire as __benchCreateRequire } from 'node:module'; const require = __benchCreateRequire(import.meta.url);";

/** `export const handler`, `export async function handler`, `export { x as handler }`. */
const HANDLER_EXPORT =
  /export\s+(?:const|let|var|(?:async\s+)?function\*?)\s+handler\b|export\s*\{[^}]*\bhandler\b[^}]*\}/;

const IMPORT_SCRIPT = `
const started = performance.now();
try {
  await import(process.argv[1]);
  console.log(JSON.stringify({ ms: performance.now() - started }));
} catch (error) {
  console.log(JSON.stringify({ error: String(error?.message ?? error) }));
}`;

export async function measureColdStart(
  root: string,
  outDir: string,
  runs = 5,
): Promise<ColdStartResult> {
  const dir = join(root, 'functions');
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter(
          (name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.endsWith('.test.ts'),
        )
        .sort()
    : [];
  if (files.length === 0) {
    return {
      functions: [],
      skipped: [],
      note: 'functions/ has no *.ts yet (the HTTP layer is being written): nothing to bundle.',
    };
  }
  mkdirSync(outDir, { recursive: true });
  const functions: ColdStartEntry[] = [];
  const skipped: { file: string; reason: string }[] = [];
  for (const file of files) {
    const name = basename(file, '.ts');
    const outfile = join(outDir, `${name}.mjs`);
    if (!HANDLER_EXPORT.test(readFileSync(join(dir, file), 'utf8'))) {
      skipped.push({
        file: `functions/${file}`,
        reason: 'exports no handler (a module the handlers share)',
      });
      continue;
    }
    let exports: string[];
    try {
      const result = await build({
        entryPoints: [join(dir, file)],
        bundle: true,
        minify: true,
        platform: 'node',
        format: 'esm',
        target: 'node22',
        outfile,
        metafile: true,
        banner: { js: REQUIRE_SHIM },
        logLevel: 'silent',
      });
      exports = Object.values(result.metafile.outputs).flatMap((output) => output.exports);
    } catch (error) {
      functions.push({
        function: name,
        bytes: 0,
        importMs: null,
        importRunsMs: [],
        error: `bundle failed: ${(error as Error).message.split('\n')[0]}`,
      });
      continue;
    }
    if (!exports.includes('handler')) {
      skipped.push({
        file: `functions/${file}`,
        reason: 'exports no handler (a module the handlers share)',
      });
      continue;
    }
    const times: number[] = [];
    let error: string | undefined;
    for (let i = 0; i < runs; i++) {
      const child = spawnSync(
        process.execPath,
        ['--input-type=module', '-e', IMPORT_SCRIPT, pathToFileURL(outfile).href],
        {
          encoding: 'utf8',
          env: {
            ...process.env,
            AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
          timeout: 60_000,
        },
      );
      const line = child.stdout.trim().split('\n').pop() ?? '';
      try {
        const parsed = JSON.parse(line) as { ms?: number; error?: string };
        if (parsed.ms !== undefined) times.push(round(parsed.ms, 1));
        else error = parsed.error;
      } catch {
        error = `import process printed no result: ${child.stderr.trim().split('\n').slice(-1)[0] ?? ''}`;
      }
      if (error !== undefined) break;
    }
    functions.push({
      function: name,
      bytes: statSync(outfile).size,
      importMs: times.length === runs ? round(median(times), 1) : null,
      importRunsMs: times,
      ...(error === undefined ? {} : { error }),
    });
  }
  return {
    functions,
    skipped,
    note: 'Everything is bundled, the AWS SDK included; Lambda node22 ships SDK v3, so marking @aws-sdk/* external would shrink bundles.',
  };
}
