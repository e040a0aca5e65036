// The processes and databases a bench scenario runs with: the simulator, a fresh database, and a sync
// in a child process (bench/sync-child.ts), shared by the multi-project and the single-project scenarios.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freshDatabase, type BenchDatabase, type DbKind } from './databases.ts';
import type { SyncChildReport } from './protocol.ts';
import { startSimulatorProcess, type SimulatorProcess } from './simulator.ts';

const SYNC_CHILD = fileURLToPath(new URL('./sync-child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

/** Progress for the person watching; stdout stays for the table or the JSON. */
export const note = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** Environment for a sync child: this process's, less any LlamaCloud or database settings. */
function childEnv(sim: SimulatorProcess, db: BenchDatabase): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(LLAMA_CLOUD_|DATABASE_URL$|CLASSIFY_SYNC_)/.test(k)) env[k] = v;
  }
  return { ...env, LLAMA_CLOUD_BASE_URL: sim.url, LLAMA_CLOUD_API_KEY: sim.apiKey, ...(db.url && { DATABASE_URL: db.url }) };
}

export interface SyncChildOptions {
  pageSize: number;
  concurrency: number;
  /** The sync's --api (default: the config's, auto). */
  api?: 'v1' | 'v2' | 'auto' | undefined;
  /** The sync's slices setting (default: the config's). */
  slices?: number | 'auto' | undefined;
  /** Walk in full, as `backfill` does (default: whatever walk the sync would choose). */
  full?: boolean | undefined;
}

/** Runs one sync (a backfill from the first page) in a child process and returns its report. */
export async function runSyncChild(sim: SimulatorProcess, db: BenchDatabase, options: SyncChildOptions): Promise<SyncChildReport> {
  const args = [
    '--import',
    TSX,
    SYNC_CHILD,
    ...sim.projectIds.flatMap((id) => ['--project', id]),
    '--page-size',
    String(options.pageSize),
    '--concurrency',
    String(options.concurrency),
    ...(options.api ? ['--api', options.api] : []),
    ...(options.slices !== undefined ? ['--slices', String(options.slices)] : []),
    ...(options.full ? ['--full'] : []),
    ...(db.pgliteDir ? ['--pglite-dir', db.pgliteDir] : []),
  ];
  const child = spawn(process.execPath, args, { env: childEnv(sim, db), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let report: SyncChildReport | undefined;
  child.on('message', (message) => {
    report = message as SyncChildReport;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0 || !report) throw new Error(`sync child exited with code ${code}:\n${output}`);
  if (report.status !== 'succeeded') throw new Error(`sync finished ${report.status}:\n${output}`);
  return report;
}

export async function withSimulator<T>(
  spec: Parameters<typeof startSimulatorProcess>[0],
  fn: (sim: SimulatorProcess) => Promise<T>,
): Promise<T> {
  const sim = await startSimulatorProcess(spec);
  try {
    return await fn(sim);
  } finally {
    await sim.stop();
  }
}

export interface DatabaseChoice {
  db: DbKind;
  keep: boolean;
}

export async function withDatabase<T>(options: DatabaseChoice, fn: (db: BenchDatabase) => Promise<T>): Promise<T> {
  const db = await freshDatabase(options.db, process.env.DATABASE_URL, options.keep);
  try {
    return await fn(db);
  } finally {
    await db.drop();
  }
}
