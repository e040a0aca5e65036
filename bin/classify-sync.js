#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so `npx classify-sync` works right after `npm ci`.
// Container images run the compiled build instead: `node dist/main.js`.
// The CLI runs in this process (no child of its own), so a signal sent to this process reaches the
// worker's handlers; under npx, where npm does not pass it on, the worker watches its parent instead.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
