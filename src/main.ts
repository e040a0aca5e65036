#!/usr/bin/env node
// The process entry: argv → the command line → the exit code. `bin/classify-sync.js` runs its build
// (dist/main.js) while that is current with the sources, else the TypeScript sources; the container image
// runs the build, `node dist/main.js`, also on its PATH as `classify-sync` (a link to this file, hence the shebang).
import { main } from './cli.ts';

process.exitCode = await main(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  script: process.argv[1],
});
