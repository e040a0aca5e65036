// The SQL of walk planning that store.ts does not already hold: which API version `--api auto`
// chose for a project, and which stored jobs an incremental walk must ask about by id.
import { and, eq, ne, sql } from 'drizzle-orm';
import type { ApiVersion } from '../config.ts';
import { queryRows, type Db } from './connect.ts';
import { syncState } from './schema.ts';

/**
 * Records `version` as the one `--api auto` chose for the project (its sync_state row gets
 * detected_at, the other version's row loses it). Returns the version chosen before, if any.
 */
export async function rememberDetectedVersion(db: Db, projectId: string, version: ApiVersion, at: string): Promise<ApiVersion | undefined> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select({ apiVersion: syncState.apiVersion }).from(syncState)
      .where(and(eq(syncState.projectId, projectId), sql`${syncState.detectedAt} IS NOT NULL`))
      .orderBy(sql`${syncState.detectedAt} DESC`).limit(1);
    await tx.update(syncState).set({ detectedAt: null, updatedAt: sql`now()` })
      .where(and(eq(syncState.projectId, projectId), ne(syncState.apiVersion, version), sql`${syncState.detectedAt} IS NOT NULL`));
    await tx.insert(syncState).values({ projectId, apiVersion: version, detectedAt: at })
      .onConflictDoUpdate({ target: [syncState.projectId, syncState.apiVersion], set: { detectedAt: at, updatedAt: sql`now()` } });
    const previous = before?.apiVersion;
    return previous === 'v1' || previous === 'v2' ? previous : undefined;
  });
}

/**
 * The jobs an incremental walk of jobs created on or after `createdBefore` must ask about by id,
 * ordered so batches are stable:
 * - stored, undeleted jobs of the project whose status may still move and that the walk does not
 *   cover: outcome in_progress, or unknown (a status this version does not know may well be a new
 *   in-flight state). A job without created_at is never covered by a creation-time filter, so it is
 *   always included;
 * - the ids of the project's open rejects (sync_rejects.settled_at IS NULL): an item served malformed
 *   once is stored as soon as the API serves it well-formed, not only by the next full walk. Not the
 *   ids stored under another project (those are quarantined again whatever the API says), nor the
 *   ones this run quarantined (its walk has just asked for them).
 */
export async function jobIdsToRefresh(db: Db, projectId: string, createdBefore: string, runId: string): Promise<string[]> {
  const rows = await queryRows<{ id: string }>(db, sql`
    SELECT id FROM classify_jobs
    WHERE project_id = ${projectId} AND deleted_at IS NULL AND outcome IN ('in_progress', 'unknown')
      AND (created_at IS NULL OR created_at < ${createdBefore}::timestamptz)
    UNION
    SELECT r.job_id FROM sync_rejects r
    WHERE r.project_id = ${projectId} AND r.settled_at IS NULL AND r.job_id IS NOT NULL
      AND r.run_id IS DISTINCT FROM ${runId}::uuid
      AND NOT EXISTS (SELECT FROM classify_jobs j WHERE j.id = r.job_id AND j.project_id <> ${projectId})
    ORDER BY 1`);
  return rows.map((r) => r.id);
}
