// Who may sync what, and whether data is fresh: the run-level SQL behind cross-process safety
// (advisory-lock keys, abandoned runs, skips) and behind the worker's catch-up and /healthz.
//
// How a dead run is told from a live one: every run holds a session-level advisory lock on its own
// key for its whole life, on a dedicated connection (runSync → Database.tryWithLock). Postgres frees
// a session's advisory locks when the session ends, and a session ends when its process dies
// (https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS). So a run still
// marked `running` whose lock another session can take has lost its process: no clock, heartbeat or
// threshold involved, and it holds across hosts because the lock lives in the shared database.
import { and, desc, eq, gte, inArray, ne, sql } from 'drizzle-orm';
import type { Database, Db } from './connect.ts';
import { syncRunProjects, syncRuns } from './schema.ts';
import { finishRun } from './store.ts';

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
  const error = `abandoned: its process (${run.host ?? 'unknown host'}, pid ${run.pid ?? '?'}) stopped without finishing the run; `
    + 'the next sync resumes its walks from their saved page tokens';
  return db.transaction(async (tx) => {
    // Only one process marks a run, however many find it dead at once.
    const claimed = await tx.update(syncRuns).set({ status: 'abandoned' })
      .where(and(eq(syncRuns.id, run.id), eq(syncRuns.status, 'running')))
      .returning({ id: syncRuns.id });
    if (claimed.length === 0) return false;
    await tx.update(syncRunProjects).set({ status: 'abandoned', finishedAt: sql`now()`, error })
      .where(and(eq(syncRunProjects.runId, run.id), eq(syncRunProjects.status, 'running')));
    await finishRun(tx, run.id, 'abandoned', error);
    return true;
  });
}

/** Records that this run left a project alone, and why. */
export async function skipProject(db: Db, row: { runId: string; projectId: string; reason: string }): Promise<void> {
  await db.insert(syncRunProjects).values({
    runId: row.runId, projectId: row.projectId, status: 'skipped', finishedAt: sql`now()` as unknown as string, warning: row.reason,
  }).onConflictDoNothing();
}

/** The projects among `projectIds` that some run synced successfully in a sync started at or after `since`. */
export async function projectsSyncedSince(db: Db, projectIds: readonly string[], since: Date): Promise<Set<string>> {
  if (projectIds.length === 0) return new Set();
  const rows = await db.selectDistinct({ projectId: syncRunProjects.projectId }).from(syncRunProjects)
    .where(and(
      inArray(syncRunProjects.projectId, [...projectIds]),
      eq(syncRunProjects.status, 'succeeded'),
      gte(syncRunProjects.startedAt, since.toISOString()),
    ));
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
    db.select({ projectId: p.projectId, at: sql<number>`extract(epoch FROM max(${p.finishedAt}))::float8` })
      .from(p).where(and(inArray(p.projectId, ids), eq(p.status, 'succeeded'))).groupBy(p.projectId),
    db.selectDistinctOn([p.projectId], { projectId: p.projectId, status: p.status })
      .from(p).where(and(inArray(p.projectId, ids), ne(p.status, 'skipped')))
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
