#!/usr/bin/env node
// Runs the compiled build (dist/, which `npm ci` and `npm install` make) when it is current with src/,
// and the TypeScript sources directly (tsx) otherwise: an edited source takes effect at once, without a
// rebuild, and never runs as its stale build. The build starts in a fraction of the time tsx needs.
// Container images run the build directly: `node dist/main.js`.
// The CLI runs in this process (no child of its own), so a signal sent to this process reaches the
// worker's handlers; under npx, where npm does not pass it on, the worker watches its parent instead.
import { fileURLToPath } from 'node:url';
import { distIsCurrent } from './fresh.js';

if (distIsCurrent(fileURLToPath(new URL('..', import.meta.url)))) {
  await import('../dist/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
