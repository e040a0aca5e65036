DROP VIEW "public"."classify_job_outcomes";--> statement-breakpoint
DROP MATERIALIZED VIEW "public"."classify_outcomes_daily";--> statement-breakpoint
DROP MATERIALIZED VIEW "public"."classify_top_errors";--> statement-breakpoint
ALTER TABLE "sync_runs" ADD COLUMN "warning" text;--> statement-breakpoint
CREATE VIEW "public"."classify_job_outcomes" AS (SELECT j.id AS job_id, j.project_id, j.outcome, j.status, j.mode,
    j.created_at, j.updated_at,
    (coalesce(j.created_at, j.effective_at, j.updated_at, j.first_seen_at) AT TIME ZONE 'UTC')::date AS created_day,
    CASE WHEN j.outcome IN ('succeeded', 'failed', 'partial', 'cancelled') THEN j.updated_at - j.created_at END AS duration,
    CASE WHEN j.outcome IN ('succeeded', 'failed', 'partial', 'cancelled') THEN extract(epoch FROM j.updated_at - j.created_at)::float8 END AS duration_seconds,
    (SELECT count(*) FROM classify_job_rules r WHERE r.job_id = j.id)::int AS rule_count,
    j.error_message,
    NULLIF(left(btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(left(j.error_message, 2000),
      '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
      '[0-9]{1}[a-f][0-9a-f]{6,}|[a-f]{1}[0-9][0-9a-f]{6,}|[0-9]{2}[a-f][0-9a-f]{5,}|[a-f]{2}[0-9][0-9a-f]{5,}|[0-9]{3}[a-f][0-9a-f]{4,}|[a-f]{3}[0-9][0-9a-f]{4,}|[0-9]{4}[a-f][0-9a-f]{3,}|[a-f]{4}[0-9][0-9a-f]{3,}|[0-9]{5}[a-f][0-9a-f]{2,}|[a-f]{5}[0-9][0-9a-f]{2,}|[0-9]{6}[a-f][0-9a-f]{1,}|[a-f]{6}[0-9][0-9a-f]{1,}|[0-9]{7,}[a-f][0-9a-f]*|[a-f]{7,}[0-9][0-9a-f]*', '<hex>', 'gi'),
      '[0-9]+(\.[0-9]+)?', '<n>', 'g'),
      '\s+', ' ', 'g')), 500), '') AS error_pattern
  FROM classify_jobs j
  WHERE j.deleted_at IS NULL);--> statement-breakpoint
CREATE MATERIALIZED VIEW "public"."classify_outcomes_daily" AS (SELECT j.project_id, (coalesce(j.created_at, j.effective_at, j.updated_at, j.first_seen_at) AT TIME ZONE 'UTC')::date AS day,
    count(*)::int AS jobs,
    count(*) FILTER (WHERE j.outcome IN ('succeeded', 'failed', 'partial', 'cancelled'))::int AS finished,
    count(*) FILTER (WHERE j.outcome = 'succeeded')::int AS succeeded,
    count(*) FILTER (WHERE j.outcome = 'failed')::int AS failed,
    count(*) FILTER (WHERE j.outcome = 'partial')::int AS partial,
    count(*) FILTER (WHERE j.outcome = 'cancelled')::int AS cancelled,
    count(*) FILTER (WHERE j.outcome = 'in_progress')::int AS in_progress,
    count(*) FILTER (WHERE j.outcome = 'unknown')::int AS unknown,
    (count(*) FILTER (WHERE j.outcome = 'failed'))::float8
      / NULLIF(count(*) FILTER (WHERE j.outcome IN ('succeeded', 'failed', 'partial', 'cancelled')), 0) AS failure_rate,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY CASE WHEN j.outcome IN ('succeeded', 'failed', 'partial', 'cancelled') THEN extract(epoch FROM j.updated_at - j.created_at)::float8 END) AS p50_duration_seconds,
    percentile_cont(0.95) WITHIN GROUP (ORDER BY CASE WHEN j.outcome IN ('succeeded', 'failed', 'partial', 'cancelled') THEN extract(epoch FROM j.updated_at - j.created_at)::float8 END) AS p95_duration_seconds
  FROM classify_jobs j
  WHERE j.deleted_at IS NULL
  GROUP BY j.project_id, (coalesce(j.created_at, j.effective_at, j.updated_at, j.first_seen_at) AT TIME ZONE 'UTC')::date);--> statement-breakpoint
CREATE MATERIALIZED VIEW "public"."classify_top_errors" AS (SELECT e.project_id, e.outcome, e.error_pattern,
    count(*)::int AS jobs,
    min(e.created_at) AS first_seen,
    max(e.created_at) AS last_seen,
    min(e.error_message COLLATE "C") AS example,
    (row_number() OVER (PARTITION BY e.project_id
      ORDER BY count(*) DESC, e.error_pattern COLLATE "C", e.outcome COLLATE "C"))::int AS rank
  FROM (
    SELECT j.project_id, j.outcome, j.created_at, j.error_message, NULLIF(left(btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(left(j.error_message, 2000),
      '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
      '[0-9]{1}[a-f][0-9a-f]{6,}|[a-f]{1}[0-9][0-9a-f]{6,}|[0-9]{2}[a-f][0-9a-f]{5,}|[a-f]{2}[0-9][0-9a-f]{5,}|[0-9]{3}[a-f][0-9a-f]{4,}|[a-f]{3}[0-9][0-9a-f]{4,}|[0-9]{4}[a-f][0-9a-f]{3,}|[a-f]{4}[0-9][0-9a-f]{3,}|[0-9]{5}[a-f][0-9a-f]{2,}|[a-f]{5}[0-9][0-9a-f]{2,}|[0-9]{6}[a-f][0-9a-f]{1,}|[a-f]{6}[0-9][0-9a-f]{1,}|[0-9]{7,}[a-f][0-9a-f]*|[a-f]{7,}[0-9][0-9a-f]*', '<hex>', 'gi'),
      '[0-9]+(\.[0-9]+)?', '<n>', 'g'),
      '\s+', ' ', 'g')), 500), '') AS error_pattern
    FROM classify_jobs j
    WHERE j.deleted_at IS NULL AND j.error_message IS NOT NULL
  ) e
  WHERE e.error_pattern IS NOT NULL
  GROUP BY e.project_id, e.outcome, e.error_pattern);--> statement-breakpoint
-- Added by hand: the two materialized views recreated above need their unique indexes again (see 0003).
CREATE UNIQUE INDEX "classify_outcomes_daily_key" ON "classify_outcomes_daily" ("project_id", "day");--> statement-breakpoint
CREATE UNIQUE INDEX "classify_top_errors_key" ON "classify_top_errors" ("project_id", "outcome", "error_pattern");
