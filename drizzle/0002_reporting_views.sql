CREATE INDEX "classify_jobs_live_project_created_idx" ON "classify_jobs" USING btree ("project_id","created_at","outcome","updated_at") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "classify_jobs_live_created_idx" ON "classify_jobs" USING btree ("created_at","project_id","outcome","updated_at") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "classify_jobs_in_progress_idx" ON "classify_jobs" USING btree ("created_at") WHERE outcome = 'in_progress' AND deleted_at IS NULL;--> statement-breakpoint
CREATE VIEW "public"."classify_job_outcomes" AS (SELECT j.id AS job_id, j.project_id, j.outcome, j.status, j.mode,
    j.created_at, j.updated_at,
    (j.created_at AT TIME ZONE 'UTC')::date AS created_day,
    CASE WHEN j.outcome IN ('succeeded', 'failed', 'partial', 'cancelled') THEN j.updated_at - j.created_at END AS duration,
    CASE WHEN j.outcome IN ('succeeded', 'failed', 'partial', 'cancelled') THEN extract(epoch FROM j.updated_at - j.created_at)::float8 END AS duration_seconds,
    (SELECT count(*) FROM classify_job_rules r WHERE r.job_id = j.id)::int AS rule_count,
    j.error_message,
    NULLIF(left(btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(j.error_message,
      '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
      '(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}', '<hex>', 'gi'),
      '[0-9]+(\.[0-9]+)?', '<n>', 'g'),
      '\s+', ' ', 'g')), 500), '') AS error_pattern
  FROM classify_jobs j
  WHERE j.deleted_at IS NULL);--> statement-breakpoint
CREATE VIEW "public"."sync_freshness" AS (WITH last_sync AS (
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
  FULL JOIN stored s ON s.project_id = l.project_id);--> statement-breakpoint
CREATE MATERIALIZED VIEW "public"."classify_outcomes_daily" AS (SELECT j.project_id, (j.created_at AT TIME ZONE 'UTC')::date AS day,
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
  WHERE j.deleted_at IS NULL AND j.created_at IS NOT NULL
  GROUP BY j.project_id, (j.created_at AT TIME ZONE 'UTC')::date);--> statement-breakpoint
CREATE MATERIALIZED VIEW "public"."classify_rule_type_usage" AS (SELECT u.project_id, u.rule_type, u.jobs,
    u.jobs::float8 / t.jobs AS share,
    u.failed,
    u.failed::float8 / NULLIF(u.finished, 0) AS failure_rate,
    u.first_used, u.last_used
  FROM (
    SELECT k.project_id, k.rule_type,
      count(*)::int AS jobs,
      count(*) FILTER (WHERE k.outcome = 'failed')::int AS failed,
      count(*) FILTER (WHERE k.outcome IN ('succeeded', 'failed', 'partial', 'cancelled'))::int AS finished,
      min(k.created_at) AS first_used,
      max(k.created_at) AS last_used
    FROM (
      SELECT j.project_id, j.outcome, j.created_at, r.type AS rule_type
      FROM classify_jobs j
      JOIN classify_job_rules r ON r.job_id = j.id
      WHERE j.deleted_at IS NULL
      GROUP BY j.id, r.type
    ) k
    GROUP BY k.project_id, k.rule_type
  ) u
  JOIN (
    SELECT j.project_id, count(*)::int AS jobs
    FROM classify_jobs j
    WHERE j.deleted_at IS NULL
    GROUP BY j.project_id
  ) t ON t.project_id = u.project_id);--> statement-breakpoint
CREATE MATERIALIZED VIEW "public"."classify_top_errors" AS (SELECT e.project_id, e.outcome, e.error_pattern,
    count(*)::int AS jobs,
    min(e.created_at) AS first_seen,
    max(e.created_at) AS last_seen,
    min(e.error_message COLLATE "C") AS example,
    (row_number() OVER (PARTITION BY e.project_id
      ORDER BY count(*) DESC, e.error_pattern COLLATE "C", e.outcome COLLATE "C"))::int AS rank
  FROM (
    SELECT j.project_id, j.outcome, j.created_at, j.error_message, NULLIF(left(btrim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(j.error_message,
      '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi'),
      '(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{8,}', '<hex>', 'gi'),
      '[0-9]+(\.[0-9]+)?', '<n>', 'g'),
      '\s+', ' ', 'g')), 500), '') AS error_pattern
    FROM classify_jobs j
    WHERE j.deleted_at IS NULL AND j.error_message IS NOT NULL
  ) e
  WHERE e.error_pattern IS NOT NULL
  GROUP BY e.project_id, e.outcome, e.error_pattern);