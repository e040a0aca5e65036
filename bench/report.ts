// The bench's results: their shape (also the --json output), the targets of issue #6 and of the
// single-project scenarios, and the table.
import type { Exactness } from './exact.ts';

export interface BenchResult {
  machine: {
    cores: number;
    cpu: string;
    memoryBytes: number;
    freeMemoryBytes: number;
    node: string;
    database: string;
    /** 1, 5 and 15-minute load averages: figures taken on a busy machine are noisy. */
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  options: {
    jobs: number;
    projects: number;
    db: string;
    pageSize: number;
    concurrency: number;
    latencyMs: number;
    latencyPages: number;
    memoryJobs: number[];
    singleJobs: number;
    singleMemoryJobs: number;
    rate: number;
    slices: string;
    scenarios: string[];
  };
  scenarios: {
    /** cpuSeconds: of the walking process; simulatorCpuSeconds: of the simulator serving it. */
    fetchCeiling?: {
      jobs: number;
      pages: number;
      seconds: number;
      jobsPerSecond: number;
      cpuSeconds: number;
      simulatorCpuSeconds: number | undefined;
    };
    /** dbCpuSeconds: of the Postgres backends that ran the COPY (Postgres only). */
    writeCeiling?: {
      jobs: number;
      rows: number;
      seconds: number;
      jobsPerSecond: number;
      rowsPerSecond: number;
      dbCpuSeconds: number | undefined;
    };
    cold?: {
      jobs: number;
      rows: number;
      seconds: number;
      jobsPerSecond: number;
      rowsPerSecond: number;
      /** CPU of the sync process, and of its Postgres backends (Postgres only). */
      cpuSeconds: number;
      dbCpuSeconds: number | undefined;
      maxRssBytes: number;
      /** min(fetch ceiling, write ceiling) in jobs/s, and which one it is. */
      ceilingJobsPerSecond?: number;
      limitedBy?: 'write' | 'fetch';
      ratioToCeiling?: number;
    };
    warm?: {
      jobs: number;
      unchanged: number;
      seconds: number;
      ratioToCold: number;
      cpuSeconds: number;
      dbCpuSeconds: number | undefined;
      rowVersions: { jobs: number; rules: number; parsingSettings: number; statusChanges: number };
    };
    latency?: { pages: number; latencyMs: number; seconds: number; floorSeconds: number; ratio: number };
    memory?: { runs: { jobs: number; maxRssBytes: number; seconds: number }[]; ratio: number | undefined };
    /**
     * One project, every response `latencyMs` late. fixedSeconds: the same sync of an empty project
     * (a separate run: one request, the run's bookkeeping, the views' refresh); ratio: the time above
     * it ÷ the serial floor (serialPages × latency). pages: what the sync fetched (a sliced walk
     * fetches a few more than the serial walk's serialPages).
     */
    singleLatency?: {
      jobs: number;
      pages: number;
      serialPages: number;
      latencyMs: number;
      slices: string;
      seconds: number;
      fixedSeconds: number;
      aboveFixedSeconds: number;
      floorSeconds: number;
      ratio: number;
      stored: Exactness;
    };
    /**
     * One project, the simulator allowing `rate` requests/s. requests, requestsNeeded (answered 200)
     * and rateLimited (answered 429) are the simulator's counts; floorSeconds = requestsNeeded ÷ rate;
     * syncSaw429 and syncRetries are the sync's own (its observer, sync_run_projects.retries).
     */
    singleRate?: {
      jobs: number;
      pages: number;
      rate: number;
      slices: string;
      seconds: number;
      requests: number;
      requestsNeeded: number;
      rateLimited: number;
      rateLimitedShare: number;
      floorSeconds: number;
      ratio: number;
      syncSaw429: number;
      syncRetries: number;
      stored: Exactness;
    };
    /** One project, no latency: the cold backfill, a full re-sync, and the per-row baseline writer. */
    singleCpu?: {
      jobs: number;
      rows: number;
      slices: string;
      cold: { seconds: number; jobsPerSecond: number; cpuSeconds: number; dbCpuSeconds: number | undefined };
      resync: {
        seconds: number;
        unchanged: number;
        ratioToCold: number;
        rowVersions: { jobs: number; rules: number; parsingSettings: number; statusChanges: number };
      };
      perRow?: { seconds: number; jobsPerSecond: number; rows: number; cpuSeconds: number; stored: Exactness };
      /** The per-row baseline's time ÷ the sync's cold backfill time. */
      speedUp?: number;
      stored: { cold: Exactness; resync: Exactness };
    };
    /** One project backfilled into PGlite (whatever --db says): the sync process's peak RSS. */
    singleMemory?: { jobs: number; db: 'pglite'; slices: string; maxRssBytes: number; seconds: number; stored: Exactness };
  };
  targets: Target[];
}

export interface Target {
  scenario: string;
  target: string;
  value: string;
  met: boolean;
  /** The figure before the work the target is for (see BEFORE), where one was measured. */
  reference?: string | undefined;
}

const MB = 1024 * 1024;
const MAX_RSS_BYTES = 300 * MB;
const SINGLE_MAX_RSS_BYTES = 400 * MB;

/**
 * The single-project figures before sliced walks and the adaptive request rate, shown beside each
 * target's value: PostgreSQL 15, 20 000 jobs (single-memory: PGlite, 100 000), on the machine of
 * docs/performance.md at a load average of 11–13.
 */
const BEFORE = {
  singleLatency: '1.65',
  singleRate: '1.03',
  singleRate429: '2.9 %',
  singleCpuSpeedUp: 'x4.6',
  singleCpuResync: '0.66',
  singleMemory: '935 MB',
};

const fixed = (n: number, digits = 2) => n.toFixed(digits);
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`;
const percent = (share: number) => `${fixed(share * 100, 1)} %`;

/** The targets of issue #6, each with the figure it was judged on. */
export function evaluateTargets(result: BenchResult): Target[] {
  const s = result.scenarios;
  const targets: Target[] = [];
  if (s.cold?.ratioToCeiling !== undefined) {
    targets.push({
      scenario: 'cold backfill',
      target: '≥ 0.50 × lower ceiling',
      value: fixed(s.cold.ratioToCeiling),
      met: s.cold.ratioToCeiling >= 0.5,
    });
  }
  if (s.warm) {
    const versions = Object.values(s.warm.rowVersions).reduce((n, v) => n + v, 0);
    targets.push({
      scenario: 'warm re-sync',
      target: '≤ 0.50 × cold time',
      value: fixed(s.warm.ratioToCold),
      met: s.warm.ratioToCold <= 0.5,
    });
    targets.push({ scenario: 'warm re-sync', target: '0 row versions in job tables', value: String(versions), met: versions === 0 });
  }
  if (s.latency) {
    targets.push({
      scenario: 'latency-bound',
      target: '≤ 1.15 × pages × latency',
      value: fixed(s.latency.ratio),
      met: s.latency.ratio <= 1.15,
    });
  }
  if (s.memory && s.memory.runs.length > 0) {
    const peak = Math.max(...s.memory.runs.map((r) => r.maxRssBytes));
    if (s.memory.ratio !== undefined) {
      targets.push({ scenario: 'memory', target: '≤ 1.30 × smaller run', value: fixed(s.memory.ratio), met: s.memory.ratio <= 1.3 });
    }
    targets.push({ scenario: 'memory', target: '< 300 MB peak RSS', value: mb(peak), met: peak < MAX_RSS_BYTES });
  }
  const exact = (scenario: string, stored: Exactness) =>
    targets.push({ scenario, target: 'stored = served', value: stored.exact ? 'exact' : 'differs', met: stored.exact });
  if (s.singleLatency) {
    const r = s.singleLatency.ratio;
    targets.push({
      scenario: 'single-latency',
      target: '≤ 0.25 × pages × latency above fixed cost',
      value: fixed(r),
      met: r <= 0.25,
      reference: BEFORE.singleLatency,
    });
    exact('single-latency', s.singleLatency.stored);
  }
  if (s.singleRate) {
    const { ratio, rateLimitedShare } = s.singleRate;
    targets.push({
      scenario: 'single-rate',
      target: '≤ 1.30 × requests ÷ rate',
      value: fixed(ratio),
      met: ratio <= 1.3,
      reference: BEFORE.singleRate,
    });
    targets.push({
      scenario: 'single-rate',
      target: '≤ 5 % of requests refused (429)',
      value: percent(rateLimitedShare),
      met: rateLimitedShare <= 0.05,
      reference: BEFORE.singleRate429,
    });
    exact('single-rate', s.singleRate.stored);
  }
  if (s.singleCpu) {
    const c = s.singleCpu;
    if (c.speedUp !== undefined) {
      targets.push({
        scenario: 'single-cpu',
        target: '≥ x5 the per-row baseline',
        value: `x${fixed(c.speedUp, 1)}`,
        met: c.speedUp >= 5,
        reference: BEFORE.singleCpuSpeedUp,
      });
    }
    const versions = Object.values(c.resync.rowVersions).reduce((n, v) => n + v, 0);
    targets.push({
      scenario: 'single-cpu',
      target: 'full re-sync ≤ 0.35 × cold time',
      value: fixed(c.resync.ratioToCold),
      met: c.resync.ratioToCold <= 0.35,
      reference: BEFORE.singleCpuResync,
    });
    targets.push({ scenario: 'single-cpu', target: 're-sync: 0 row versions in job tables', value: String(versions), met: versions === 0 });
    exact('single-cpu (cold)', c.stored.cold);
    exact('single-cpu (re-sync)', c.stored.resync);
    if (c.perRow) exact('single-cpu (per-row)', c.perRow.stored);
  }
  if (s.singleMemory) {
    const peak = s.singleMemory.maxRssBytes;
    targets.push({
      scenario: 'single-memory',
      target: `≤ 400 MB peak RSS (PGlite, ${int(s.singleMemory.jobs)} jobs)`,
      value: mb(peak),
      met: peak <= SINGLE_MAX_RSS_BYTES,
      reference: BEFORE.singleMemory,
    });
    exact('single-memory', s.singleMemory.stored);
  }
  return targets;
}

/** One line per run whose stored data is not what the simulator serves. */
export function exactnessFailures(result: BenchResult): string[] {
  const s = result.scenarios;
  const runs: [string, Exactness | undefined][] = [
    ['single-latency', s.singleLatency?.stored],
    ['single-rate', s.singleRate?.stored],
    ['single-cpu (cold backfill)', s.singleCpu?.stored.cold],
    ['single-cpu (re-sync)', s.singleCpu?.stored.resync],
    ['single-cpu (per-row baseline)', s.singleCpu?.perRow?.stored],
    ['single-memory', s.singleMemory?.stored],
  ];
  return runs
    .filter((run): run is [string, Exactness] => run[1] !== undefined && !run[1].exact)
    .map(([name, stored]) => `FAILED ${name}: stored data differs from the simulator's: ${stored.problems.join('; ')}`);
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatTable(result: BenchResult): string {
  const { machine: m, options: o, scenarios: s } = result;
  const single = o.scenarios.filter((name) => name.startsWith('single-'));
  const lines: string[] = [
    ...(single.length < o.scenarios.length
      ? [`classify-sync bench: ${int(o.jobs)} jobs in ${o.projects} projects, page size ${o.pageSize}, concurrency ${o.concurrency}`]
      : []),
    ...(single.length > 0
      ? [
          `single-project scenarios: 1 project of ${int(o.singleJobs)} jobs (single-memory: ${int(o.singleMemoryJobs)}), v2 API, ` +
            `page size ${o.pageSize}, slices ${o.slices}, latency ${o.latencyMs} ms, rate ${o.rate} requests/s`,
        ]
      : []),
    `machine: ${m.cores} cores (${m.cpu}), ${mb(m.memoryBytes)} memory, ${m.database}, Node ${m.node}, ` +
      `load average ${m.loadAverageAtStart.join(' ')} at start, ${m.loadAverageAtEnd.join(' ')} at end`,
    '',
  ];
  const cpu = (parts: [string, number | undefined][]) =>
    parts
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k} ${fixed(v as number, 1)}`)
      .join(' + ');
  const rows: string[][] = [['scenario', 'figure', 'reference', 'ratio', 'CPU seconds']];
  if (s.fetchCeiling) {
    rows.push([
      'fetch ceiling',
      `${int(s.fetchCeiling.jobsPerSecond)} jobs/s (${int(s.fetchCeiling.jobs)} jobs, ${fixed(s.fetchCeiling.seconds)} s)`,
      'walk + parse + normalize, no store',
      '',
      cpu([
        ['walk', s.fetchCeiling.cpuSeconds],
        ['simulator', s.fetchCeiling.simulatorCpuSeconds],
      ]),
    ]);
  }
  if (s.writeCeiling) {
    rows.push([
      'write ceiling',
      `${int(s.writeCeiling.jobsPerSecond)} jobs/s, ${int(s.writeCeiling.rowsPerSecond)} rows/s (${fixed(s.writeCeiling.seconds)} s)`,
      'COPY of the same rows',
      '',
      cpu([['postgres', s.writeCeiling.dbCpuSeconds]]),
    ]);
  }
  if (s.cold) {
    rows.push([
      'cold backfill',
      `${int(s.cold.jobsPerSecond)} jobs/s, ${int(s.cold.rowsPerSecond)} rows/s (${fixed(s.cold.seconds)} s)`,
      s.cold.ceilingJobsPerSecond !== undefined ? `${s.cold.limitedBy} ceiling ${int(s.cold.ceilingJobsPerSecond)} jobs/s` : '',
      s.cold.ratioToCeiling !== undefined ? fixed(s.cold.ratioToCeiling) : '',
      cpu([
        ['sync', s.cold.cpuSeconds],
        ['postgres', s.cold.dbCpuSeconds],
      ]),
    ]);
  }
  if (s.warm) {
    const v = s.warm.rowVersions;
    rows.push([
      'warm re-sync',
      `${fixed(s.warm.seconds)} s, row versions: jobs ${v.jobs}, rules ${v.rules}, parsing ${v.parsingSettings}, status ${v.statusChanges}`,
      s.cold ? `cold ${fixed(s.cold.seconds)} s` : '',
      fixed(s.warm.ratioToCold),
      cpu([
        ['sync', s.warm.cpuSeconds],
        ['postgres', s.warm.dbCpuSeconds],
      ]),
    ]);
  }
  if (s.latency) {
    rows.push([
      'latency-bound',
      `${fixed(s.latency.seconds)} s (${s.latency.pages} pages at ${s.latency.latencyMs} ms)`,
      `floor ${fixed(s.latency.floorSeconds)} s`,
      fixed(s.latency.ratio),
      '',
    ]);
  }
  if (s.memory) {
    rows.push([
      'memory (peak RSS)',
      s.memory.runs.map((r) => `${mb(r.maxRssBytes)} at ${int(r.jobs)} jobs`).join(', '),
      'largest ÷ smallest run',
      s.memory.ratio !== undefined ? fixed(s.memory.ratio) : '',
      '',
    ]);
  }
  if (s.singleLatency) {
    const l = s.singleLatency;
    rows.push([
      'single-latency',
      `${fixed(l.seconds)} s, ${fixed(l.aboveFixedSeconds)} s above fixed cost ${fixed(l.fixedSeconds)} s (${int(l.jobs)} jobs, ${l.pages} pages at ${l.latencyMs} ms, slices ${l.slices})`,
      `serial floor ${fixed(l.floorSeconds)} s (${l.serialPages} pages)`,
      fixed(l.ratio),
      '',
    ]);
  }
  if (s.singleRate) {
    const r = s.singleRate;
    rows.push([
      'single-rate',
      `${fixed(r.seconds)} s (${int(r.jobs)} jobs, slices ${r.slices}), ${r.requests} requests, ${r.rateLimited} refused (${percent(r.rateLimitedShare)}); ` +
        `the sync saw ${r.syncSaw429} 429s, ${r.syncRetries} retries`,
      `rate floor ${fixed(r.floorSeconds)} s (${r.requestsNeeded} requests at ${r.rate}/s)`,
      fixed(r.ratio),
      '',
    ]);
  }
  if (s.singleCpu) {
    const c = s.singleCpu;
    const v = c.resync.rowVersions;
    rows.push([
      'single-cpu cold',
      `${int(c.cold.jobsPerSecond)} jobs/s (${int(c.jobs)} jobs, ${fixed(c.cold.seconds)} s, slices ${c.slices})`,
      c.perRow ? `per-row baseline ${int(c.perRow.jobsPerSecond)} jobs/s (${fixed(c.perRow.seconds)} s)` : '',
      c.speedUp !== undefined ? `x${fixed(c.speedUp, 1)}` : '',
      cpu([
        ['sync', c.cold.cpuSeconds],
        ['postgres', c.cold.dbCpuSeconds],
        ['per-row', c.perRow?.cpuSeconds],
      ]),
    ]);
    rows.push([
      'single-cpu re-sync',
      `${fixed(c.resync.seconds)} s, row versions: jobs ${v.jobs}, rules ${v.rules}, parsing ${v.parsingSettings}, status ${v.statusChanges}`,
      `cold ${fixed(c.cold.seconds)} s`,
      fixed(c.resync.ratioToCold),
      '',
    ]);
  }
  if (s.singleMemory) {
    const m = s.singleMemory;
    rows.push([
      'single-memory',
      `${mb(m.maxRssBytes)} peak RSS at ${int(m.jobs)} jobs (PGlite, ${fixed(m.seconds)} s, slices ${m.slices})`,
      '',
      '',
      '',
    ]);
  }
  lines.push(table(rows), '');
  if (result.targets.length > 0) {
    const withReference = result.targets.some((t) => t.reference !== undefined);
    lines.push(
      table([
        ['target', '', 'value', '', ...(withReference ? ['before'] : [])],
        ...result.targets.map((t) => [
          t.scenario,
          t.target,
          t.value,
          t.met ? 'met' : 'MISSED',
          ...(withReference ? [t.reference ?? ''] : []),
        ]),
      ]),
      '',
    );
  }
  const failures = exactnessFailures(result);
  if (failures.length > 0) lines.push(...failures, '');
  return `${lines.join('\n')}\n`;
}
