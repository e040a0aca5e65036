#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so `npx classify-sync` works right after `npm ci`.
// Container images run the compiled build instead: `node dist/cli.js`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
