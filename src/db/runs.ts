// Run records and what a run does around its projects' walks: starting and finishing runs and their
// projects (sync_runs, sync_run_projects), who may sync what (advisory-lock keys, abandoned runs,
// skips), whether data is fresh (the worker's catch-up and /healthz), and the view refresh that ends a run.
//
// How a dead run is told from a live one: every run holds a session-level advisory lock on its own
// key for its whole life, on a dedicated connection (runSync → Database.tryWithLock). Postgres frees
// a session's advisory locks when the session ends, and a session ends when its process dies
// (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS). So a run still
// marked `running` whose lock another session can take has lost its process: no clock, heartbeat or
// threshold involved, and it holds across hosts because the lock lives in the shared database.
import { and, desc, eq, gte, inArray, ne, sql } from 'drizzle-orm';
import type { ApiVersion } from '../config.ts';
import { queryRows, type Database, type Db } from './connect.ts';
import { sqlState } from './errors.ts';
import { syncRunProjects, syncRuns } from './schema.ts';
import { MATERIALIZED_VIEWS } from './views.ts';

/** `skipped`: every project was skipped (another process held its lock or had already synced it). */
export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled' | 'abandoned' | 'skipped';
export type ProjectStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'skipped' | 'abandoned';

export async function startRun(db: Db, run: { id: string; trigger: string; projects: number; host: string; pid: number }): Promise<void> {
  await db.insert(syncRuns).values({ ...run, status: 'running' });
}

/** Closes a run, its totals summed from its projects. */
export async function finishRun(db: Db, runId: string, status: RunStatus, error?: string, warning?: string): Promise<void> {
  const p = syncRunProjects;
  await db.execute(sql`
    UPDATE ${syncRuns} SET status = ${status}, finished_at = now(), error = ${error ?? null}, warning = ${warning ?? null},
      projects_failed = t.failed, pages = t.pages, jobs_seen = t.seen, jobs_inserted = t.ins, jobs_updated = t.upd,
      jobs_unchanged = t.unch, jobs_deleted = t.del, rejects = t.rej, retries = t.ret, requests = t.req, rate_limited = t.limited
    FROM (SELECT count(*) FILTER (WHERE ${p.status} = 'failed')::int AS failed,
            coalesce(sum(${p.pages}), 0)::int AS pages, coalesce(sum(${p.jobsSeen}), 0)::int AS seen,
            coalesce(sum(${p.jobsInserted}), 0)::int AS ins, coalesce(sum(${p.jobsUpdated}), 0)::int AS upd,
            coalesce(sum(${p.jobsUnchanged}), 0)::int AS unch, coalesce(sum(${p.jobsDeleted}), 0)::int AS del,
            coalesce(sum(${p.rejects}), 0)::int AS rej, coalesce(sum(${p.retries}), 0)::int AS ret,
            coalesce(sum(${p.requests}), 0)::int AS req, coalesce(sum(${p.rateLimited}), 0)::int AS limited
          FROM ${p} WHERE ${p.runId} = ${runId}) AS t
    WHERE ${syncRuns.id} = ${runId}`);
}

export interface ProjectTraffic {
  requests: number;
  rateLimited: number;
  requestsPerSecond: number | undefined;
  slices: number | undefined;
}

export async function startProject(
  db: Db,
  row: { runId: string; projectId: string; apiVersion: ApiVersion | null; mode: string | null; status?: ProjectStatus },
): Promise<void> {
  await db
    .insert(syncRunProjects)
    .values({ ...row, status: row.status ?? 'running' })
    .onConflictDoNothing();
}

export async function finishProject(
  db: Db,
  runId: string,
  projectId: string,
  result: {
    status: ProjectStatus;
    error?: string | undefined;
    retries?: number | undefined;
    pagesSaved?: number | undefined;
    /** What the walk asked of the API (requests, 429s, the rate reached, its slices). */
    traffic?: ProjectTraffic | undefined;
  },
): Promise<void> {
  await db
    .update(syncRunProjects)
    .set({
      status: result.status,
      finishedAt: sql`now()`,
      error: result.error ?? null,
      ...(result.retries ? { retries: sql`${syncRunProjects.retries} + ${result.retries}` } : {}),
      ...(result.pagesSaved !== undefined && { pagesSaved: result.pagesSaved }),
      ...(result.traffic && {
        requests: result.traffic.requests,
        rateLimited: result.traffic.rateLimited,
        requestsPerSecond: result.traffic.requestsPerSecond ?? null,
        slices: result.traffic.slices ?? null,
      }),
    })
    .where(and(eq(syncRunProjects.runId, runId), eq(syncRunProjects.projectId, projectId)));
}

/** The advisory-lock key a live run holds (Database.tryWithLock hashes it with hashtext). */
export const runLockKey = (runId: string): string => `classify-sync:run:${runId}`;

/** The advisory-lock key held while a project is synced, by any command of any process. */
export const projectLockKey = (projectId: string): string => `classify-sync:project:${projectId}`;

export interface AbandonedRun {
  id: string;
  host: string | null;
  pid: number | null;
  startedAt: string;
}

/**
 * Marks `abandoned` every run still `running` whose process is gone (see the top of this file), and
 * its unfinished projects with it. Their walks resume from the saved page tokens on the next sync.
 */
export async function abandonDeadRuns(database: Database, exceptRunId: string): Promise<AbandonedRun[]> {
  const running = await database.db
    .select({ id: syncRuns.id, host: syncRuns.host, pid: syncRuns.pid, startedAt: syncRuns.startedAt })
    .from(syncRuns)
    .where(and(eq(syncRuns.status, 'running'), ne(syncRuns.id, exceptRunId)));
  const abandoned: AbandonedRun[] = [];
  for (const run of running) {
    const probe = await database.tryWithLock(runLockKey(run.id), () => markAbandoned(database.db, run));
    if (probe.acquired && probe.value) abandoned.push(run);
  }
  return abandoned;
}

async function markAbandoned(db: Db, run: AbandonedRun): Promise<boolean> {
  const error =
    `abandoned: its process (${run.host ?? 'unknown host'}, pid ${run.pid ?? '?'}) stopped without finishing the run; ` +
    'the next sync resumes its walks from their saved page tokens';
  return db.transaction(async (tx) => {
    // Only one process marks a run, however many find it dead at once.
    const claimed = await tx
      .update(syncRuns)
      .set({ status: 'abandoned' })
      .where(and(eq(syncRuns.id, run.id), eq(syncRuns.status, 'running')))
      .returning({ id: syncRuns.id });
    if (claimed.length === 0) return false;
    await tx
      .update(syncRunProjects)
      .set({ status: 'abandoned', finishedAt: sql`now()`, error })
      .where(and(eq(syncRunProjects.runId, run.id), eq(syncRunProjects.status, 'running')));
    await finishRun(tx, run.id, 'abandoned', error);
    return true;
  });
}

/** Records that this run left a project alone, and why. */
export async function skipProject(db: Db, row: { runId: string; projectId: string; reason: string }): Promise<void> {
  await db
    .insert(syncRunProjects)
    .values({
      runId: row.runId,
      projectId: row.projectId,
      status: 'skipped',
      finishedAt: sql`now()`,
      warning: row.reason,
    })
    .onConflictDoNothing();
}

/** The projects among `projectIds` that some run synced successfully in a sync started at or after `since`. */
export async function projectsSyncedSince(db: Db, projectIds: readonly string[], since: Date): Promise<Set<string>> {
  if (projectIds.length === 0) return new Set();
  const rows = await db
    .selectDistinct({ projectId: syncRunProjects.projectId })
    .from(syncRunProjects)
    .where(
      and(
        inArray(syncRunProjects.projectId, [...projectIds]),
        eq(syncRunProjects.status, 'succeeded'),
        gte(syncRunProjects.startedAt, since.toISOString()),
      ),
    );
  return new Set(rows.map((r) => r.projectId));
}

export interface ProjectFreshness {
  projectId: string;
  /** When its last successful sync finished (any process), or null if it never succeeded. */
  lastSuccessAt: Date | null;
  /** The status of its latest sync that was not skipped (running, succeeded, failed, cancelled, abandoned). */
  lastStatus: string | null;
}

/** Freshness of each project, in the order given (one entry each, synced or not). */
export async function projectFreshness(db: Db, projectIds: readonly string[]): Promise<ProjectFreshness[]> {
  if (projectIds.length === 0) return [];
  const ids = [...projectIds];
  const p = syncRunProjects;
  const [successes, latest] = await Promise.all([
    db
      .select({ projectId: p.projectId, at: sql<number>`extract(epoch FROM max(${p.finishedAt}))::float8` })
      .from(p)
      .where(and(inArray(p.projectId, ids), eq(p.status, 'succeeded')))
      .groupBy(p.projectId),
    db
      .selectDistinctOn([p.projectId], { projectId: p.projectId, status: p.status })
      .from(p)
      .where(and(inArray(p.projectId, ids), ne(p.status, 'skipped')))
      .orderBy(p.projectId, desc(p.startedAt)),
  ]);
  const lastSuccess = new Map(successes.map((r) => [r.projectId, Number(r.at)]));
  const lastStatus = new Map(latest.map((r) => [r.projectId, r.status]));
  return ids.map((projectId) => {
    const at = lastSuccess.get(projectId);
    return {
      projectId,
      lastSuccessAt: at === undefined || Number.isNaN(at) ? null : new Date(Math.round(at * 1000)),
      lastStatus: lastStatus.get(projectId) ?? null,
    };
  });
}

// ---- the view refresh that ends a run ----

export interface RefreshOptions {
  /** Driver of `db`: only a Postgres server can be asked, from another connection, to cancel a statement. */
  kind: 'postgres' | 'pglite';
  /**
   * Budget of the whole refresh; each view's statement gets what is left of it as its statement_timeout,
   * time spent waiting for a lock included. PGlite ignores statement_timeout: there the budget is only
   * checked between views.
   */
  timeoutMs: number;
  /** Aborting cancels the statement running (on Postgres; PGlite finishes it) and skips the views left. */
  signal?: AbortSignal | undefined;
}

/** How a refresh ended; other errors are thrown. */
export type RefreshOutcome = 'refreshed' | 'timed out' | 'cancelled';

/** query_canceled: what both statement_timeout and pg_cancel_backend raise. */
const QUERY_CANCELED = '57014';

/**
 * Recomputes the materialized views. CONCURRENTLY keeps them readable meanwhile (it needs their
 * unique indexes); a refresh started while another runs waits for it, within the same budget.
 * A view left unrefreshed keeps its previous contents.
 */
export async function refreshReportingViews(db: Db, options: RefreshOptions): Promise<RefreshOutcome> {
  const { signal } = options;
  const deadline = Date.now() + options.timeoutMs;
  for (const name of MATERIALIZED_VIEWS) {
    if (signal?.aborted) return 'cancelled';
    const leftMs = Math.ceil(deadline - Date.now());
    if (leftMs <= 0) return 'timed out';
    try {
      const stopped = await db.transaction(async (tx) => {
        const [row] = await queryRows<{ pid: number }>(
          tx,
          sql`SELECT set_config('statement_timeout', ${String(leftMs)}, true), pg_backend_pid() AS pid`,
        );
        const pid = row?.pid;
        // A pooled connection other than the transaction's asks the server to cancel it (the transaction's
        // own connection is busy). Only the statement running is cancelled; the transaction then rolls back.
        const cancel = () => {
          if (options.kind === 'postgres' && pid !== undefined)
            void db.execute(sql`SELECT pg_cancel_backend(${pid})`).catch(() => undefined);
        };
        if (signal?.aborted) return true;
        signal?.addEventListener('abort', cancel, { once: true });
        try {
          await tx.execute(sql.raw(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${name}`));
          return false;
        } finally {
          signal?.removeEventListener('abort', cancel);
        }
      });
      if (stopped) return 'cancelled';
    } catch (error) {
      if (sqlState(error) !== QUERY_CANCELED) throw error;
      return signal?.aborted ? 'cancelled' : 'timed out';
    }
  }
  return 'refreshed';
}
