// The reporting figures computed in plain TypeScript from the simulator's data set (sim.jobs), so
// tests can check the views and the report against numbers that do not come from the SQL under test.
import type { V1Job } from '../../src/simulator/index.ts';

const OUTCOME: Record<string, string> = {
  SUCCESS: 'succeeded',
  ERROR: 'failed',
  PARTIAL_SUCCESS: 'partial',
  CANCELLED: 'cancelled',
  PENDING: 'in_progress',
};
const FINISHED = new Set(['succeeded', 'failed', 'partial', 'cancelled']);
const DAY_MS = 86_400_000;

export const outcomeOfStatus = (status: string): string => OUTCOME[status] ?? 'unknown';

/** Epoch ms of an API timestamp; a timestamp without a zone is UTC (as the sync stores it). */
export function epochMs(value: string | null | undefined): number | undefined {
  if (value == null) return undefined;
  const zoned = /(Z|[+-]\d\d(:?\d\d)?)$/i.test(value) ? value : `${value}Z`;
  return Date.parse(zoned);
}

/** Upstream's error message with its variable parts replaced, as classify_top_errors groups it. */
export function errorPatternOf(message: string | null | undefined): string | undefined {
  if (message == null) return undefined;
  // The view computes the pattern from the first 2000 characters (ERROR_PATTERN_INPUT_CHARS).
  const pattern = message
    .slice(0, 2000)
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}/gi, '<hex>')
    .replace(/[0-9]+(\.[0-9]+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 500);
  return pattern === '' ? undefined : pattern;
}

/** Postgres' percentile_cont: linear interpolation between the closest ranks. */
export function percentileCont(values: readonly number[], fraction: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = fraction * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  const lo = sorted[lower] as number;
  const hi = sorted[upper] as number;
  return lo + (hi - lo) * (position - lower);
}

export interface JobFacts {
  id: string;
  projectId: string;
  outcome: string;
  createdMs: number | undefined;
  /** Where the views place the job: created_at, else effective_at, else updated_at (first_seen_at is the sync's). */
  placedMs: number | undefined;
  day: string | undefined;
  durationSeconds: number | undefined;
  ruleTypes: Set<string>;
  ruleCount: number;
  errorMessage: string | undefined;
  errorPattern: string | undefined;
}

export function factsOf(job: V1Job): JobFacts {
  const outcome = outcomeOfStatus(job.status);
  const createdMs = epochMs(job.created_at);
  const updatedMs = epochMs(job.updated_at);
  const placedMs = createdMs ?? epochMs(job.effective_at) ?? updatedMs;
  return {
    id: job.id,
    projectId: job.project_id,
    outcome,
    createdMs,
    placedMs,
    day: placedMs === undefined ? undefined : new Date(placedMs).toISOString().slice(0, 10),
    durationSeconds:
      FINISHED.has(outcome) && createdMs !== undefined && updatedMs !== undefined ? (updatedMs - createdMs) / 1000 : undefined,
    ruleTypes: new Set(job.rules.map((r) => r.type)),
    ruleCount: job.rules.length,
    errorMessage: job.error_message ?? undefined,
    errorPattern: errorPatternOf(job.error_message),
  };
}

export interface OutcomeFigures {
  jobs: number;
  finished: number;
  succeeded: number;
  failed: number;
  partial: number;
  cancelled: number;
  in_progress: number;
  unknown: number;
  failure_rate: number | null;
  p50_duration_seconds: number | null;
  p95_duration_seconds: number | null;
}

export function outcomeFigures(jobs: readonly JobFacts[]): OutcomeFigures {
  const count = (outcome: string) => jobs.filter((j) => j.outcome === outcome).length;
  const finished = jobs.filter((j) => FINISHED.has(j.outcome)).length;
  const durations = jobs.flatMap((j) => (j.durationSeconds === undefined ? [] : [j.durationSeconds]));
  return {
    jobs: jobs.length,
    finished,
    succeeded: count('succeeded'),
    failed: count('failed'),
    partial: count('partial'),
    cancelled: count('cancelled'),
    in_progress: count('in_progress'),
    unknown: count('unknown'),
    failure_rate: finished === 0 ? null : count('failed') / finished,
    p50_duration_seconds: percentileCont(durations, 0.5),
    p95_duration_seconds: percentileCont(durations, 0.95),
  };
}

function groupBy<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    groups.set(k, [...(groups.get(k) ?? []), item]);
  }
  return groups;
}

/** Rows of classify_outcomes_daily for these jobs, sorted by project and day. */
export function expectedDaily(jobs: readonly JobFacts[]) {
  const rows = [...groupBy(jobs, (j) => (j.day === undefined ? undefined : `${j.projectId}|${j.day}`))].map(([key, group]) => {
    const [project_id = '', day = ''] = key.split('|');
    return { project_id, day, ...outcomeFigures(group) };
  });
  return rows.sort((a, b) => a.project_id.localeCompare(b.project_id) || a.day.localeCompare(b.day));
}

/** The report's per-project summary: the daily figures over the whole set. */
export function expectedTotals(jobs: readonly JobFacts[]) {
  return [
    ...groupBy(
      jobs.filter((j) => j.day !== undefined),
      (j) => j.projectId,
    ),
  ]
    .map(([project_id, group]) => ({ project_id, ...outcomeFigures(group) }))
    .sort((a, b) => a.project_id.localeCompare(b.project_id));
}

/** Rows of classify_rule_type_usage, sorted by project and rule type. */
export function expectedRuleTypes(jobs: readonly JobFacts[]) {
  const rows = [];
  for (const [project_id, group] of groupBy(jobs, (j) => j.projectId)) {
    const types = new Set(group.flatMap((j) => [...j.ruleTypes]));
    for (const rule_type of types) {
      const using = group.filter((j) => j.ruleTypes.has(rule_type));
      const failed = using.filter((j) => j.outcome === 'failed').length;
      const finished = using.filter((j) => FINISHED.has(j.outcome)).length;
      rows.push({
        project_id,
        rule_type,
        jobs: using.length,
        share: using.length / group.length,
        failed,
        failure_rate: finished === 0 ? null : failed / finished,
      });
    }
  }
  return rows.sort((a, b) => a.project_id.localeCompare(b.project_id) || (a.rule_type < b.rule_type ? -1 : 1));
}

const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Rows of classify_top_errors, sorted by project and rank. */
export function expectedTopErrors(jobs: readonly JobFacts[]) {
  const rows = [];
  for (const [project_id, group] of groupBy(jobs, (j) => j.projectId)) {
    const patterns = [...groupBy(group, (j) => (j.errorPattern === undefined ? undefined : `${j.outcome}\u0000${j.errorPattern}`))]
      .map(([key, same]) => {
        const [outcome = '', error_pattern = ''] = key.split('\u0000');
        const created = same.flatMap((j) => (j.createdMs === undefined ? [] : [j.createdMs]));
        return {
          project_id,
          outcome,
          error_pattern,
          jobs: same.length,
          first_seen_ms: created.length ? Math.min(...created) : undefined,
          last_seen_ms: created.length ? Math.max(...created) : undefined,
          example: same.map((j) => j.errorMessage ?? '').sort(byteOrder)[0] ?? '',
        };
      })
      .sort((a, b) => b.jobs - a.jobs || byteOrder(a.error_pattern, b.error_pattern) || byteOrder(a.outcome, b.outcome));
    rows.push(...patterns.map((p, i) => ({ ...p, rank: i + 1 })));
  }
  return rows.sort((a, b) => a.project_id.localeCompare(b.project_id) || a.rank - b.rank);
}

/** Jobs created (placed, for those without created_at) at or after `sinceMs`. */
export function createdSince(jobs: readonly JobFacts[], sinceMs: number): JobFacts[] {
  return jobs.filter((j) => j.placedMs !== undefined && j.placedMs >= sinceMs);
}

export { DAY_MS };
