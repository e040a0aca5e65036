// `classify-sync simulator`: the bundled LlamaCloud simulator as a standalone server, until stopped.
import { parseArgs } from 'node:util';
import {
  DEFAULT_API_KEY,
  DEFAULT_SEED,
  simProjectId,
  startSimulator,
  V1_JOBS_PATH,
  V2_JOBS_PATH,
  type ApiName,
} from '../simulator/index.ts';

const PATHS: Record<ApiName, string> = { v1: V1_JOBS_PATH, v2: V2_JOBS_PATH };

/** The line printed on stopping, followed by the simulator's stats (SimulatorStats) as JSON. */
export const STATS_PREFIX = 'Stats: ';

const USAGE = `Usage: simulator [options]
  --port <n>          port to listen on (default 4010; 0 = any free port)
  --host <addr>       address to bind (default 127.0.0.1)
  --projects <n>      number of projects (default 3)
  --jobs <n>          jobs per project (default 250)
  --latency-ms <n>    delay before every response (default 0)
  --fault-rate <x>    share of requests that fail, 0..1 (default 0)
  --rate-limit <r>    requests/s allowed per API key, fractions allowed; more get 429 (default none)
  --seed <n>          data and fault seed (default ${DEFAULT_SEED})
  --api-key <key>     accepted API key (default ${DEFAULT_API_KEY})
  --apis <list>       API versions served, comma-separated (default v1,v2)
  --hostile           also serve items Postgres would refuse (see src/simulator/hostile.ts)`;

export interface SimulatorCliIo {
  /** Receives each output line. Default: stdout. */
  write?: (line: string) => void;
  /** Stops the simulator when aborted, like SIGINT/SIGTERM. */
  signal?: AbortSignal;
}

/** Starts a simulator from command-line flags and runs it until SIGINT/SIGTERM (or `io.signal`). */
export async function runSimulatorCli(argv: string[], io: SimulatorCliIo = {}): Promise<void> {
  const write = io.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string', default: '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      projects: { type: 'string', default: '3' },
      jobs: { type: 'string', default: '250' },
      'latency-ms': { type: 'string', default: '0' },
      'fault-rate': { type: 'string', default: '0' },
      'rate-limit': { type: 'string' },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      'api-key': { type: 'string', default: DEFAULT_API_KEY },
      apis: { type: 'string', default: 'v1,v2' },
      hostile: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    write(USAGE);
    return;
  }

  const seed = integerFlag('--seed', values.seed, 0);
  const projectCount = integerFlag('--projects', values.projects, 1);
  const jobs = integerFlag('--jobs', values.jobs, 0);
  const faultRate = Number(values['fault-rate']);
  if (!(faultRate >= 0 && faultRate <= 1)) throw new Error(`--fault-rate must be between 0 and 1, got "${values['fault-rate']}"`);
  const rateLimitFlag = values['rate-limit'];
  const rateLimit = rateLimitFlag === undefined ? undefined : Number(rateLimitFlag);
  if (rateLimit !== undefined && !(Number.isFinite(rateLimit) && rateLimit > 0)) {
    throw new Error(`--rate-limit must be a positive number of requests per second, got "${rateLimitFlag}"`);
  }
  const apis = values.apis.split(',').map((api) => api.trim());
  if (apis.length === 0 || !apis.every((api): api is ApiName => api === 'v1' || api === 'v2')) {
    throw new Error(`--apis takes v1, v2 or v1,v2, got "${values.apis}"`);
  }

  const projects = Array.from({ length: projectCount }, (_, index) => ({
    id: simProjectId(seed, index),
    name: `Simulated project ${index + 1}`,
    jobs,
    hostile: values.hostile,
  }));
  const sim = await startSimulator({
    projects,
    seed,
    apiKey: values['api-key'],
    latencyMs: integerFlag('--latency-ms', values['latency-ms'], 0),
    ...(faultRate > 0 && { faults: { rate: faultRate } }),
    port: integerFlag('--port', values.port, 0),
    host: values.host,
    apis,
    ...(rateLimit !== undefined && { rateLimit }),
  });

  write(`LlamaCloud classify-jobs simulator (${apis.map((api) => `GET ${PATHS[api]}`).join(', ')}), seed ${seed}`);
  for (const project of projects) write(`  project ${project.id}  ${project.jobs} jobs`);
  const notes = [
    ...(faultRate > 0 ? [`fault rate ${faultRate}`] : []),
    ...(rateLimit !== undefined ? [`rate limit ${rateLimit} requests/s per key`] : []),
  ];
  write(`Listening on ${sim.url}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`);
  write('Point classify-sync at it with:');
  write(`  LLAMA_CLOUD_BASE_URL=${sim.url} LLAMA_CLOUD_API_KEY=${sim.apiKey}`);
  write('Press Ctrl+C to stop.');

  await untilStopped(io.signal);
  await sim.stop();
  // What was served, for whoever started it (the bench counts the requests refused with 429 here).
  write(`${STATS_PREFIX}${JSON.stringify(sim.stats)}`);
  write('Simulator stopped.');
}

/** Resolves on the first SIGINT/SIGTERM or abort of `signal`. */
function untilStopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    if (signal?.aborted) done();
    else signal?.addEventListener('abort', done, { once: true });
  });
}

function integerFlag(name: string, value: string, min: number): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min) throw new Error(`${name} must be an integer >= ${min}, got "${value}"`);
  return number;
}
