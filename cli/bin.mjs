#!/usr/bin/env node
// The `ipam` executable: registers tsx's ESM loader, then runs the TypeScript entry.
// Works from the repo (`npx ipam`) and after `npm install -g .` (a link to this checkout).
import { register } from 'tsx/esm/api';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// `ipam … | head` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}
register();
await import('./main.ts');
