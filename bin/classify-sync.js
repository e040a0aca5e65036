#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so `npx classify-sync` works right after `npm ci`.
// Container images run the compiled build instead: `node dist/cli.js`.
// The CLI runs in this process (no child of its own), so a signal sent to this process reaches the
// worker's handlers; under npx, where npm does not pass it on, the worker watches its parent instead.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
