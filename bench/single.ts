// The single-project scenarios: one project of --single-jobs jobs on the v2 API, where the other
// scenarios' four projects in parallel would hide how fast one project goes on its own.
//   single-latency: every response --latency-ms (100) late: the sync's time above its fixed cost
//                   against the serial floor (pages × latency);
//   single-rate:    --rate (10) requests/s per key (429 + Retry-After beyond): time against the
//                   rate floor (requests needed ÷ rate), and the share of requests refused;
//   single-cpu:     no latency: the cold backfill against a per-row baseline writer, and a full
//                   re-sync with nothing changed against the cold backfill;
//   single-memory:  peak RSS of a PGlite backfill of --single-memory-jobs jobs.
// Every run's stored data is compared with what the simulator serves (bench/exact.ts).
import { V2_MAX_PAGE_SIZE } from '../src/simulator/index.ts';
import { note, runSyncChild, withDatabase, withSimulator, type SyncChildOptions } from './children.ts';
import type { DbKind } from './databases.ts';
import { checkStored, expectedData, type ExpectedData, type Exactness } from './exact.ts';
import { perRowBackfill } from './per-row.ts';
import type { SyncChildReport, TableCounts } from './protocol.ts';
import type { BenchResult } from './report.ts';
import { startSimulatorProcess } from './simulator.ts';

export const SINGLE_SCENARIOS = ['single-latency', 'single-rate', 'single-cpu', 'single-memory'] as const;

export interface SingleOptions {
  db: DbKind;
  keep: boolean;
  pageSize: number;
  concurrency: number;
  latencyMs: number;
  singleJobs: number;
  singleMemoryJobs: number;
  rate: number;
  slices: number | 'auto';
}

const API = 'v2';
const seconds = (ms: number) => ms / 1000;

/** Fails loudly on stderr as it happens; the table and the targets say it again at the end. */
function reportExactness(scenario: string, stored: Exactness): Exactness {
  if (!stored.exact) note(`FAILED ${scenario}: stored data differs from the simulator's: ${stored.problems.join('; ')}`);
  return stored;
}

export async function runSingleScenarios(
  scenarios: ReadonlySet<string>,
  options: SingleOptions,
  s: BenchResult['scenarios'],
): Promise<void> {
  const sync: SyncChildOptions = { pageSize: options.pageSize, concurrency: options.concurrency, api: API, slices: options.slices };
  // The serial walk's pages: what one request after another would have to wait for.
  const serialPages = (jobs: number) => Math.ceil(jobs / Math.min(options.pageSize, V2_MAX_PAGE_SIZE));
  const expectedByJobs = new Map<number, ExpectedData>();
  const expected = (projectIds: string[], jobs: number) => {
    let data = expectedByJobs.get(jobs);
    if (!data) {
      data = expectedData(projectIds, jobs, API);
      expectedByJobs.set(jobs, data);
    }
    return data;
  };
  const jobs = options.singleJobs;

  if (scenarios.has('single-latency')) {
    const latencyMs = options.latencyMs;
    const fixed = await withSimulator({ projects: 1, jobsPerProject: 0, latencyMs }, (sim) =>
      withDatabase(options, (db) => {
        note(`single-latency: the fixed cost, a sync of an empty project at ${latencyMs} ms per request`);
        return runSyncChild(sim, db, sync);
      }),
    );
    await withSimulator({ projects: 1, jobsPerProject: jobs, latencyMs }, (sim) =>
      withDatabase(options, async (db) => {
        note(`single-latency: 1 project, ${jobs} jobs, ${latencyMs} ms per request, slices ${options.slices}`);
        const run = await runSyncChild(sim, db, sync);
        const stored = reportExactness('single-latency', await checkStored(db, expected(sim.projectIds, jobs)));
        const pages = serialPages(jobs);
        const floorMs = pages * latencyMs;
        const aboveMs = run.wallMs - fixed.wallMs;
        s.singleLatency = {
          jobs: run.jobsSeen,
          pages: run.pages,
          serialPages: pages,
          latencyMs,
          slices: String(options.slices),
          seconds: seconds(run.wallMs),
          fixedSeconds: seconds(fixed.wallMs),
          aboveFixedSeconds: seconds(aboveMs),
          floorSeconds: seconds(floorMs),
          ratio: aboveMs / floorMs,
          stored,
        };
      }),
    );
  }

  if (scenarios.has('single-rate')) {
    const sim = await startSimulatorProcess({ projects: 1, jobsPerProject: jobs, latencyMs: 0, rateLimit: options.rate });
    let measured: { run: SyncChildReport; stored: Exactness };
    let stats: Awaited<ReturnType<typeof sim.stop>>;
    try {
      measured = await withDatabase(options, async (db) => {
        note(`single-rate: 1 project, ${jobs} jobs, at most ${options.rate} requests/s, slices ${options.slices}`);
        const run = await runSyncChild(sim, db, sync);
        return { run, stored: reportExactness('single-rate', await checkStored(db, expected(sim.projectIds, jobs))) };
      });
    } finally {
      stats = await sim.stop();
    }
    const { run, stored } = measured;
    if (!stats) throw new Error('single-rate: the simulator printed no stats line, so its 429s cannot be counted');
    // Every request answered 200 was one the walk needed; the refused ones were the price of asking
    // too early.
    const needed = stats.byStatus['200'] ?? 0;
    const floorMs = (needed / options.rate) * 1000;
    s.singleRate = {
      jobs: run.jobsSeen,
      pages: run.pages,
      rate: options.rate,
      slices: String(options.slices),
      seconds: seconds(run.wallMs),
      requests: stats.requests,
      requestsNeeded: needed,
      rateLimited: stats.rateLimited,
      rateLimitedShare: stats.requests > 0 ? stats.rateLimited / stats.requests : 0,
      floorSeconds: seconds(floorMs),
      ratio: run.wallMs / floorMs,
      syncSaw429: run.requestsByStatus['429'] ?? 0,
      syncRetries: run.retries,
      stored,
    };
  }

  if (scenarios.has('single-cpu')) {
    await withSimulator({ projects: 1, jobsPerProject: jobs, latencyMs: 0 }, async (sim) => {
      const want = expected(sim.projectIds, jobs);
      await withDatabase(options, async (db) => {
        note(`single-cpu: cold backfill of 1 project, ${jobs} jobs (${options.db}), slices ${options.slices}`);
        const cold = await runSyncChild(sim, db, sync);
        const coldStored = reportExactness('single-cpu (cold backfill)', await checkStored(db, want));
        note('single-cpu: full re-sync, nothing changed upstream');
        const resync = await runSyncChild(sim, db, { ...sync, full: true });
        const resyncStored = reportExactness('single-cpu (re-sync)', await checkStored(db, want));
        const written = (t: keyof TableCounts) => resync.rowVersionsAfter[t] - resync.rowVersionsBefore[t];
        const rows = cold.rows.classify_jobs + cold.rows.classify_job_rules + cold.rows.classify_job_parsing_settings;
        s.singleCpu = {
          jobs: cold.jobsSeen,
          rows,
          slices: String(options.slices),
          cold: {
            seconds: seconds(cold.wallMs),
            jobsPerSecond: cold.jobsSeen / seconds(cold.wallMs),
            cpuSeconds: seconds(cold.cpuUserMs + cold.cpuSystemMs),
            dbCpuSeconds: cold.dbCpuMs === undefined ? undefined : seconds(cold.dbCpuMs),
          },
          resync: {
            seconds: seconds(resync.wallMs),
            unchanged: resync.unchanged,
            ratioToCold: resync.wallMs / cold.wallMs,
            rowVersions: {
              jobs: written('classify_jobs'),
              rules: written('classify_job_rules'),
              parsingSettings: written('classify_job_parsing_settings'),
              statusChanges: written('classify_job_status_changes'),
            },
          },
          stored: { cold: coldStored, resync: resyncStored },
        };
      });
      await withDatabase(options, async (db) => {
        note(`single-cpu: per-row baseline writer, the same ${jobs} jobs`);
        const perRow = await perRowBackfill(sim, db, { pageSize: options.pageSize, api: API });
        const stored = reportExactness('single-cpu (per-row baseline)', await checkStored(db, want));
        if (!s.singleCpu) return;
        s.singleCpu.perRow = {
          seconds: seconds(perRow.wallMs),
          jobsPerSecond: perRow.jobs / seconds(perRow.wallMs),
          rows: perRow.rows,
          cpuSeconds: seconds(perRow.cpuMs),
          stored,
        };
        s.singleCpu.speedUp = perRow.wallMs / (s.singleCpu.cold.seconds * 1000);
      });
    });
  }

  if (scenarios.has('single-memory')) {
    const memoryJobs = options.singleMemoryJobs;
    await withSimulator({ projects: 1, jobsPerProject: memoryJobs, latencyMs: 0 }, (sim) =>
      // PGlite whatever --db says: the embedded database lives in the sync's process, so its memory is
      // the process's; with a Postgres server the figure would be the ordinary memory scenario's.
      withDatabase({ db: 'pglite', keep: options.keep }, async (db) => {
        note(`single-memory: PGlite backfill of 1 project, ${memoryJobs} jobs, slices ${options.slices}`);
        const run = await runSyncChild(sim, db, sync);
        const stored = reportExactness('single-memory', await checkStored(db, expected(sim.projectIds, memoryJobs)));
        s.singleMemory = {
          jobs: run.jobsSeen,
          db: 'pglite',
          slices: String(options.slices),
          maxRssBytes: run.maxRssBytes,
          seconds: seconds(run.wallMs),
          stored,
        };
      }),
    );
  }
}
