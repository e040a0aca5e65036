// The process entry: argv → the command line → the exit code. `bin/classify-sync.js` runs its build
// (dist/main.js) while that is current with the sources, else the TypeScript sources; the container image
// runs the build, `node dist/main.js`.
import { main } from './cli.ts';

process.exitCode = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
