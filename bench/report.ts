// The bench's results: their shape (also the --json output), the targets of issue #6, and the table.

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
  };
  targets: Target[];
}

export interface Target {
  scenario: string;
  target: string;
  value: string;
  met: boolean;
}

const MB = 1024 * 1024;
const MAX_RSS_BYTES = 300 * MB;

const fixed = (n: number, digits = 2) => n.toFixed(digits);
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`;

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
  return targets;
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
  const lines: string[] = [
    `classify-sync bench: ${int(o.jobs)} jobs in ${o.projects} projects, page size ${o.pageSize}, concurrency ${o.concurrency}`,
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
  lines.push(table(rows), '');
  if (result.targets.length > 0) {
    lines.push(
      table([['target', '', 'value', ''], ...result.targets.map((t) => [t.scenario, t.target, t.value, t.met ? 'met' : 'MISSED'])]),
      '',
    );
  }
  return `${lines.join('\n')}\n`;
}
