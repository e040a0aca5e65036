// The report's numbers: the reporting views' own queries (src/db/views.ts) narrowed to the report's
// projects and window, plus sync_freshness. Every format renders this one object.
import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Db } from '../db/connect.ts';
import { sqlState } from '../db/errors.ts';
import { outcomeTotalsQuery, outcomesDailyQuery, ruleTypeUsageQuery, topErrorsQuery } from '../db/views.ts';

/** Patterns per project in top_errors. */
export const TOP_ERRORS_PER_PROJECT = 10;

export interface OutcomeFigures {
  jobs: number;
  finished: number;
  succeeded: number;
  failed: number;
  partial: number;
  cancelled: number;
  in_progress: number;
  unknown: number;
  /** failed / finished; null when none finished. */
  failure_rate: number | null;
  p50_duration_seconds: number | null;
  p95_duration_seconds: number | null;
}

export interface OutcomeRow extends OutcomeFigures {
  project_id: string;
}

export interface DailyRow extends OutcomeFigures {
  project_id: string;
  /** UTC day of creation (see classify_outcomes_daily for jobs without created_at), YYYY-MM-DD. */
  day: string;
}

export interface TopErrorRow {
  project_id: string;
  rank: number;
  outcome: string;
  error_pattern: string;
  jobs: number;
  first_seen: string | null;
  last_seen: string | null;
  example: string;
}

export interface RuleTypeRow {
  project_id: string;
  rule_type: string;
  jobs: number;
  share: number;
  failed: number;
  failure_rate: number | null;
}

export interface FreshnessRow {
  project_id: string;
  last_success_at: string | null;
  age_seconds: number | null;
  last_sync_at: string | null;
  last_status: string | null;
  last_error: string | null;
  jobs_stored: number;
}

export interface ReportProject {
  project_id: string;
  name: string | null;
}

/** Field names are the views' column names, so JSON/CSV consumers and SQL users share one vocabulary. */
export interface Report {
  generated_at: string;
  /** Jobs created at or after this instant are in the window (ISO 8601, UTC). */
  since: string;
  until: string;
  database: string;
  projects: ReportProject[];
  /** One row per project, zeros included; a job without created_at is placed as in classify_outcomes_daily. */
  outcomes: OutcomeRow[];
  daily: DailyRow[];
  top_errors: TopErrorRow[];
  rule_types: RuleTypeRow[];
  freshness: FreshnessRow[];
}

export interface ReportQuery {
  /** Only these projects; undefined = every project in the database. */
  projects: readonly string[] | undefined;
  since: Date;
  now: Date;
  /** Display names (from the config file), by project id. */
  names?: ReadonlyMap<string, string>;
  database: string;
  /** Each query's statement_timeout (Postgres; PGlite ignores it). */
  timeoutMs: number;
}

/** A report query that ran longer than its timeout. */
export class ReportTimeoutError extends Error {
  override name = 'ReportTimeoutError';
}

/** A timestamptz as ISO 8601 UTC with milliseconds (the same text from Postgres and PGlite). */
const iso = (column: string) => sql.raw(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

const FIGURES = sql.raw(`jobs, finished, succeeded, failed, partial, cancelled, in_progress, unknown,
  failure_rate, p50_duration_seconds, p95_duration_seconds`);

function projectFilter(column: SQL, projects: readonly string[] | undefined): SQL {
  if (projects === undefined) return sql`true`;
  if (projects.length === 0) return sql`false`;
  return sql`${column} IN (${sql.join(
    projects.map((id) => sql`${id}`),
    sql`, `,
  )})`;
}

export async function loadReport(db: Db, query: ReportQuery): Promise<Report> {
  const inWindow = { where: projectFilter(sql`j.project_id`, query.projects), since: sql`${query.since.toISOString()}::timestamptz` };
  // Each query in its own transaction, so they still run side by side on a pool, each with its timeout.
  const rows = <T>(statement: SQL) =>
    db
      .transaction(async (tx) => {
        await tx.execute(sql`SELECT set_config('statement_timeout', ${String(query.timeoutMs)}, true)`);
        return queryRows<T>(tx, statement);
      })
      .catch((error: unknown) => {
        if (sqlState(error) !== '57014') throw error;
        throw new ReportTimeoutError(
          `the report's queries ran longer than reportTimeoutMs (${query.timeoutMs} ms): narrow the report with --since or --project, or raise reportTimeoutMs`,
        );
      });

  const [outcomes, daily, topErrors, ruleTypes, freshness] = await Promise.all([
    rows<OutcomeRow>(sql`SELECT project_id, ${FIGURES} FROM (${outcomeTotalsQuery(inWindow)}) t`),
    rows<DailyRow>(sql`SELECT project_id, day::text AS day, ${FIGURES} FROM (${outcomesDailyQuery(inWindow)}) d
      ORDER BY project_id, day`),
    rows<TopErrorRow>(sql`SELECT project_id, rank, outcome, error_pattern, jobs,
        ${iso('first_seen')} AS first_seen, ${iso('last_seen')} AS last_seen, example
      FROM (${topErrorsQuery(inWindow)}) e WHERE rank <= ${TOP_ERRORS_PER_PROJECT}
      ORDER BY project_id, rank`),
    rows<RuleTypeRow>(sql`SELECT project_id, rule_type, jobs, share, failed, failure_rate
      FROM (${ruleTypeUsageQuery(inWindow)}) u ORDER BY project_id, jobs DESC, rule_type COLLATE "C"`),
    rows<FreshnessRow>(sql`SELECT project_id, ${iso('last_success_at')} AS last_success_at, age_seconds,
        ${iso('last_sync_at')} AS last_sync_at, last_status, last_error, jobs_stored
      FROM sync_freshness f WHERE ${projectFilter(sql`f.project_id`, query.projects)}
      ORDER BY project_id`),
  ]);

  const names = query.names ?? new Map<string, string>();
  const ids = query.projects ?? [...new Set([...freshness.map((f) => f.project_id), ...outcomes.map((o) => o.project_id)])];
  const projects = [...new Set(ids)]
    .map((id) => ({ project_id: id, name: names.get(id) ?? null }))
    .sort((a, b) => (a.name ?? a.project_id).localeCompare(b.name ?? b.project_id) || a.project_id.localeCompare(b.project_id));
  const order = new Map(projects.map((p, i) => [p.project_id, i]));
  const byProject = <T extends { project_id: string }>(rows: T[]) =>
    rows.sort((a, b) => (order.get(a.project_id) ?? 0) - (order.get(b.project_id) ?? 0));

  const totals = new Map(outcomes.map((o) => [o.project_id, o]));
  const freshByProject = new Map(freshness.map((f) => [f.project_id, f]));
  return {
    generated_at: query.now.toISOString(),
    since: query.since.toISOString(),
    until: query.now.toISOString(),
    database: query.database,
    projects,
    outcomes: projects.map((p) => totals.get(p.project_id) ?? { project_id: p.project_id, ...NO_JOBS }),
    daily: byProject(daily),
    top_errors: byProject(topErrors),
    rule_types: byProject(ruleTypes),
    freshness: projects.map(
      (p) =>
        freshByProject.get(p.project_id) ?? {
          project_id: p.project_id,
          last_success_at: null,
          age_seconds: null,
          last_sync_at: null,
          last_status: null,
          last_error: null,
          jobs_stored: 0,
        },
    ),
  };
}

/** The figures of a project or a day without jobs. */
export const NO_JOBS: OutcomeFigures = {
  jobs: 0,
  finished: 0,
  succeeded: 0,
  failed: 0,
  partial: 0,
  cancelled: 0,
  in_progress: 0,
  unknown: 0,
  failure_rate: null,
  p50_duration_seconds: null,
  p95_duration_seconds: null,
};

/** A project's label for people: its configured name, else its id. */
export function projectLabel(report: Pick<Report, 'projects'>, projectId: string): string {
  return report.projects.find((p) => p.project_id === projectId)?.name ?? projectId;
}
