-- A synthetic data set for checking the reporting views' plans (docs/queries.md, "Plans at 1 000 000 jobs").
-- Run it on a SCRATCH database that `classify-sync migrate` has prepared, never on real data:
--   createdb -h 127.0.0.1 -U postgres cs_explain
--   DATABASE_URL=postgres://postgres@127.0.0.1:5432/cs_explain npx classify-sync migrate
--   psql -h 127.0.0.1 -U postgres -d cs_explain -v jobs=1000000 -f bench/reporting-dataset.sql
--   ... EXPLAIN ...
--   dropdb -h 127.0.0.1 -U postgres cs_explain
-- Shapes follow the simulator: 20 projects of uneven size, 90 days of history, the simulator's status
-- mix and error messages (with their variable parts), 1-5 rules per job, a ~700-byte raw item.
\set ON_ERROR_STOP on
\if :{?jobs}
\else
  \set jobs 1000000
\endif
SELECT setseed(0.42);

INSERT INTO classify_jobs (id, project_id, api_version, status, outcome, mode, user_id, error_message,
  job_record_id, created_at, updated_at, effective_at, raw, first_seen_at, synced_at)
SELECT md5('job' || g)::uuid::text,
  'project-' || lpad(floor(power(r_project, 2) * 20)::int::text, 2, '0'),
  'v1', s.status, s.outcome,
  CASE WHEN r_mode < 0.8 THEN 'FAST' ELSE 'MULTIMODAL' END,
  'user-' || (g % 37),
  CASE s.status
    WHEN 'ERROR' THEN (ARRAY[
      'Failed to parse file ' || md5('f' || g)::uuid || ': document is password protected',
      'Parse job ' || md5('p' || g)::uuid || ' timed out after ' || (120 + floor(r_detail * 780))::int || ' seconds',
      'File too large: ' || (51 + floor(r_detail * 430))::int || ' MB exceeds the 50 MB limit',
      'Unsupported file type: .' || (ARRAY['heic', 'pages', 'numbers', 'dwg', 'msg', 'zip'])[1 + floor(r_detail * 6)::int],
      'Upstream model error (request id req_' || left(md5('r' || g), 24) || '): 503 Service Unavailable',
      'No text could be extracted from the document'])[1 + floor(r_message * 6)::int]
    WHEN 'PARTIAL_SUCCESS' THEN (3 + floor(r_detail * 30))::int || ' of 40 files failed to classify'
    WHEN 'CANCELLED' THEN CASE WHEN r_message < 0.6 THEN 'Job was cancelled by the user' END
  END,
  CASE WHEN s.status <> 'PENDING' THEN md5('rec' || g)::uuid::text END,
  created_at,
  CASE WHEN s.status <> 'PENDING' THEN created_at + make_interval(secs => 2 + r_duration * 718) END,
  created_at,
  jsonb_build_object('id', md5('job' || g)::uuid, 'status', s.status, 'pad', repeat('x', 600)),
  now(), now()
FROM (
  SELECT g, random() AS r_project, random() AS r_status, random() AS r_mode, random() AS r_message,
    random() AS r_detail, random() AS r_duration,
    now() - make_interval(secs => random() * 90 * 86400) AS created_at
  FROM generate_series(1, :jobs) AS g
) AS x
CROSS JOIN LATERAL (
  SELECT CASE WHEN r_status < 0.72 THEN 'SUCCESS' WHEN r_status < 0.83 THEN 'ERROR'
    WHEN r_status < 0.89 THEN 'PARTIAL_SUCCESS' WHEN r_status < 0.95 THEN 'PENDING' ELSE 'CANCELLED' END AS status
) AS st
CROSS JOIN LATERAL (
  SELECT st.status, CASE st.status WHEN 'SUCCESS' THEN 'succeeded' WHEN 'ERROR' THEN 'failed'
    WHEN 'PARTIAL_SUCCESS' THEN 'partial' WHEN 'PENDING' THEN 'in_progress' ELSE 'cancelled' END AS outcome
) AS s;

-- 1-5 distinct rule types per job (2.5 on average), from the simulator's 14 types.
INSERT INTO classify_job_rules (job_id, position, type, description)
SELECT j.id, p.position,
  (ARRAY['invoice', 'receipt', 'contract', 'purchase_order', 'bank_statement', 'resume', 'tax_form',
    'insurance_claim', 'medical_record', 'shipping_label', 'utility_bill', 'payslip', 'nda', 'other'])
    [1 + (abs(hashtext(j.id)) + p.position * 5) % 14],
  'contains invoice number, line items, and total amount'
FROM classify_jobs j
CROSS JOIN LATERAL generate_series(0, abs(hashtext(j.id || 'n')) % 5) AS p(position);

-- A year of hourly runs for every project, the last one failed for one project.
INSERT INTO sync_runs (id, trigger, status, started_at, finished_at, projects)
SELECT md5('run' || h)::uuid, 'worker', 'succeeded', now() - make_interval(hours => h), now() - make_interval(hours => h) + interval '40 seconds', 20
FROM generate_series(0, 24 * 365) AS h;
INSERT INTO sync_run_projects (run_id, project_id, api_version, mode, status, started_at, finished_at, jobs_seen)
SELECT md5('run' || h)::uuid, 'project-' || lpad(p::text, 2, '0'), 'v1', 'full',
  CASE WHEN h = 0 AND p = 7 THEN 'failed' ELSE 'succeeded' END,
  now() - make_interval(hours => h), now() - make_interval(hours => h) + interval '40 seconds', 50000
FROM generate_series(0, 24 * 365) AS h, generate_series(0, 19) AS p;

VACUUM ANALYZE classify_jobs, classify_job_rules, sync_runs, sync_run_projects;
REFRESH MATERIALIZED VIEW classify_outcomes_daily;
REFRESH MATERIALIZED VIEW classify_rule_type_usage;
REFRESH MATERIALIZED VIEW classify_top_errors;
ANALYZE classify_outcomes_daily, classify_rule_type_usage, classify_top_errors;
