// What is stored of a page's ids and of a project's walk in progress, read only: what a dry run
// (sync/dry-run.ts) compares the walk with. The statements that write are in pages.ts and walks.ts.
import { sql } from 'drizzle-orm';
import type { ApiVersion } from '../config.ts';
import { arrayLiteral, queryRows, type Db } from './connect.ts';
import { classifyJobs, syncWalkSeen } from './schema.ts';

export interface StoredJob {
  id: string;
  projectId: string;
  /** content_digest as hex (null on a row stored before digests existed). */
  digest: string | null;
  deleted: boolean;
}

/** The stored rows of these job ids (one primary key probe each), whichever project holds them. */
export async function storedJobs(db: Db, ids: readonly string[]): Promise<StoredJob[]> {
  if (ids.length === 0) return [];
  // Hex, not bytea: node-postgres hands back a Buffer, PGlite a Uint8Array.
  const rows = await queryRows<{ id: string; project_id: string; digest: string | null; deleted: boolean }>(
    db,
    sql`SELECT stored.id, stored.project_id, encode(stored.content_digest, 'hex') AS digest, stored.deleted_at IS NOT NULL AS deleted
      FROM unnest(${arrayLiteral(ids)}::text[]) AS incoming(id) JOIN ${classifyJobs} AS stored ON stored.id = incoming.id`,
  );
  return rows.map((r) => ({ id: r.id, projectId: r.project_id, digest: r.digest, deleted: Boolean(r.deleted) }));
}

/**
 * The project's live stored jobs that the pages of its walk in progress have already seen
 * (sync_walk_seen): what a resumed walk counts as seen before its first page.
 */
export async function seenLiveJobIds(db: Db, projectId: string, apiVersion: ApiVersion): Promise<string[]> {
  const rows = await queryRows<{ id: string }>(
    db,
    sql`SELECT DISTINCT seen.id FROM (SELECT unnest(job_ids) AS id FROM ${syncWalkSeen}
        WHERE project_id = ${projectId} AND api_version = ${apiVersion}) AS seen
      JOIN ${classifyJobs} AS stored ON stored.id = seen.id AND stored.project_id = ${projectId} AND stored.deleted_at IS NULL`,
  );
  return rows.map((r) => r.id);
}
