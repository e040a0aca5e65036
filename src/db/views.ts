// The reporting views: answers to the usual questions about job outcomes, one SELECT away.
//
// Every figure is defined once, here, as SQL: the views are built from these queries, and the
// `report` command runs the very same queries narrowed to its projects and window, so a report and
// a SELECT on a view can never disagree about what "failure rate" or "p95 duration" means.
//
// The aggregates read classify_jobs directly (not the classify_job_outcomes view), so changing one
// view never forces dropping the others. Aggregates over the whole history are materialized and
// refreshed at the end of every sync run (refreshReportingViews in runs.ts); per-job and freshness views are
// plain, because a filter on them is cheap through the indexes and `age` must be current.
// Their unique indexes (needed by REFRESH ... CONCURRENTLY) are in a custom migration, since
// drizzle-kit cannot declare indexes on materialized views.
//
// No query parameters here: drizzle-kit writes view definitions as plain SQL text.
import { sql, type SQL } from 'drizzle-orm';
import { date, doublePrecision, integer, interval, pgMaterializedView, pgView, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const tstz = (name: string) => timestamp(name, { withTimezone: true, mode: 'string' });

/** Outcomes of a job that has ended; only these have a duration. */
const FINISHED = sql.raw(`('succeeded', 'failed', 'partial', 'cancelled')`);

/** How much of a message the pattern is computed from: four times the pattern's length, so an ordinary message groups in full. */
export const ERROR_PATTERN_INPUT_CHARS = 2000;

/**
 * A hex id: a run of 8+ hex characters with at least one digit and one letter. Spelled as its cases
 * (the digits before the first letter, or the letters before the first digit, then the rest of the run)
 * rather than with two look-aheads, whose cost grows with the square of a long hex run (a 40 000-character
 * one took seconds); the matches are the same, as a run of hex characters is matched whole or not at all.
 */
const HEX_ID = [1, 2, 3, 4, 5, 6, 7]
  .flatMap((lead) => {
    const rest = lead === 7 ? '*' : `{${7 - lead},}`;
    const first = lead === 7 ? '{7,}' : `{${lead}}`;
    return [`[0-9]${first}[a-f][0-9a-f]${rest}`, `[a-f]${first}[0-9][0-9a-f]${rest}`];
  })
  .join('|');

/**
 * An error message with its variable parts replaced, so one kind of error groups as one row:
 * uuids → <uuid>, hex ids of 8+ characters with digits and letters → <hex>, numbers → <n>,
 * whitespace folded, at most 500 characters (it is part of a unique index). Null when empty.
 * Computed from the first ERROR_PATTERN_INPUT_CHARS characters, so a message of megabytes costs no
 * more than an ordinary one (the message itself is stored whole).
 */
export function errorPattern(message: SQL): SQL {
  return sql`NULLIF(left(btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(left(${message}, ${sql.raw(String(ERROR_PATTERN_INPUT_CHARS))}),
      '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
      '${sql.raw(HEX_ID)}', '<hex>', 'gi'),
      '[0-9]+(\\.[0-9]+)?', '<n>', 'g'),
      '\\s+', ' ', 'g')), 500), '')`;
}

/** The rows every view and report reads: live jobs (not deleted upstream), narrowed by `where` on alias j. */
function liveJobs(where: SQL | undefined): SQL {
  return where ? sql`j.deleted_at IS NULL AND (${where})` : sql`j.deleted_at IS NULL`;
}

/**
 * When a job happened, for placing it on a day and in a report's window: created_at, else (a job
 * upstream sent without one) effective_at, updated_at, and last the time this program first saw it,
 * which is never null. So every live job is on exactly one day and the daily sums match the job count.
 */
const JOB_TIME = sql`coalesce(j.created_at, j.effective_at, j.updated_at, j.first_seen_at)`;
const CREATED_DAY = sql`(${JOB_TIME} AT TIME ZONE 'UTC')::date`;

/** Which jobs a query reads: `where` on alias j, and with `since` (a timestamptz) only those placed at or after it. */
export interface JobsFilter {
  where?: SQL | undefined;
  since?: SQL | undefined;
}

/**
 * classify_jobs as alias j, narrowed to the jobs placed (JOB_TIME) at or after `since`, with the columns
 * the aggregates read. Two branches rather than one OR, so the usual one (created_at set) stays an
 * index-only scan of the covering indexes (an OR makes it a bitmap heap scan of the whole window); that
 * branch leaves out JOB_TIME's fallbacks, which are not in those indexes and which it never needs.
 */
function jobsFrom(since: SQL | undefined): SQL {
  if (since === undefined) return sql`classify_jobs j`;
  const columns = sql`j.id, j.project_id, j.outcome, j.created_at, j.updated_at, j.error_message, j.deleted_at`;
  return sql`(SELECT ${columns}, NULL::timestamptz AS effective_at, NULL::timestamptz AS first_seen_at
      FROM classify_jobs j WHERE j.created_at >= ${since}
    UNION ALL
    SELECT ${columns}, j.effective_at, j.first_seen_at
      FROM classify_jobs j WHERE j.created_at IS NULL AND coalesce(j.effective_at, j.updated_at, j.first_seen_at) >= ${since}) j`;
}

/**
 * The same narrowing as a condition on classify_jobs j (empty without `since`), where the table itself
 * must be read: GROUP BY j.id then stands for every column of j, which a subquery would not allow.
 */
function placedSince(since: SQL | undefined): SQL {
  return since === undefined
    ? sql``
    : sql` AND (j.created_at >= ${since} OR (j.created_at IS NULL AND coalesce(j.effective_at, j.updated_at, j.first_seen_at) >= ${since}))`;
}

const DURATION = sql`CASE WHEN j.outcome IN ${FINISHED} THEN j.updated_at - j.created_at END`;
const DURATION_SECONDS = sql`CASE WHEN j.outcome IN ${FINISHED} THEN extract(epoch FROM j.updated_at - j.created_at)::float8 END`;

/** Live jobs with what reports derive from them. */
function jobOutcomesQuery(): SQL {
  return sql`SELECT j.id AS job_id, j.project_id, j.outcome, j.status, j.mode,
    j.created_at, j.updated_at,
    ${CREATED_DAY} AS created_day,
    ${DURATION} AS duration,
    ${DURATION_SECONDS} AS duration_seconds,
    (SELECT count(*) FROM classify_job_rules r WHERE r.job_id = j.id)::int AS rule_count,
    j.error_message,
    ${errorPattern(sql`j.error_message`)} AS error_pattern
  FROM classify_jobs j
  WHERE ${liveJobs(undefined)}`;
}

/** Counts per outcome, failure rate and duration percentiles of a group of jobs j. */
const OUTCOME_FIGURES = sql`count(*)::int AS jobs,
    count(*) FILTER (WHERE j.outcome IN ${FINISHED})::int AS finished,
    count(*) FILTER (WHERE j.outcome = 'succeeded')::int AS succeeded,
    count(*) FILTER (WHERE j.outcome = 'failed')::int AS failed,
    count(*) FILTER (WHERE j.outcome = 'partial')::int AS partial,
    count(*) FILTER (WHERE j.outcome = 'cancelled')::int AS cancelled,
    count(*) FILTER (WHERE j.outcome = 'in_progress')::int AS in_progress,
    count(*) FILTER (WHERE j.outcome = 'unknown')::int AS unknown,
    (count(*) FILTER (WHERE j.outcome = 'failed'))::float8
      / NULLIF(count(*) FILTER (WHERE j.outcome IN ${FINISHED}), 0) AS failure_rate,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY ${DURATION_SECONDS}) AS p50_duration_seconds,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY ${DURATION_SECONDS}) AS p95_duration_seconds`;

/** Per project and UTC day of creation (of JOB_TIME for a job without created_at). */
export function outcomesDailyQuery({ where, since }: JobsFilter = {}): SQL {
  return sql`SELECT j.project_id, ${CREATED_DAY} AS day,
    ${OUTCOME_FIGURES}
  FROM ${jobsFrom(since)}
  WHERE ${liveJobs(where)}
  GROUP BY j.project_id, ${CREATED_DAY}`;
}

/** Per project: the figures of classify_outcomes_daily over a whole window (the report's summary). */
export function outcomeTotalsQuery({ where, since }: JobsFilter = {}): SQL {
  return sql`SELECT j.project_id,
    ${OUTCOME_FIGURES}
  FROM ${jobsFrom(since)}
  WHERE ${liveJobs(where)}
  GROUP BY j.project_id`;
}

/**
 * Rule types are cut to this many characters in classify_rule_type_usage: its unique index (a btree,
 * which REFRESH … CONCURRENTLY needs) caps an entry at 2 704 bytes, and 500 characters of up to 4 bytes
 * each stay under it. Longer types (no real one is) group by their first 500 characters.
 */
const RULE_TYPE_CHARS = sql.raw('500');

/**
 * Per project and rule type: the jobs with at least one rule of the type, their share of the
 * project's live jobs, and how many of them failed. A job's rules are deduplicated by type first
 * (GROUP BY job, type), which is far cheaper than count(DISTINCT) over every rule row.
 */
export function ruleTypeUsageQuery({ where, since }: JobsFilter = {}): SQL {
  return sql`SELECT u.project_id, u.rule_type, u.jobs,
    u.jobs::float8 / t.jobs AS share,
    u.failed,
    u.failed::float8 / NULLIF(u.finished, 0) AS failure_rate,
    u.first_used, u.last_used
  FROM (
    SELECT k.project_id, k.rule_type,
      count(*)::int AS jobs,
      count(*) FILTER (WHERE k.outcome = 'failed')::int AS failed,
      count(*) FILTER (WHERE k.outcome IN ${FINISHED})::int AS finished,
      min(k.created_at) AS first_used,
      max(k.created_at) AS last_used
    FROM (
      SELECT j.project_id, j.outcome, j.created_at, left(r.type, ${RULE_TYPE_CHARS}) AS rule_type
      FROM classify_jobs j
      JOIN classify_job_rules r ON r.job_id = j.id
      WHERE ${liveJobs(where)}${placedSince(since)}
      GROUP BY j.id, left(r.type, ${RULE_TYPE_CHARS})
    ) k
    GROUP BY k.project_id, k.rule_type
  ) u
  JOIN (
    SELECT j.project_id, count(*)::int AS jobs
    FROM ${jobsFrom(since)}
    WHERE ${liveJobs(where)}
    GROUP BY j.project_id
  ) t ON t.project_id = u.project_id`;
}

/**
 * Per project, outcome and error pattern: how many jobs, created when first and last, one example,
 * and the pattern's rank in its project (1 = most jobs; ties broken by pattern then outcome, byte order).
 */
export function topErrorsQuery({ where, since }: JobsFilter = {}): SQL {
  return sql`SELECT e.project_id, e.outcome, e.error_pattern,
    count(*)::int AS jobs,
    min(e.created_at) AS first_seen,
    max(e.created_at) AS last_seen,
    min(e.error_message COLLATE "C") AS example,
    (row_number() OVER (PARTITION BY e.project_id
      ORDER BY count(*) DESC, e.error_pattern COLLATE "C", e.outcome COLLATE "C"))::int AS rank
  FROM (
    SELECT j.project_id, j.outcome, j.created_at, j.error_message, ${errorPattern(sql`j.error_message`)} AS error_pattern
    FROM ${jobsFrom(since)}
    WHERE ${liveJobs(where)} AND j.error_message IS NOT NULL
  ) e
  WHERE e.error_pattern IS NOT NULL
  GROUP BY e.project_id, e.outcome, e.error_pattern`;
}

/**
 * Per project: the last sync, the last successful one and its age, and the live jobs stored.
 * Ordered DESC on both keys so DISTINCT ON walks sync_run_projects_project_idx backwards, unsorted.
 */
const SYNC_FRESHNESS = sql`WITH last_sync AS (
    SELECT DISTINCT ON (p.project_id) p.project_id, p.status, p.started_at, p.error
    FROM sync_run_projects p
    ORDER BY p.project_id DESC, p.started_at DESC
  ), last_success AS (
    SELECT DISTINCT ON (p.project_id) p.project_id, p.run_id, p.finished_at
    FROM sync_run_projects p
    WHERE p.status = 'succeeded'
    ORDER BY p.project_id DESC, p.started_at DESC
  ), stored AS (
    SELECT j.project_id, count(*)::int AS jobs
    FROM classify_jobs j
    WHERE j.deleted_at IS NULL
    GROUP BY j.project_id
  )
  SELECT coalesce(l.project_id, s.project_id) AS project_id,
    ok.finished_at AS last_success_at,
    ok.run_id AS last_success_run_id,
    now() - ok.finished_at AS age,
    extract(epoch FROM now() - ok.finished_at)::float8 AS age_seconds,
    l.started_at AS last_sync_at,
    l.status AS last_status,
    l.error AS last_error,
    coalesce(s.jobs, 0) AS jobs_stored
  FROM last_sync l
  LEFT JOIN last_success ok ON ok.project_id = l.project_id
  FULL JOIN stored s ON s.project_id = l.project_id`;

const outcomeColumns = {
  jobs: integer('jobs').notNull(),
  finished: integer('finished').notNull(),
  succeeded: integer('succeeded').notNull(),
  failed: integer('failed').notNull(),
  partial: integer('partial').notNull(),
  cancelled: integer('cancelled').notNull(),
  inProgress: integer('in_progress').notNull(),
  unknown: integer('unknown').notNull(),
  /** failed / finished; null when no job of the group has finished. */
  failureRate: doublePrecision('failure_rate'),
  p50DurationSeconds: doublePrecision('p50_duration_seconds'),
  p95DurationSeconds: doublePrecision('p95_duration_seconds'),
};

/** One row per live job: its outcome, duration, rule count and error, for ad-hoc questions. */
export const classifyJobOutcomes = pgView('classify_job_outcomes', {
  jobId: text('job_id').notNull(),
  projectId: text('project_id').notNull(),
  outcome: text('outcome').notNull(),
  status: text('status').notNull(),
  mode: text('mode'),
  createdAt: tstz('created_at'),
  updatedAt: tstz('updated_at'),
  /** UTC date of created_at; for a job without one, of effective_at, else updated_at, else first_seen_at. */
  createdDay: date('created_day', { mode: 'string' }),
  /** updated_at - created_at for finished jobs (succeeded, failed, partial, cancelled); else null. */
  duration: interval('duration'),
  durationSeconds: doublePrecision('duration_seconds'),
  ruleCount: integer('rule_count').notNull(),
  errorMessage: text('error_message'),
  errorPattern: text('error_pattern'),
}).as(jobOutcomesQuery());

export const classifyOutcomesDaily = pgMaterializedView('classify_outcomes_daily', {
  projectId: text('project_id').notNull(),
  day: date('day', { mode: 'string' }).notNull(),
  ...outcomeColumns,
}).as(outcomesDailyQuery());

export const classifyRuleTypeUsage = pgMaterializedView('classify_rule_type_usage', {
  projectId: text('project_id').notNull(),
  ruleType: text('rule_type').notNull(),
  jobs: integer('jobs').notNull(),
  share: doublePrecision('share').notNull(),
  failed: integer('failed').notNull(),
  failureRate: doublePrecision('failure_rate'),
  firstUsed: tstz('first_used'),
  lastUsed: tstz('last_used'),
}).as(ruleTypeUsageQuery());

export const classifyTopErrors = pgMaterializedView('classify_top_errors', {
  projectId: text('project_id').notNull(),
  outcome: text('outcome').notNull(),
  errorPattern: text('error_pattern').notNull(),
  jobs: integer('jobs').notNull(),
  firstSeen: tstz('first_seen'),
  lastSeen: tstz('last_seen'),
  example: text('example').notNull(),
  rank: integer('rank').notNull(),
}).as(topErrorsQuery());

export const syncFreshness = pgView('sync_freshness', {
  projectId: text('project_id').notNull(),
  lastSuccessAt: tstz('last_success_at'),
  lastSuccessRunId: uuid('last_success_run_id'),
  age: interval('age'),
  ageSeconds: doublePrecision('age_seconds'),
  lastSyncAt: tstz('last_sync_at'),
  lastStatus: text('last_status'),
  lastError: text('last_error'),
  jobsStored: integer('jobs_stored').notNull(),
}).as(SYNC_FRESHNESS);

/** The materialized views, in the order they are refreshed. */
export const MATERIALIZED_VIEWS = ['classify_outcomes_daily', 'classify_rule_type_usage', 'classify_top_errors'] as const;
