// All writes of a sync. The page transaction is the unit of progress: a page's jobs, their rules and
// parsing settings, its rejects, the walk's seen ids, the run counters and the next page token commit
// together or not at all, so a crash at any moment resumes cleanly from the saved token.
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { ApiVersion } from '../config.ts';
import type { NormalizedJob, Reject } from '../normalize.ts';
import { queryRows, type Db } from './connect.ts';
import {
  classifyJobParsingSettings, classifyJobRules, classifyJobStatusChanges, classifyJobs,
  syncRejects, syncRunProjects, syncRuns, syncState, syncWalkSeen,
} from './schema.ts';

/** Postgres takes at most 65 535 parameters per statement; stay well under it. */
const MAX_PARAMS = 30_000;

function chunks<T>(rows: readonly T[], columns: number): T[][] {
  const size = Math.max(1, Math.floor(MAX_PARAMS / columns));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

const excluded = (column: PgColumn): SQL => sql.raw(`excluded."${column.name}"`);

/** Columns an upsert overwrites; `firstSeenAt` is kept from the first sighting. */
const UPSERT_COLUMNS = [
  classifyJobs.projectId, classifyJobs.organizationId, classifyJobs.apiVersion, classifyJobs.status,
  classifyJobs.outcome, classifyJobs.mode, classifyJobs.userId, classifyJobs.errorMessage, classifyJobs.jobRecordId,
  classifyJobs.createdAt, classifyJobs.effectiveAt, classifyJobs.updatedAt, classifyJobs.fileInput,
  classifyJobs.documentInputType, classifyJobs.configurationId, classifyJobs.parseJobId, classifyJobs.transactionId,
  classifyJobs.resultType, classifyJobs.resultConfidence, classifyJobs.resultReasoning, classifyJobs.raw,
  classifyJobs.lastRunId, classifyJobs.syncedAt, classifyJobs.deletedAt,
] as const;

const UPSERT_SET = Object.fromEntries(
  Object.entries(classifyJobs).filter(([, col]) => (UPSERT_COLUMNS as readonly unknown[]).includes(col))
    .map(([key, col]) => [key, excluded(col as PgColumn)]),
);

/**
 * A row is rewritten only when what it holds would change: the item as received or what we derive
 * from it, or when it comes back from the deleted. An unchanged item writes no row version.
 */
const CHANGED = sql`(${sql.join([classifyJobs.raw, classifyJobs.outcome, classifyJobs.apiVersion, classifyJobs.organizationId].map((c) => sql`${c}`), sql`, `)})
  IS DISTINCT FROM (${sql.join([classifyJobs.raw, classifyJobs.outcome, classifyJobs.apiVersion, classifyJobs.organizationId].map(excluded), sql`, `)})
  OR ${classifyJobs.deletedAt} IS NOT NULL`;

export interface PageCounts {
  jobsSeen: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejects: number;
}

export interface StorePageInput {
  runId: string;
  projectId: string;
  apiVersion: ApiVersion;
  pageNumber: number;
  jobs: readonly NormalizedJob[];
  rejects: readonly Reject[];
  /** Token of the page after this one; undefined when this is the last page. */
  nextPageToken: string | undefined;
  retries: number;
  totalSize: number | undefined;
  /** Record the page's ids for deletion detection (complete walks only). */
  trackSeen: boolean;
}

/** Stores one page in one transaction. Jobs must be unique by id (normalizePage does that). */
export async function storePage(db: Db, input: StorePageInput): Promise<PageCounts> {
  return db.transaction(async (tx) => {
    const ids = input.jobs.map((j) => j.job.id);
    const previous = new Map<string, string>();
    for (const part of chunks(ids, 1)) {
      const rows = await tx.select({ id: classifyJobs.id, status: classifyJobs.status })
        .from(classifyJobs).where(inArray(classifyJobs.id, part));
      for (const row of rows) previous.set(row.id, row.status);
    }

    const written: { id: string; inserted: boolean }[] = [];
    const jobRows = input.jobs.map((j) => ({ ...j.job, lastRunId: input.runId, syncedAt: sql`now()` as unknown as string, deletedAt: null }));
    for (const part of chunks(jobRows, UPSERT_COLUMNS.length + 2)) {
      written.push(...await tx.insert(classifyJobs).values(part)
        .onConflictDoUpdate({ target: classifyJobs.id, set: UPSERT_SET, setWhere: CHANGED })
        .returning({ id: classifyJobs.id, inserted: sql<boolean>`(xmax = 0)` }));
    }

    const changedIds = new Set(written.map((w) => w.id));
    const updatedIds = written.filter((w) => !w.inserted).map((w) => w.id);
    if (updatedIds.length > 0) {
      for (const part of chunks(updatedIds, 1)) {
        await tx.delete(classifyJobRules).where(inArray(classifyJobRules.jobId, part));
        await tx.delete(classifyJobParsingSettings).where(inArray(classifyJobParsingSettings.jobId, part));
      }
    }
    const changed = input.jobs.filter((j) => changedIds.has(j.job.id));
    const rules = changed.flatMap((j) => j.rules);
    for (const part of chunks(rules, 4)) await tx.insert(classifyJobRules).values(part);
    const parsing = changed.flatMap((j) => (j.parsing ? [j.parsing] : []));
    for (const part of chunks(parsing, 5)) await tx.insert(classifyJobParsingSettings).values(part);

    const statusChanges = changed
      .filter((j) => previous.get(j.job.id) !== j.job.status)
      .map((j) => ({
        jobId: j.job.id, projectId: j.job.projectId, fromStatus: previous.get(j.job.id) ?? null,
        toStatus: j.job.status, runId: input.runId,
      }));
    for (const part of chunks(statusChanges, 5)) await tx.insert(classifyJobStatusChanges).values(part);

    if (input.rejects.length > 0) {
      const rows = input.rejects.map((r) => ({
        runId: input.runId, projectId: input.projectId, apiVersion: input.apiVersion, reason: r.reason, payload: r.payload,
      }));
      for (const part of chunks(rows, 5)) await tx.insert(syncRejects).values(part);
    }

    // Rejected items that carry an id are still listed upstream: they count as seen.
    const seenIds = [...ids, ...input.rejects.flatMap((r) => (r.id === undefined ? [] : [r.id]))];
    if (input.trackSeen && seenIds.length > 0) {
      await tx.insert(syncWalkSeen)
        .values({ projectId: input.projectId, apiVersion: input.apiVersion, pageNumber: input.pageNumber, jobIds: seenIds })
        .onConflictDoUpdate({
          target: [syncWalkSeen.projectId, syncWalkSeen.apiVersion, syncWalkSeen.pageNumber],
          set: { jobIds: seenIds },
        });
    }

    await tx.update(syncState).set({
      pageToken: input.nextPageToken ?? null,
      walkPages: input.pageNumber,
      updatedAt: sql`now()`,
    }).where(and(eq(syncState.projectId, input.projectId), eq(syncState.apiVersion, input.apiVersion)));

    const inserted = written.filter((w) => w.inserted).length;
    const counts: PageCounts = {
      jobsSeen: input.jobs.length,
      inserted,
      updated: written.length - inserted,
      unchanged: input.jobs.length - written.length,
      rejects: input.rejects.length,
    };
    await tx.update(syncRunProjects).set({
      pages: sql`${syncRunProjects.pages} + 1`,
      jobsSeen: sql`${syncRunProjects.jobsSeen} + ${counts.jobsSeen}`,
      jobsInserted: sql`${syncRunProjects.jobsInserted} + ${counts.inserted}`,
      jobsUpdated: sql`${syncRunProjects.jobsUpdated} + ${counts.updated}`,
      jobsUnchanged: sql`${syncRunProjects.jobsUnchanged} + ${counts.unchanged}`,
      rejects: sql`${syncRunProjects.rejects} + ${counts.rejects}`,
      retries: sql`${syncRunProjects.retries} + ${input.retries}`,
      ...(input.totalSize !== undefined && { totalSize: input.totalSize }),
    }).where(and(eq(syncRunProjects.runId, input.runId), eq(syncRunProjects.projectId, input.projectId)));
    return counts;
  });
}

export interface WalkState {
  pageToken: string | undefined;
  walkPages: number;
  lastCompleteWalkAt: string | undefined;
}

export async function loadWalkState(db: Db, projectId: string, apiVersion: ApiVersion): Promise<WalkState> {
  const [row] = await db.select().from(syncState)
    .where(and(eq(syncState.projectId, projectId), eq(syncState.apiVersion, apiVersion)));
  return {
    pageToken: row?.pageToken ?? undefined,
    walkPages: row?.walkPages ?? 0,
    lastCompleteWalkAt: row?.lastCompleteWalkAt ?? undefined,
  };
}

/** Starts a walk from the first page: forgets any unfinished walk and what it had seen. */
export async function beginWalk(db: Db, projectId: string, apiVersion: ApiVersion): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(syncWalkSeen).where(and(eq(syncWalkSeen.projectId, projectId), eq(syncWalkSeen.apiVersion, apiVersion)));
    await tx.insert(syncState)
      .values({ projectId, apiVersion, pageToken: null, walkPages: 0, walkStartedAt: sql`now()` as unknown as string })
      .onConflictDoUpdate({
        target: [syncState.projectId, syncState.apiVersion],
        set: { pageToken: null, walkPages: 0, walkStartedAt: sql`now()`, updatedAt: sql`now()` },
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
}

export interface CompleteWalkResult {
  deleted: number;
  /** Why deletions were skipped, when they were. */
  warning: string | undefined;
}

/** Ends a walk that reached its last page: deletes by absence (guarded), clears the token. */
export async function completeWalk(db: Db, input: CompleteWalkInput): Promise<CompleteWalkResult> {
  return db.transaction(async (tx) => {
    // Run again after its commit went through unacknowledged (a retry on a dropped connection), the walk's
    // seen ids are gone and every stored job would look unseen. A walk that reached its end has stored at
    // least one page (walk_pages >= 1) and completing resets walk_pages to 0: then there is nothing to do.
    const [state] = await tx.select({ walkPages: syncState.walkPages }).from(syncState)
      .where(and(eq(syncState.projectId, input.projectId), eq(syncState.apiVersion, input.apiVersion))).for('update');
    if ((state?.walkPages ?? 0) === 0) return { deleted: 0, warning: undefined };
    let deleted = 0;
    let warning: string | undefined;
    if (input.detectDeletions) {
      const seen = sql`(SELECT unnest(${syncWalkSeen.jobIds}) FROM ${syncWalkSeen}
        WHERE ${syncWalkSeen.projectId} = ${input.projectId} AND ${syncWalkSeen.apiVersion} = ${input.apiVersion})`;
      const [counts] = await queryRows<{ live: number; missing: number }>(tx, sql`
        SELECT count(*)::int AS live, count(*) FILTER (WHERE ${classifyJobs.id} NOT IN ${seen})::int AS missing
        FROM ${classifyJobs} WHERE ${classifyJobs.projectId} = ${input.projectId} AND ${classifyJobs.deletedAt} IS NULL`);
      const live = counts?.live ?? 0;
      const missing = counts?.missing ?? 0;
      const seenShare = live === 0 ? 1 : (live - missing) / live;
      if (missing > 0 && seenShare < input.minSeenShare && !input.allowMassDelete) {
        warning = `deletions skipped: the walk saw ${live - missing} of ${live} stored jobs (under ${Math.round(input.minSeenShare * 100)}%); `
          + 'if the project really lost them, run again with --allow-mass-delete';
      } else if (missing > 0) {
        const rows = await tx.update(classifyJobs)
          .set({ deletedAt: sql`now()`, lastRunId: input.runId })
          .where(and(eq(classifyJobs.projectId, input.projectId), sql`${classifyJobs.deletedAt} IS NULL`, sql`${classifyJobs.id} NOT IN ${seen}`))
          .returning({ id: classifyJobs.id });
        deleted = rows.length;
      }
    }
    await tx.delete(syncWalkSeen).where(and(eq(syncWalkSeen.projectId, input.projectId), eq(syncWalkSeen.apiVersion, input.apiVersion)));
    await tx.update(syncState)
      .set({ pageToken: null, walkPages: 0, lastCompleteWalkAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(syncState.projectId, input.projectId), eq(syncState.apiVersion, input.apiVersion)));
    await tx.update(syncRunProjects)
      .set({ jobsDeleted: sql`${syncRunProjects.jobsDeleted} + ${deleted}`, ...(warning && { warning }) })
      .where(and(eq(syncRunProjects.runId, input.runId), eq(syncRunProjects.projectId, input.projectId)));
    return { deleted, warning };
  });
}

// ---- run bookkeeping ----

export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled' | 'abandoned';
export type ProjectStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export async function startRun(db: Db, run: { id: string; trigger: string; projects: number; host: string; pid: number }): Promise<void> {
  await db.insert(syncRuns).values({ ...run, status: 'running' });
}

/** Closes a run, its totals summed from its projects. */
export async function finishRun(db: Db, runId: string, status: RunStatus, error?: string): Promise<void> {
  const p = syncRunProjects;
  await db.execute(sql`
    UPDATE ${syncRuns} SET status = ${status}, finished_at = now(), error = ${error ?? null},
      projects_failed = t.failed, pages = t.pages, jobs_seen = t.seen, jobs_inserted = t.ins, jobs_updated = t.upd,
      jobs_unchanged = t.unch, jobs_deleted = t.del, rejects = t.rej, retries = t.ret
    FROM (SELECT count(*) FILTER (WHERE ${p.status} = 'failed')::int AS failed,
            coalesce(sum(${p.pages}), 0)::int AS pages, coalesce(sum(${p.jobsSeen}), 0)::int AS seen,
            coalesce(sum(${p.jobsInserted}), 0)::int AS ins, coalesce(sum(${p.jobsUpdated}), 0)::int AS upd,
            coalesce(sum(${p.jobsUnchanged}), 0)::int AS unch, coalesce(sum(${p.jobsDeleted}), 0)::int AS del,
            coalesce(sum(${p.rejects}), 0)::int AS rej, coalesce(sum(${p.retries}), 0)::int AS ret
          FROM ${p} WHERE ${p.runId} = ${runId}) AS t
    WHERE ${syncRuns.id} = ${runId}`);
}

export async function startProject(db: Db, row: { runId: string; projectId: string; apiVersion: ApiVersion | null; mode: string | null; status?: ProjectStatus }): Promise<void> {
  await db.insert(syncRunProjects).values({ ...row, status: row.status ?? 'running' })
    .onConflictDoNothing();
}

export async function finishProject(
  db: Db,
  runId: string,
  projectId: string,
  result: { status: ProjectStatus; error?: string | undefined; retries?: number | undefined },
): Promise<void> {
  await db.update(syncRunProjects).set({
    status: result.status,
    finishedAt: sql`now()`,
    error: result.error ?? null,
    ...(result.retries ? { retries: sql`${syncRunProjects.retries} + ${result.retries}` } : {}),
  }).where(and(eq(syncRunProjects.runId, runId), eq(syncRunProjects.projectId, projectId)));
}
