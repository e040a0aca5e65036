// `npm run bench`: the sync against the physical limits of this machine, measured in the same run.
// See docs/performance.md for what each scenario measures and the recorded figures.
import { randomUUID } from 'node:crypto';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { errorMessage } from '../src/errors.ts';
import { copyAll, copyCollector, walkAll } from './ceilings.ts';
import { note, runSyncChild, withDatabase, withSimulator } from './children.ts';
import { processCpuMs, serverVersion, type DbKind } from './databases.ts';
import type { TableCounts } from './protocol.ts';
import { formatTable, evaluateTargets, exactnessFailures, type BenchResult } from './report.ts';
import { runSingleScenarios, SINGLE_SCENARIOS } from './single.ts';
import type { SimulatorProcess } from './simulator.ts';

const USAGE = `Usage: npm run bench -- [options]
  --jobs <n>            jobs in all, spread over the projects (default 100000)
  --projects <n>        projects (default 4)
  --db <kind>           postgres | pglite (default: postgres when DATABASE_URL is set, else pglite)
  --scenario <name>     ceilings | cold | warm | latency | memory | single-latency | single-rate |
                        single-cpu | single-memory | single (the four single-* ones)
                        (repeatable; default: all)
  --latency-ms <n>      per-request latency of the latency-bound scenarios (default 100)
  --latency-pages <n>   pages of the latency-bound scenario (default 100)
  --memory-jobs <a,b>   job counts of the memory scenario (default: --jobs and 10 × --jobs)
  --single-jobs <n>     jobs of the one project of single-latency, single-rate, single-cpu (default 20000)
  --single-memory-jobs <n>  jobs of the one project of single-memory (default 100000)
  --rate <r>            requests/s per key the simulator allows in single-rate (default 10)
  --slices <n|auto>     the sync's slices setting in the single-* scenarios (default auto)
  --page-size <n>       items per page (default 100)
  --concurrency <n>     projects synced in parallel (default 4)
  --keep                keep the bench databases
  --json                print the results as JSON only`;

const SCENARIOS = ['ceilings', 'cold', 'warm', 'latency', 'memory', ...SINGLE_SCENARIOS] as const;
type Scenario = (typeof SCENARIOS)[number];

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
      'single-jobs': { type: 'string', default: '20000' },
      'single-memory-jobs': { type: 'string', default: '100000' },
      rate: { type: 'string', default: '10' },
      slices: { type: 'string', default: 'auto' },
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
  const requested = (values.scenario ?? []).flatMap((s) => s.split(',')).flatMap((s) => (s === 'single' ? [...SINGLE_SCENARIOS] : [s]));
  for (const s of requested) {
    if (!(SCENARIOS as readonly string[]).includes(s))
      throw new Error(`--scenario must be one of ${SCENARIOS.join(', ')}, got ${JSON.stringify(s)}`);
  }
  const memoryJobs = values['memory-jobs']?.split(',').map((v) => positive('memory-jobs', v)) ?? [jobs, jobs * 10];
  const rate = Number(values.rate);
  if (!(Number.isFinite(rate) && rate > 0))
    throw new Error(`--rate must be a positive number of requests per second, got ${JSON.stringify(values.rate)}`);
  const slices: number | 'auto' = values.slices === 'auto' ? 'auto' : positive('slices', values.slices);
  return {
    help: values.help,
    jobs,
    projects: positive('projects', values.projects),
    db,
    scenarios: new Set<Scenario>(requested.length > 0 ? (requested as Scenario[]) : SCENARIOS),
    latencyMs: positive('latency-ms', values['latency-ms']),
    latencyPages: positive('latency-pages', values['latency-pages']),
    memoryJobs,
    singleJobs: positive('single-jobs', values['single-jobs']),
    singleMemoryJobs: positive('single-memory-jobs', values['single-memory-jobs']),
    rate,
    slices,
    pageSize: positive('page-size', values['page-size']),
    concurrency: positive('concurrency', values.concurrency),
    keep: values.keep,
    json: values.json,
  };
}

export type BenchOptions = ReturnType<typeof parseOptions>;

const simulatorCpuMs = (sim: SimulatorProcess) => (sim.pid === undefined ? undefined : processCpuMs([sim.pid]));
const sumCounts = (c: TableCounts, keys: (keyof TableCounts)[]) => keys.reduce((n, k) => n + c[k], 0);
const STORED: (keyof TableCounts)[] = ['classify_jobs', 'classify_job_rules', 'classify_job_parsing_settings'];
const seconds = (ms: number) => ms / 1000;

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
      singleJobs: options.singleJobs,
      singleMemoryJobs: options.singleMemoryJobs,
      rate: options.rate,
      slices: String(options.slices),
      scenarios: [...scenarios],
    },
    scenarios: {},
    targets: [],
  };
  const s = result.scenarios;
  // The multi-project scenarios run the sync with its default walk settings, as they always have.
  const multi = { pageSize: options.pageSize, concurrency: options.concurrency };
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
          const cold = await runSyncChild(sim, db, multi);
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
          const warm = await runSyncChild(sim, db, multi);
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
        const run = await runSyncChild(sim, db, multi);
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
          const run = await runSyncChild(sim, db, multi);
          runs.push({ jobs: run.jobsSeen, maxRssBytes: run.maxRssBytes, seconds: seconds(run.wallMs) });
        }),
      );
    }
    const first = runs[0];
    const last = runs.at(-1);
    // The growth from the smallest run to the largest: with one run there is none to speak of.
    s.memory = { runs, ratio: first && last && runs.length > 1 ? last.maxRssBytes / first.maxRssBytes : undefined };
  }

  await runSingleScenarios(scenarios, options, s);

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
  // Figures of a run that stored the wrong data are no figures: say so in the exit code too.
  return exactnessFailures(result).length > 0 ? 1 : 0;
}

process.exitCode = await main();
