// Helpers for v2, auto-detection and incremental tests: expected data, whole-table snapshots, run rows.
import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '../../src/db/connect.ts';
import { cleanJson } from '../../src/normalize.ts';
import type { Simulator } from '../../src/simulator/index.ts';

/** What the simulator serves for a project in v2 shape, as stored in classify_jobs.raw. */
export function expectedRawV2(sim: Simulator, projectId: string): Map<string, unknown> {
  return new Map(sim.jobsV2(projectId).map((j) => [j.id, cleanJson(j)]));
}

export interface JobTables {
  jobs: Record<string, unknown>[];
  rules: Record<string, unknown>[];
  parsing: Record<string, unknown>[];
}

/**
 * Every job table in full, minus what records *when* or *by which run* a row was written (first_seen_at,
 * synced_at, last_run_id, the deleted_at instant): two databases that saw the same upstream agree on the rest.
 */
export async function jobTables(db: Db): Promise<JobTables> {
  const jobs = await queryRows<Record<string, unknown>>(
    db,
    sql`
    SELECT id, project_id, organization_id, api_version, status, outcome, mode, user_id, error_message, job_record_id,
      created_at::text, effective_at::text, updated_at::text, file_input, document_input_type, configuration_id,
      parse_job_id, transaction_id, result_type, result_confidence, result_reasoning, raw::text,
      deleted_at IS NOT NULL AS deleted
    FROM classify_jobs ORDER BY id`,
  );
  const rules = await queryRows<Record<string, unknown>>(
    db,
    sql`
    SELECT job_id, position, type, description FROM classify_job_rules ORDER BY job_id, position`,
  );
  const parsing = await queryRows<Record<string, unknown>>(
    db,
    sql`
    SELECT job_id, lang, max_pages, target_pages::text, target_pages_spec FROM classify_job_parsing_settings ORDER BY job_id`,
  );
  return { jobs, rules, parsing };
}

export interface RunProjectRow {
  project_id: string;
  api_version: string | null;
  mode: string | null;
  status: string;
  pages: number;
  pages_saved: number | null;
  jobs_deleted: number;
  error: string | null;
}

export async function runProject(db: Db, runId: string, projectId: string): Promise<RunProjectRow | undefined> {
  const [row] = await queryRows<RunProjectRow>(
    db,
    sql`
    SELECT project_id, api_version, mode, status, pages, pages_saved, jobs_deleted, error
    FROM sync_run_projects WHERE run_id = ${runId} AND project_id = ${projectId}`,
  );
  return row;
}

/** The version `--api auto` remembered for a project (the sync_state row with detected_at). */
export async function detectedVersion(db: Db, projectId: string): Promise<string | undefined> {
  const rows = await queryRows<{ api_version: string }>(
    db,
    sql`
    SELECT api_version FROM sync_state WHERE project_id = ${projectId} AND detected_at IS NOT NULL`,
  );
  if (rows.length > 1) throw new Error(`project ${projectId} has ${rows.length} detected versions`);
  return rows[0]?.api_version;
}
