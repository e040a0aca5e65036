// Walk state: where a project's walk stands (its saved page token, kind and filter, its last complete
// and full walks), starting and completing a walk (deletes by absence), which API version `--api auto`
// chose, and which stored jobs an incremental walk must ask about by id. The pages themselves: pages.ts.
import { and, eq, ne, sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { ApiVersion } from '../config.ts';
import { queryRows, type Db } from './connect.ts';
import { classifyJobs, syncRejects, syncRunProjects, syncState, syncWalkSeen, syncWalkSlices } from './schema.ts';

export type WalkKind = 'full' | 'incremental';

export interface WalkState {
  pageToken: string | undefined;
  walkPages: number;
  lastCompleteWalkAt: string | undefined;
  /** Kind of the unfinished walk (null on rows written before walks had kinds: those were full). */
  walkKind: WalkKind | undefined;
  /** Filter of the unfinished walk, as stored (validated by the planner). */
  walkFilter: unknown;
  /** Epoch ms (read as numbers, so every driver agrees). */
  lastCompleteWalkStartedMs: number | undefined;
  lastFullWalkMs: number | undefined;
  lastFullWalkPages: number | undefined;
  /** The slices of an unfinished sliced walk, in order (empty: none in progress). */
  slices: SliceState[];
}

/** A creation-time range of a sliced walk: ISO bounds as sent (inclusive), undefined for an open end. */
export interface SliceRange {
  createdAtOnOrAfter: string | undefined;
  createdAtOnOrBefore: string | undefined;
  /** The pass over the whole list for the jobs without created_at. */
  unfiltered?: boolean | undefined;
}

export interface SliceState extends SliceRange {
  slice: number;
  unfiltered: boolean;
  pageToken: string | undefined;
  pages: number;
  done: boolean;
}

const epochMs = (column: PgColumn) => sql<number | null>`(extract(epoch from ${column}) * 1000)::float8`;

export async function loadWalkState(db: Db, projectId: string, apiVersion: ApiVersion): Promise<WalkState> {
  const [row] = await db
    .select({
      pageToken: syncState.pageToken,
      walkPages: syncState.walkPages,
      lastCompleteWalkAt: syncState.lastCompleteWalkAt,
      walkKind: syncState.walkKind,
      walkFilter: syncState.walkFilter,
      lastCompleteWalkStartedMs: epochMs(syncState.lastCompleteWalkStartedAt),
      lastFullWalkMs: epochMs(syncState.lastFullWalkAt),
      lastFullWalkPages: syncState.lastFullWalkPages,
    })
    .from(syncState)
    .where(and(eq(syncState.projectId, projectId), eq(syncState.apiVersion, apiVersion)));
  return {
    pageToken: row?.pageToken ?? undefined,
    walkPages: row?.walkPages ?? 0,
    lastCompleteWalkAt: row?.lastCompleteWalkAt ?? undefined,
    walkKind: row?.walkKind === 'incremental' ? 'incremental' : row?.walkKind === 'full' ? 'full' : undefined,
    walkFilter: row?.walkFilter ?? undefined,
    lastCompleteWalkStartedMs: row?.lastCompleteWalkStartedMs == null ? undefined : Number(row.lastCompleteWalkStartedMs),
    lastFullWalkMs: row?.lastFullWalkMs == null ? undefined : Number(row.lastFullWalkMs),
    lastFullWalkPages: row?.lastFullWalkPages ?? undefined,
    slices: await loadSlices(db, projectId, apiVersion),
  };
}

async function loadSlices(db: Db, projectId: string, apiVersion: ApiVersion): Promise<SliceState[]> {
  const rows = await db
    .select()
    .from(syncWalkSlices)
    .where(and(eq(syncWalkSlices.projectId, projectId), eq(syncWalkSlices.apiVersion, apiVersion)))
    .orderBy(syncWalkSlices.slice);
  return rows.map((r) => ({
    slice: r.slice,
    createdAtOnOrAfter: r.createdAtOnOrAfter ?? undefined,
    createdAtOnOrBefore: r.createdAtOnOrBefore ?? undefined,
    unfiltered: r.unfiltered,
    pageToken: r.pageToken ?? undefined,
    pages: r.pages,
    done: r.done,
  }));
}

/** Slices over `ranges`, numbered from `first`, not walked yet. */
export function newSlices(first: number, ranges: readonly SliceRange[]): SliceState[] {
  return ranges.map((r, i): SliceState => ({
    slice: first + i,
    createdAtOnOrAfter: r.createdAtOnOrAfter,
    createdAtOnOrBefore: r.createdAtOnOrBefore,
    unfiltered: r.unfiltered ?? false,
    pageToken: undefined,
    pages: 0,
    done: false,
  }));
}

/**
 * Adds slices to the walk begun by beginWalk, numbered from `first`; returns them. Idempotent (a retry
 * after an unacknowledged commit adds nothing).
 */
export async function addSlices(
  db: Db,
  projectId: string,
  apiVersion: ApiVersion,
  first: number,
  ranges: readonly SliceRange[],
): Promise<SliceState[]> {
  const slices = newSlices(first, ranges);
  if (slices.length === 0) return slices;
  await db
    .insert(syncWalkSlices)
    .values(
      slices.map((s) => ({
        projectId,
        apiVersion,
        slice: s.slice,
        createdAtOnOrAfter: s.createdAtOnOrAfter ?? null,
        createdAtOnOrBefore: s.createdAtOnOrBefore ?? null,
        unfiltered: s.unfiltered,
      })),
    )
    .onConflictDoNothing();
  return slices;
}

/** Starts one slice over from its first page (the API refused its saved token). */
export async function restartSlice(db: Db, projectId: string, apiVersion: ApiVersion, slice: number): Promise<void> {
  await db
    .update(syncWalkSlices)
    .set({ pageToken: null, pages: 0, done: false })
    .where(and(eq(syncWalkSlices.projectId, projectId), eq(syncWalkSlices.apiVersion, apiVersion), eq(syncWalkSlices.slice, slice)));
}

export interface WalkPlanRecord {
  kind: WalkKind;
  /** The list filter (incremental walks); kept so a saved page token resumes the same walk. */
  filter: unknown;
  /** ISO time the walk starts (the run's clock). */
  at: string;
}

/** Starts a walk from the first page: forgets any unfinished walk and what it had seen. */
export async function beginWalk(db: Db, projectId: string, apiVersion: ApiVersion, plan?: WalkPlanRecord): Promise<void> {
  const kind = plan?.kind ?? 'full';
  const filter = plan?.filter ?? null;
  const startedAt = plan?.at ?? sql`now()`;
  await db.transaction(async (tx) => {
    await tx.delete(syncWalkSeen).where(and(eq(syncWalkSeen.projectId, projectId), eq(syncWalkSeen.apiVersion, apiVersion)));
    await tx.delete(syncWalkSlices).where(and(eq(syncWalkSlices.projectId, projectId), eq(syncWalkSlices.apiVersion, apiVersion)));
    await tx
      .insert(syncState)
      .values({
        projectId,
        apiVersion,
        pageToken: null,
        walkPages: 0,
        walkStartedAt: startedAt as string,
        walkKind: kind,
        walkFilter: filter,
      })
      .onConflictDoUpdate({
        target: [syncState.projectId, syncState.apiVersion],
        set: { pageToken: null, walkPages: 0, walkStartedAt: startedAt, walkKind: kind, walkFilter: filter, updatedAt: sql`now()` },
      });
  });
}

export interface CompleteWalkInput {
  runId: string;
  projectId: string;
  apiVersion: ApiVersion;
  /** Mark absent jobs deleted (only a complete walk from the first page may). */
  detectDeletions: boolean;
  /** Skip deletions when the walk saw less than this share of the live rows... */
  minSeenShare: number;
  /** ...unless the operator said so. */
  allowMassDelete: boolean;
  /** A full walk also records itself as the last full walk (start time and page count). Default full. */
  kind?: WalkKind | undefined;
  /** ISO completion time (the run's clock); default now(). */
  at?: string | undefined;
}

export interface CompleteWalkResult {
  deleted: number;
  /** Why deletions were skipped, when they were. */
  warning: string | undefined;
}

/**
 * Why the deletions of a complete walk must not happen (it saw under `minSeenShare` of the project's
 * `live` stored jobs, `missing` of them not at all, and the operator did not allow it), or undefined.
 */
export function massDeleteGuard(counts: {
  live: number;
  missing: number;
  minSeenShare: number;
  allowMassDelete: boolean;
}): string | undefined {
  const { live, missing, minSeenShare } = counts;
  const seenShare = live === 0 ? 1 : (live - missing) / live;
  if (missing === 0 || seenShare >= minSeenShare || counts.allowMassDelete) return undefined;
  return (
    `the walk saw ${live - missing} of ${live} stored jobs (under ${Math.round(minSeenShare * 100)}%); ` +
    'if the project really lost them, run again with --allow-mass-delete'
  );
}

/** Ends a walk that reached its last page: deletes by absence (guarded), clears the token. */
export async function completeWalk(db: Db, input: CompleteWalkInput): Promise<CompleteWalkResult> {
  return db.transaction(async (tx) => {
    // Run again after its commit went through unacknowledged (a retry on a dropped connection), the walk's
    // seen ids are gone and every stored job would look unseen. A walk that reached its end has stored at
    // least one page (walk_pages >= 1) and completing resets walk_pages to 0: then there is nothing to do.
    const [state] = await tx
      .select({ walkPages: syncState.walkPages })
      .from(syncState)
      .where(and(eq(syncState.projectId, input.projectId), eq(syncState.apiVersion, input.apiVersion)))
      .for('update');
    if ((state?.walkPages ?? 0) === 0) return { deleted: 0, warning: undefined };
    let deleted = 0;
    let warning: string | undefined;
    if (input.detectDeletions) {
      // "Not seen" must stay linear in the project's size. `id NOT IN (subquery)` is hashed only while
      // the list fits in work_mem (~50 000 ids at the default 4 MB) and otherwise rescans it per stored
      // job; a NOT EXISTS anti-join is linear as a hash join but quadratic as a nested loop, which the
      // planner picks when its statistics still describe an empty table (a first backfill ends before
      // autovacuum analyzes it: 250 000 jobs then took minutes per project). Nested loops are never the
      // right plan here, so they are ruled out for this transaction.
      await tx.execute(sql`SET LOCAL enable_nestloop = off`);
      const unseen = sql`${classifyJobs.projectId} = ${input.projectId} AND ${classifyJobs.deletedAt} IS NULL
        AND NOT EXISTS (SELECT FROM (SELECT unnest(job_ids) AS id FROM ${syncWalkSeen}
          WHERE project_id = ${input.projectId} AND api_version = ${input.apiVersion}) AS seen WHERE seen.id = ${classifyJobs.id})`;
      const [counts] = await queryRows<{ live: number; missing: number }>(
        tx,
        sql`
        SELECT (SELECT count(*) FROM ${classifyJobs} WHERE ${classifyJobs.projectId} = ${input.projectId} AND ${classifyJobs.deletedAt} IS NULL)::int AS live,
          (SELECT count(*) FROM ${classifyJobs} WHERE ${unseen})::int AS missing`,
      );
      const live = counts?.live ?? 0;
      const missing = counts?.missing ?? 0;
      const guard = massDeleteGuard({ live, missing, minSeenShare: input.minSeenShare, allowMassDelete: input.allowMassDelete });
      if (guard !== undefined) {
        warning = `deletions skipped: ${guard}`;
      } else if (missing > 0) {
        // Counted in SQL: a mass deletion must not bring every deleted id into memory.
        const [row] = await queryRows<{ deleted: number }>(
          tx,
          sql`
          WITH marked AS (UPDATE ${classifyJobs} SET deleted_at = now(), last_run_id = ${input.runId}::uuid WHERE ${unseen} RETURNING 1)
          SELECT count(*)::int AS deleted FROM marked`,
        );
        deleted = row?.deleted ?? 0;
      }
      // A full walk settles the open rejects whose id it no longer saw: gone upstream, nothing to ask for.
      // (Seen ones were settled by their page: stored, or replaced by a new reject.)
      const [open] =
        warning === undefined
          ? await queryRows<{ any: boolean }>(
              tx,
              sql`SELECT EXISTS (SELECT FROM ${syncRejects} WHERE project_id = ${input.projectId} AND settled_at IS NULL) AS any`,
            )
          : [];
      if (open?.any) {
        await tx.execute(sql`
          UPDATE ${syncRejects} AS r SET settled_at = now()
          WHERE r.project_id = ${input.projectId} AND r.settled_at IS NULL
            AND NOT EXISTS (SELECT FROM (SELECT unnest(job_ids) AS id FROM ${syncWalkSeen}
              WHERE project_id = ${input.projectId} AND api_version = ${input.apiVersion}) AS seen WHERE seen.id = r.job_id)`);
      }
    }
    await tx.delete(syncWalkSeen).where(and(eq(syncWalkSeen.projectId, input.projectId), eq(syncWalkSeen.apiVersion, input.apiVersion)));
    await tx
      .delete(syncWalkSlices)
      .where(and(eq(syncWalkSlices.projectId, input.projectId), eq(syncWalkSlices.apiVersion, input.apiVersion)));
    const full = (input.kind ?? 'full') === 'full';
    await tx
      .update(syncState)
      .set({
        pageToken: null,
        walkPages: 0,
        lastCompleteWalkAt: input.at ?? sql`now()`,
        updatedAt: sql`now()`,
        walkFilter: null,
        lastCompleteWalkStartedAt: sql`${syncState.walkStartedAt}`,
        ...(full && { lastFullWalkAt: sql`${syncState.walkStartedAt}`, lastFullWalkPages: sql`${syncState.walkPages}` }),
      })
      .where(and(eq(syncState.projectId, input.projectId), eq(syncState.apiVersion, input.apiVersion)));
    await tx
      .update(syncRunProjects)
      .set({ jobsDeleted: sql`${syncRunProjects.jobsDeleted} + ${deleted}`, ...(warning && { warning }) })
      .where(and(eq(syncRunProjects.runId, input.runId), eq(syncRunProjects.projectId, input.projectId)));
    return { deleted, warning };
  });
}

/**
 * Records `version` as the one `--api auto` chose for the project (its sync_state row gets
 * detected_at, the other version's row loses it). Returns the version chosen before, if any.
 */
export async function rememberDetectedVersion(db: Db, projectId: string, version: ApiVersion, at: string): Promise<ApiVersion | undefined> {
  return db.transaction(async (tx) => {
    const previous = await detectedVersion(tx, projectId);
    await tx
      .update(syncState)
      .set({ detectedAt: null, updatedAt: sql`now()` })
      .where(and(eq(syncState.projectId, projectId), ne(syncState.apiVersion, version), sql`${syncState.detectedAt} IS NOT NULL`));
    await tx
      .insert(syncState)
      .values({ projectId, apiVersion: version, detectedAt: at })
      .onConflictDoUpdate({ target: [syncState.projectId, syncState.apiVersion], set: { detectedAt: at, updatedAt: sql`now()` } });
    return previous;
  });
}

/** The version `--api auto` chose for the project last, if it ever did. */
export async function detectedVersion(db: Db, projectId: string): Promise<ApiVersion | undefined> {
  const [before] = await db
    .select({ apiVersion: syncState.apiVersion })
    .from(syncState)
    .where(and(eq(syncState.projectId, projectId), sql`${syncState.detectedAt} IS NOT NULL`))
    .orderBy(sql`${syncState.detectedAt} DESC`)
    .limit(1);
  const previous = before?.apiVersion;
  return previous === 'v1' || previous === 'v2' ? previous : undefined;
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
  const rows = await queryRows<{ id: string }>(
    db,
    sql`
    SELECT id FROM classify_jobs
    WHERE project_id = ${projectId} AND deleted_at IS NULL AND outcome IN ('in_progress', 'unknown')
      AND (created_at IS NULL OR created_at < ${createdBefore}::timestamptz)
    UNION
    SELECT r.job_id FROM sync_rejects r
    WHERE r.project_id = ${projectId} AND r.settled_at IS NULL AND r.job_id IS NOT NULL
      AND r.run_id IS DISTINCT FROM ${runId}::uuid
      AND NOT EXISTS (SELECT FROM classify_jobs j WHERE j.id = r.job_id AND j.project_id <> ${projectId})
    ORDER BY 1`,
  );
  return rows.map((r) => r.id);
}

/** The project's live stored jobs, and how many of them have no created_at (what a sliced walk cannot see). */
export async function storedCreatedAt(db: Db, projectId: string): Promise<{ count: number; withoutCreatedAt: number }> {
  const [row] = await queryRows<{ count: number; without: number }>(
    db,
    sql`SELECT count(*)::int AS count, (count(*) FILTER (WHERE created_at IS NULL))::int AS without
      FROM ${classifyJobs} WHERE project_id = ${projectId} AND deleted_at IS NULL`,
  );
  return { count: row?.count ?? 0, withoutCreatedAt: row?.without ?? 0 };
}

/** created_at quantiles of the project's live stored jobs at `fractions` (ISO, millisecond precision). */
export async function createdAtQuantiles(db: Db, projectId: string, fractions: readonly number[]): Promise<string[]> {
  if (fractions.length === 0) return [];
  // One row per quantile: plain text values, which every driver hands back alike (null: no dated job).
  const rows = await queryRows<{ q: string | null }>(
    db,
    sql`SELECT to_char(q AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS q
      FROM (SELECT percentile_disc(${`{${fractions.join(',')}}`}::float8[]) WITHIN GROUP (ORDER BY created_at) AS qs
        FROM ${classifyJobs} WHERE project_id = ${projectId} AND deleted_at IS NULL AND created_at IS NOT NULL) AS p,
      unnest(p.qs) AS q`,
  );
  return rows.flatMap((r) => (r.q === null ? [] : [r.q]));
}
