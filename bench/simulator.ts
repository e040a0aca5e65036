// The LlamaCloud simulator in its own process, so its CPU (seeding, JSON serialization) is not
// charged to the sync's event loop: the bench talks to it over loopback HTTP like to the real API.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { STATS_PREFIX } from '../src/commands/simulator.ts';
import { DEFAULT_API_KEY, DEFAULT_SEED, simProjectId, type SimulatorStats } from '../src/simulator/index.ts';

const BIN = fileURLToPath(new URL('../bin/classify-sync.js', import.meta.url));
/** Seeding 1 000 000 jobs takes ~10 s; give it room on a busy machine. */
const START_TIMEOUT_MS = 180_000;

export interface SimulatorProcess {
  url: string;
  apiKey: string;
  projectIds: string[];
  /** Jobs served in all (projects × jobs per project). */
  jobs: number;
  /** The simulator's process id (to read its CPU time). */
  pid: number | undefined;
  /** Stops it; resolves to what it served in its lifetime (its stats line), if it printed one. */
  stop(): Promise<SimulatorStats | undefined>;
}

export interface SimulatorSpec {
  projects: number;
  jobsPerProject: number;
  latencyMs: number;
  /** Requests/s allowed per API key (the simulator's --rate-limit); default none. */
  rateLimit?: number | undefined;
}

/** Starts `classify-sync simulator` on a free port and waits for its "Listening on" line. */
export async function startSimulatorProcess(spec: SimulatorSpec): Promise<SimulatorProcess> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'simulator',
      '--port',
      '0',
      '--projects',
      String(spec.projects),
      '--jobs',
      String(spec.jobsPerProject),
      '--latency-ms',
      String(spec.latencyMs),
      '--seed',
      String(DEFAULT_SEED),
      ...(spec.rateLimit === undefined ? [] : ['--rate-limit', String(spec.rateLimit)]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`simulator did not start within ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening on (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited with code ${code} before listening:\n${output}`));
    });
  });
  // Keep reading its output (onData stays attached) so a full pipe never blocks it; it prints a few
  // lines at start and its stats line when stopped.
  return {
    url,
    apiKey: DEFAULT_API_KEY,
    projectIds: Array.from({ length: spec.projects }, (_, i) => simProjectId(DEFAULT_SEED, i)),
    jobs: spec.projects * spec.jobsPerProject,
    pid: child.pid,
    stop: async () => {
      await stopChild(child);
      return statsOf(output);
    },
  };
}

function statsOf(output: string): SimulatorStats | undefined {
  const line = output.split('\n').find((l) => l.startsWith(STATS_PREFIX));
  return line === undefined ? undefined : (JSON.parse(line.slice(STATS_PREFIX.length)) as SimulatorStats);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // 'close', not 'exit': the stats line may still be in the pipe when the process has exited.
  const closed = once(child, 'close');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await closed;
  clearTimeout(timer);
}
