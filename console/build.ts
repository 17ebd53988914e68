/**
 * Bundles the console (console/src/main.tsx and its CSS) with esbuild's JS API, in
 * memory: no build step before `npm start` or `ipam console`, nothing written to disk.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface ConsoleBundle {
  readonly html: string;
  readonly js: string;
  readonly css: string;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));

export async function buildConsole(): Promise<ConsoleBundle> {
  const result = await build({
    absWorkingDir: HERE,
    entryPoints: ['src/main.tsx'],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: 'out',
    entryNames: 'app',
    write: false,
    logLevel: 'silent',
  });
  const text = (ext: string) =>
    result.outputFiles.find((file) => file.path.endsWith(ext))?.text ?? '';
  return {
    html: await readFile(`${HERE}index.html`, 'utf8'),
    js: text('.js'),
    css: text('.css'),
  };
}
