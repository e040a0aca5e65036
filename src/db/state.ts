// What `status` reads of each project (its walk state, last run, open rejects, stored jobs) and what
// `reset` forgets or deletes. Read-only queries here never touch the schema; the writes run in one
// transaction each, under the project's lock (taken by the caller).
import { sql, type SQL } from 'drizzle-orm';
import { arrayLiteral, queryRows, type Db } from './connect.ts';

/** A timestamptz as ISO text (UTC, milliseconds), read alike by every driver; null stays null. */
const iso = (column: SQL) => sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const epochMs = (column: SQL) => sql`(extract(epoch from ${column}) * 1000)::float8`;

/** Every project the database knows of: a stored name, walk state or run record (jobs come only with runs). */
export async function knownProjectIds(db: Db): Promise<string[]> {
  const rows = await queryRows<{ project_id: string }>(
    db,
    sql`SELECT project_id FROM sync_projects
      UNION SELECT project_id FROM sync_state
      UNION SELECT DISTINCT project_id FROM sync_run_projects
      ORDER BY 1`,
  );
  return rows.map((r) => r.project_id);
}

/** One sync_state row (a project's walk state with one API version), with its slices counted. */
export interface StoredWalkState {
  projectId: string;
  apiVersion: string;
  /** When `--api auto` last chose this version (null: it chose the other, or never ran). */
  detectedAt: string | null;
  /** A page token is saved (the value itself is never read out: tokens are opaque, maybe sensitive). */
  hasPageToken: boolean;
  walkKind: string | null;
  walkStartedAt: string | null;
  walkPages: number;
  lastCompleteWalkAt: string | null;
  /**
   * Whether the last complete walk was a full one: it recorded itself as the last full walk (a full walk
   * sets both start times alike), or it completed before walks recorded their start (all were full then).
   */
  lastCompleteWalkFull: boolean | null;
  lastFullWalkAt: string | null;
  lastFullWalkMs: number | null;
  lastCompleteWalkStartedMs: number | null;
  /** Slices of an unfinished sliced walk, and how many of them are not done. */
  slices: number;
  slicesLeft: number;
  updatedAt: string;
}

/** The last run of a project that was not skipped (a skip says another process ran it). */
export interface StoredLastRun {
  projectId: string;
  status: string;
  mode: string | null;
  apiVersion: string | null;
  startedAt: string;
  finishedAt: string | null;
  pages: number;
  error: string | null;
  warning: string | null;
}

export interface StoredProjectStatus {
  states: StoredWalkState[];
  lastRuns: Map<string, StoredLastRun>;
  openRejects: Map<string, number>;
  jobs: Map<string, { live: number; deleted: number }>;
}

/** What `status` shows of `projectIds`, straight from the tables (no view, so never stale). */
export async function loadProjectStatus(db: Db, projectIds: readonly string[]): Promise<StoredProjectStatus> {
  const ids = sql`${arrayLiteral([...new Set(projectIds)])}::text[]`;
  const [states, runs, rejects, jobs] = await Promise.all([
    queryRows<{
      project_id: string;
      api_version: string;
      detected_at: string | null;
      has_page_token: boolean;
      walk_kind: string | null;
      walk_started_at: string | null;
      walk_pages: number;
      last_complete_walk_at: string | null;
      last_complete_walk_full: boolean | null;
      last_full_walk_at: string | null;
      last_full_walk_ms: number | null;
      last_complete_walk_started_ms: number | null;
      slices: number;
      slices_left: number;
      updated_at: string;
    }>(
      db,
      sql`SELECT s.project_id, s.api_version, ${iso(sql`s.detected_at`)} AS detected_at, s.page_token IS NOT NULL AS has_page_token,
          s.walk_kind, ${iso(sql`s.walk_started_at`)} AS walk_started_at, s.walk_pages,
          ${iso(sql`s.last_complete_walk_at`)} AS last_complete_walk_at,
          CASE WHEN s.last_complete_walk_at IS NULL THEN NULL
            ELSE s.last_complete_walk_started_at IS NULL OR s.last_full_walk_at = s.last_complete_walk_started_at END AS last_complete_walk_full,
          ${iso(sql`s.last_full_walk_at`)} AS last_full_walk_at, ${epochMs(sql`s.last_full_walk_at`)} AS last_full_walk_ms,
          ${epochMs(sql`s.last_complete_walk_started_at`)} AS last_complete_walk_started_ms,
          coalesce(w.slices, 0)::int AS slices, coalesce(w.left, 0)::int AS slices_left, ${iso(sql`s.updated_at`)} AS updated_at
        FROM sync_state s
        LEFT JOIN LATERAL (SELECT count(*) AS slices, count(*) FILTER (WHERE NOT done) AS left FROM sync_walk_slices
          WHERE project_id = s.project_id AND api_version = s.api_version) w ON true
        WHERE s.project_id = ANY(${ids})
        ORDER BY s.project_id, s.api_version`,
    ),
    queryRows<{
      project_id: string;
      status: string;
      mode: string | null;
      api_version: string | null;
      started_at: string;
      finished_at: string | null;
      pages: number;
      error: string | null;
      warning: string | null;
    }>(
      db,
      sql`SELECT DISTINCT ON (project_id) project_id, status, mode, api_version, ${iso(sql`started_at`)} AS started_at,
          ${iso(sql`finished_at`)} AS finished_at, pages, error, warning
        FROM sync_run_projects WHERE project_id = ANY(${ids}) AND status <> 'skipped'
        ORDER BY project_id, started_at DESC`,
    ),
    queryRows<{ project_id: string; open: number }>(
      db,
      sql`SELECT project_id, count(*)::int AS open FROM sync_rejects
        WHERE project_id = ANY(${ids}) AND settled_at IS NULL GROUP BY project_id`,
    ),
    queryRows<{ project_id: string; live: number; deleted: number }>(
      db,
      sql`SELECT project_id, (count(*) FILTER (WHERE deleted_at IS NULL))::int AS live,
          (count(*) FILTER (WHERE deleted_at IS NOT NULL))::int AS deleted
        FROM classify_jobs WHERE project_id = ANY(${ids}) GROUP BY project_id`,
    ),
  ]);
  return {
    states: states.map((r) => ({
      projectId: r.project_id,
      apiVersion: r.api_version,
      detectedAt: r.detected_at,
      hasPageToken: r.has_page_token,
      walkKind: r.walk_kind,
      walkStartedAt: r.walk_started_at,
      walkPages: r.walk_pages,
      lastCompleteWalkAt: r.last_complete_walk_at,
      lastCompleteWalkFull: r.last_complete_walk_full,
      lastFullWalkAt: r.last_full_walk_at,
      lastFullWalkMs: r.last_full_walk_ms === null ? null : Number(r.last_full_walk_ms),
      lastCompleteWalkStartedMs: r.last_complete_walk_started_ms === null ? null : Number(r.last_complete_walk_started_ms),
      slices: r.slices,
      slicesLeft: r.slices_left,
      updatedAt: r.updated_at,
    })),
    lastRuns: new Map(
      runs.map((r) => [
        r.project_id,
        {
          projectId: r.project_id,
          status: r.status,
          mode: r.mode,
          apiVersion: r.api_version,
          startedAt: r.started_at,
          finishedAt: r.finished_at,
          pages: r.pages,
          error: r.error,
          warning: r.warning,
        },
      ]),
    ),
    openRejects: new Map(rejects.map((r) => [r.project_id, r.open])),
    jobs: new Map(jobs.map((r) => [r.project_id, { live: r.live, deleted: r.deleted }])),
  };
}

export interface ForgottenWalkState {
  /** sync_state rows removed (one per API version the project was synced or detected with). */
  versions: number;
  /** Saved page tokens among them and among the slices. */
  savedTokens: number;
  /** sync_walk_seen pages. */
  seenPages: number;
  /** sync_walk_slices rows. */
  slices: number;
}

export interface DeletedProjectData {
  /** classify_jobs rows (their rules and parsing settings go with them: ON DELETE CASCADE). */
  jobs: number;
  statusChanges: number;
  /** sync_run_projects rows (the runs themselves stay: they may cover other projects). */
  runRecords: number;
  rejects: number;
}

export interface ResetResult {
  forgotten: ForgottenWalkState;
  /** Undefined unless data was deleted too. */
  deleted: DeletedProjectData | undefined;
}

/**
 * Forgets a project's walk state (both API versions: tokens, the detected version, the last complete and
 * full walks the planner counts from, seen pages, slices), so its next sync is a full walk from the
 * first page; with `deleteData`, also its jobs and their children, its run records, rejects and stored
 * name. One transaction: all of it or nothing.
 */
export async function resetProject(db: Db, projectId: string, options: { deleteData: boolean }): Promise<ResetResult> {
  return db.transaction(async (tx) => {
    const [forgotten] = await queryRows<{ versions: number; saved_tokens: number; seen_pages: number; slices: number }>(
      tx,
      sql`WITH seen AS (DELETE FROM sync_walk_seen WHERE project_id = ${projectId} RETURNING 1),
          slices AS (DELETE FROM sync_walk_slices WHERE project_id = ${projectId} RETURNING page_token),
          state AS (DELETE FROM sync_state WHERE project_id = ${projectId} RETURNING page_token)
        SELECT (SELECT count(*) FROM state)::int AS versions,
          ((SELECT count(*) FROM state WHERE page_token IS NOT NULL)
            + (SELECT count(*) FROM slices WHERE page_token IS NOT NULL))::int AS saved_tokens,
          (SELECT count(*) FROM seen)::int AS seen_pages, (SELECT count(*) FROM slices)::int AS slices`,
    );
    let deleted: DeletedProjectData | undefined;
    if (options.deleteData) {
      const [row] = await queryRows<{ jobs: number; status_changes: number; run_records: number; rejects: number }>(
        tx,
        sql`WITH jobs AS (DELETE FROM classify_jobs WHERE project_id = ${projectId} RETURNING 1),
            changes AS (DELETE FROM classify_job_status_changes WHERE project_id = ${projectId} RETURNING 1),
            runs AS (DELETE FROM sync_run_projects WHERE project_id = ${projectId} RETURNING 1),
            rejects AS (DELETE FROM sync_rejects WHERE project_id = ${projectId} RETURNING 1),
            names AS (DELETE FROM sync_projects WHERE project_id = ${projectId} RETURNING 1)
          SELECT (SELECT count(*) FROM jobs)::int AS jobs, (SELECT count(*) FROM changes)::int AS status_changes,
            (SELECT count(*) FROM runs)::int AS run_records, (SELECT count(*) FROM rejects)::int AS rejects,
            (SELECT count(*) FROM names)::int AS names`,
      );
      deleted = {
        jobs: row?.jobs ?? 0,
        statusChanges: row?.status_changes ?? 0,
        runRecords: row?.run_records ?? 0,
        rejects: row?.rejects ?? 0,
      };
    }
    return {
      forgotten: {
        versions: forgotten?.versions ?? 0,
        savedTokens: forgotten?.saved_tokens ?? 0,
        seenPages: forgotten?.seen_pages ?? 0,
        slices: forgotten?.slices ?? 0,
      },
      deleted,
    };
  });
}
