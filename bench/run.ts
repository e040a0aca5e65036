// `npm run bench`: the sync against the physical limits of this machine, measured in the same run.
// See docs/performance.md for what each scenario measures and the recorded figures.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { errorMessage } from '../src/errors.ts';
import { copyAll, copyCollector, walkAll } from './ceilings.ts';
import { freshDatabase, processCpuMs, serverVersion, type BenchDatabase, type DbKind } from './databases.ts';
import type { SyncChildReport, TableCounts } from './protocol.ts';
import { formatTable, evaluateTargets, type BenchResult } from './report.ts';
import { startSimulatorProcess, type SimulatorProcess } from './simulator.ts';

const USAGE = `Usage: npm run bench -- [options]
  --jobs <n>            jobs in all, spread over the projects (default 100000)
  --projects <n>        projects (default 4)
  --db <kind>           postgres | pglite (default: postgres when DATABASE_URL is set, else pglite)
  --scenario <name>     ceilings | cold | warm | latency | memory (repeatable; default: all)
  --latency-ms <n>      per-request latency of the latency-bound scenario (default 100)
  --latency-pages <n>   pages of the latency-bound scenario (default 100)
  --memory-jobs <a,b>   job counts of the memory scenario (default: --jobs and 10 × --jobs)
  --page-size <n>       items per page (default 100)
  --concurrency <n>     projects synced in parallel (default 4)
  --keep                keep the bench databases
  --json                print the results as JSON only`;

const SCENARIOS = ['ceilings', 'cold', 'warm', 'latency', 'memory'] as const;
type Scenario = (typeof SCENARIOS)[number];

const SYNC_CHILD = fileURLToPath(new URL('./sync-child.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1, got ${JSON.stringify(value)}`);
  return n;
}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      jobs: { type: 'string', default: '100000' },
      projects: { type: 'string', default: '4' },
      db: { type: 'string' },
      scenario: { type: 'string', multiple: true },
      'latency-ms': { type: 'string', default: '100' },
      'latency-pages': { type: 'string', default: '100' },
      'memory-jobs': { type: 'string' },
      'page-size': { type: 'string', default: '100' },
      concurrency: { type: 'string', default: '4' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const jobs = positive('jobs', values.jobs);
  const db = (values.db ?? (process.env.DATABASE_URL ? 'postgres' : 'pglite')) as DbKind;
  if (db !== 'postgres' && db !== 'pglite') throw new Error(`--db must be postgres or pglite, got ${JSON.stringify(values.db)}`);
  const requested = (values.scenario ?? []).flatMap((s) => s.split(','));
  for (const s of requested) {
    if (!(SCENARIOS as readonly string[]).includes(s))
      throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}, got ${JSON.stringify(s)}`);
  }
  const memoryJobs = values['memory-jobs']?.split(',').map((v) => positive('memory-jobs', v)) ?? [jobs, jobs * 10];
  return {
    help: values.help,
    jobs,
    projects: positive('projects', values.projects),
    db,
    scenarios: new Set<Scenario>(requested.length > 0 ? (requested as Scenario[]) : SCENARIOS),
    latencyMs: positive('latency-ms', values['latency-ms']),
    latencyPages: positive('latency-pages', values['latency-pages']),
    memoryJobs,
    pageSize: positive('page-size', values['page-size']),
    concurrency: positive('concurrency', values.concurrency),
    keep: values.keep,
    json: values.json,
  };
}

export type BenchOptions = ReturnType<typeof parseOptions>;

/** Progress for the person watching; stdout stays for the table or the JSON. */
const note = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** Environment for a sync child: this process's, less any LlamaCloud or database settings. */
function childEnv(sim: SimulatorProcess, db: BenchDatabase): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(LLAMA_CLOUD_|DATABASE_URL$|CLASSIFY_SYNC_)/.test(k)) env[k] = v;
  }
  return { ...env, LLAMA_CLOUD_BASE_URL: sim.url, LLAMA_CLOUD_API_KEY: sim.apiKey, ...(db.url && { DATABASE_URL: db.url }) };
}

/** Runs one sync (a backfill from the first page) in a child process and returns its report. */
async function runSyncChild(sim: SimulatorProcess, db: BenchDatabase, options: BenchOptions): Promise<SyncChildReport> {
  const args = [
    '--import',
    TSX,
    SYNC_CHILD,
    ...sim.projectIds.flatMap((id) => ['--project', id]),
    '--page-size',
    String(options.pageSize),
    '--concurrency',
    String(options.concurrency),
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

const simulatorCpuMs = (sim: SimulatorProcess) => (sim.pid === undefined ? undefined : processCpuMs([sim.pid]));
const sumCounts = (c: TableCounts, keys: (keyof TableCounts)[]) => keys.reduce((n, k) => n + c[k], 0);
const STORED: (keyof TableCounts)[] = ['classify_jobs', 'classify_job_rules', 'classify_job_parsing_settings'];
const seconds = (ms: number) => ms / 1000;

async function withSimulator<T>(spec: Parameters<typeof startSimulatorProcess>[0], fn: (sim: SimulatorProcess) => Promise<T>): Promise<T> {
  const sim = await startSimulatorProcess(spec);
  try {
    return await fn(sim);
  } finally {
    await sim.stop();
  }
}

async function withDatabase<T>(options: BenchOptions, fn: (db: BenchDatabase) => Promise<T>): Promise<T> {
  const db = await freshDatabase(options.db, process.env.DATABASE_URL, options.keep);
  try {
    return await fn(db);
  } finally {
    await db.drop();
  }
}

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const { scenarios } = options;
  const result: BenchResult = {
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      memoryBytes: totalmem(),
      freeMemoryBytes: freemem(),
      node: process.version,
      database: await serverVersion(options.db, process.env.DATABASE_URL),
      loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
      loadAverageAtEnd: [],
    },
    options: {
      jobs: options.jobs,
      projects: options.projects,
      db: options.db,
      pageSize: options.pageSize,
      concurrency: options.concurrency,
      latencyMs: options.latencyMs,
      latencyPages: options.latencyPages,
      memoryJobs: options.memoryJobs,
      scenarios: [...scenarios],
    },
    scenarios: {},
    targets: [],
  };
  const s = result.scenarios;
  const perProject = Math.ceil(options.jobs / options.projects);
  const spec = { projects: options.projects, jobsPerProject: perProject, latencyMs: 0 };

  if (scenarios.has('ceilings') || scenarios.has('cold') || scenarios.has('warm')) {
    await withSimulator(spec, async (sim) => {
      if (scenarios.has('ceilings')) {
        note(`fetch ceiling: walking ${sim.jobs} jobs without storing`);
        const simCpuBefore = simulatorCpuMs(sim);
        const walk = await walkAll(sim, options);
        const simCpuAfter = simulatorCpuMs(sim);
        s.fetchCeiling = {
          jobs: walk.jobs,
          pages: walk.pages,
          seconds: seconds(walk.wallMs),
          jobsPerSecond: walk.jobs / seconds(walk.wallMs),
          cpuSeconds: seconds(walk.cpuMs),
          simulatorCpuSeconds: simCpuBefore !== undefined && simCpuAfter !== undefined ? seconds(simCpuAfter - simCpuBefore) : undefined,
        };

        note('write ceiling: collecting the normalized rows, then COPY into empty tables');
        const collector = copyCollector(randomUUID());
        await walkAll(sim, { ...options, onJobs: collector.add });
        const copy = await withDatabase(options, (db) => copyAll(db, collector.data, options.concurrency));
        s.writeCeiling = {
          jobs: copy.jobs,
          rows: copy.rows,
          seconds: seconds(copy.wallMs),
          dbCpuSeconds: copy.dbCpuMs === undefined ? undefined : seconds(copy.dbCpuMs),
          jobsPerSecond: copy.jobs / seconds(copy.wallMs),
          rowsPerSecond: copy.rows / seconds(copy.wallMs),
        };
      }
      if (scenarios.has('cold') || scenarios.has('warm')) {
        await withDatabase(options, async (db) => {
          note(`cold backfill: ${sim.jobs} jobs into empty tables (${options.db})`);
          const cold = await runSyncChild(sim, db, options);
          const rows = sumCounts(cold.rows, STORED);
          s.cold = {
            jobs: cold.jobsSeen,
            rows,
            seconds: seconds(cold.wallMs),
            jobsPerSecond: cold.jobsSeen / seconds(cold.wallMs),
            rowsPerSecond: rows / seconds(cold.wallMs),
            cpuSeconds: seconds(cold.cpuUserMs + cold.cpuSystemMs),
            dbCpuSeconds: cold.dbCpuMs === undefined ? undefined : seconds(cold.dbCpuMs),
            maxRssBytes: cold.maxRssBytes,
          };
          if (s.fetchCeiling && s.writeCeiling) {
            const limit = Math.min(s.fetchCeiling.jobsPerSecond, s.writeCeiling.jobsPerSecond);
            s.cold.ceilingJobsPerSecond = limit;
            s.cold.limitedBy = limit === s.writeCeiling.jobsPerSecond ? 'write' : 'fetch';
            s.cold.ratioToCeiling = s.cold.jobsPerSecond / limit;
          }
          if (!scenarios.has('warm')) return;
          note('warm re-sync: the same data again, nothing changed upstream');
          const warm = await runSyncChild(sim, db, options);
          const written = (t: keyof TableCounts) => warm.rowVersionsAfter[t] - warm.rowVersionsBefore[t];
          s.warm = {
            jobs: warm.jobsSeen,
            unchanged: warm.unchanged,
            seconds: seconds(warm.wallMs),
            ratioToCold: warm.wallMs / cold.wallMs,
            cpuSeconds: seconds(warm.cpuUserMs + warm.cpuSystemMs),
            dbCpuSeconds: warm.dbCpuMs === undefined ? undefined : seconds(warm.dbCpuMs),
            rowVersions: {
              jobs: written('classify_jobs'),
              rules: written('classify_job_rules'),
              parsingSettings: written('classify_job_parsing_settings'),
              statusChanges: written('classify_job_status_changes'),
            },
          };
        });
      }
    });
  }

  if (scenarios.has('latency')) {
    const pages = options.latencyPages;
    await withSimulator({ projects: 1, jobsPerProject: pages * options.pageSize, latencyMs: options.latencyMs }, (sim) =>
      withDatabase(options, async (db) => {
        note(`latency-bound: 1 project, ${pages} pages, ${options.latencyMs} ms per request`);
        const run = await runSyncChild(sim, db, options);
        const floorMs = run.pages * options.latencyMs;
        s.latency = {
          pages: run.pages,
          latencyMs: options.latencyMs,
          seconds: seconds(run.wallMs),
          floorSeconds: seconds(floorMs),
          ratio: run.wallMs / floorMs,
        };
      }),
    );
  }

  if (scenarios.has('memory')) {
    const runs: { jobs: number; maxRssBytes: number; seconds: number }[] = [];
    for (const jobs of options.memoryJobs) {
      const each = Math.ceil(jobs / options.projects);
      await withSimulator({ projects: options.projects, jobsPerProject: each, latencyMs: 0 }, (sim) =>
        withDatabase(options, async (db) => {
          note(`memory: backfill of ${sim.jobs} jobs in a child process`);
          const run = await runSyncChild(sim, db, options);
          runs.push({ jobs: run.jobsSeen, maxRssBytes: run.maxRssBytes, seconds: seconds(run.wallMs) });
        }),
      );
    }
    const first = runs[0];
    const last = runs.at(-1);
    // The growth from the smallest run to the largest: with one run there is none to speak of.
    s.memory = { runs, ratio: first && last && runs.length > 1 ? last.maxRssBytes / first.maxRssBytes : undefined };
  }

  result.machine.loadAverageAtEnd = loadavg().map((l) => Number(l.toFixed(2)));
  result.targets = evaluateTargets(result);
  return result;
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${errorMessage(error)}\n${USAGE}\n`);
    return 1;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const result = await runBench(options);
  process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatTable(result));
  return 0;
}

process.exitCode = await main();
