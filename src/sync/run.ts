// One run: every project (bounded parallelism, each under its advisory lock), then the view refresh
// and the run record. A project's failure never stops the others; its walk is in project.ts.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config, ProjectConfig } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { describeDbError } from '../db/errors.ts';
import { storePage } from '../db/pages.ts';
import { abandonDeadRuns, projectLockKey, refreshReportingViews, runLockKey, type RunStatus } from '../db/runs.ts';
import type { Logger } from '../log.ts';
import { skippedResult, syncProject, type ProjectContext, type ProjectResult, type Progress, type SyncObserver } from './project.ts';
import { dryRun } from './dry-run.ts';
import { syncStore } from './store.ts';
import { RequestBudgets } from '../source/budget.ts';

export type Trigger = 'sync' | 'backfill' | 'worker' | 'demo';

export interface SyncOptions {
  config: Config;
  database: Database;
  log: Logger;
  trigger: Trigger;
  /** Start every project from its first page, ignoring saved tokens (backfill without --resume). */
  fromStart?: boolean | undefined;
  /** Walk every project in full, the only walk that marks deletions (backfill, `sync --full`). */
  full?: boolean | undefined;
  /** Stops the run between pages: the page being stored commits, no new page starts. */
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: Progress) => void) | undefined;
  /** Epoch ms now: walk times and the incremental/full schedule follow it (tests pass a fake one). */
  clock?: (() => number) | undefined;
  /**
   * Skip a project that some run already synced successfully in a sync started at or after this time
   * (the worker passes its schedule slot, so replicas firing on the same slot sync each project once).
   */
  skipSyncedSince?: Date | undefined;
  /** Told about requests, retries and stored pages as they happen (the worker's metrics). */
  observer?: SyncObserver | undefined;
  /**
   * Walk and compare, write nothing (sync/dry-run.ts): no rows, walk state or run record; abandoned
   * runs stay as they are and the views are not refreshed. The project locks are taken as usual.
   */
  dryRun?: boolean | undefined;
}

export interface RunResult {
  runId: string;
  status: RunStatus;
  projects: ProjectResult[];
}

async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function runSync(options: SyncOptions): Promise<RunResult> {
  const runId = randomUUID();
  // The run holds its own advisory lock while it lives: how a later run tells it died (see db/runs.ts).
  const held = await options.database.tryWithLock(runLockKey(runId), () => syncRun(options, runId));
  if (!held.acquired) throw new Error(`the lock of new run ${runId} is taken (a hash collision): run again`);
  return held.value;
}

async function syncRun(options: SyncOptions, runId: string): Promise<RunResult> {
  const { config, database, trigger } = options;
  const log = options.log.child({ runId });
  const now = options.clock ?? Date.now;
  const dry = options.dryRun ? dryRun(database.db) : undefined;
  const store = dry?.store ?? syncStore(database.db);
  log.info(
    { trigger, projects: config.projects.length, database: database.description, api: config.api, dryRun: dry !== undefined },
    'run started',
  );
  await store.startRun({ id: runId, trigger, projects: config.projects.length, host: hostname(), pid: process.pid });
  await store.rememberProjects(config.projects.map((p) => ({ id: p.id, name: p.name })));
  for (const dead of dry ? [] : await abandonDeadRuns(database, runId)) {
    log.warn(
      { abandonedRunId: dead.id, host: dead.host, pid: dead.pid, startedAt: dead.startedAt },
      'marked a run abandoned: its process died; its walks resume from their saved page tokens',
    );
  }

  const context: ProjectContext = {
    config,
    database,
    store,
    storePage: dry?.storePage ?? ((input) => storePage(database.db, input)),
    dryRun: dry !== undefined,
    runId,
    log,
    now,
    fromStart: Boolean(options.fromStart),
    full: Boolean(options.full),
    signal: options.signal,
    onProgress: options.onProgress,
    observer: options.observer,
    warned: new Set(),
    budgets: new RequestBudgets({
      maxInFlight: config.maxInFlight,
      maxRequestsPerSecond: config.maxRequestsPerSecond,
      maxPauseMs: config.retry.maxRetryAfterMs,
    }),
  };

  /**
   * Syncs a project under its advisory lock, so no two processes (worker replicas, a `sync` next to a
   * worker) walk it at once; a project whose lock is taken is skipped and recorded as such.
   */
  const syncLockedProject = async (project: ProjectConfig): Promise<ProjectResult> => {
    const held = await database.tryWithLock(projectLockKey(project.id), async () => {
      const since = options.skipSyncedSince;
      if (since && (await store.projectsSyncedSince([project.id], since)).has(project.id)) {
        return skipped(project, `another run already synced this project since ${since.toISOString()}`);
      }
      return syncProject(context, project);
    });
    return held.acquired ? held.value : skipped(project, 'another process is syncing this project now (it holds the project lock)');
  };

  const skipped = async (project: ProjectConfig, reason: string): Promise<ProjectResult> => {
    await store.skipProject({ runId, projectId: project.id, reason });
    log.info({ projectId: project.id, reason }, 'project skipped');
    return skippedResult(config, project, reason);
  };

  const results: ProjectResult[] = [];
  await forEachBounded(config.projects, config.concurrency, async (project) => {
    results.push(await syncLockedProject(project));
  });

  const warning =
    dry || options.signal?.aborted || !results.some((r) => r.inserted + r.updated + r.deleted > 0)
      ? undefined
      : await refreshViews(options, log, now);

  const failed = results.filter((r) => r.status === 'failed').length;
  const ran = results.filter((r) => r.status !== 'skipped').length;
  const status: RunStatus = options.signal?.aborted
    ? 'cancelled'
    : ran === 0 && results.length > 0
      ? 'skipped'
      : failed === 0
        ? 'succeeded'
        : failed === ran
          ? 'failed'
          : 'partial';
  await store.finishRun(runId, status, undefined, warning);
  log.info({ status, failed, projects: results.length }, 'run finished');
  // Report in configuration order, whatever order projects finished in.
  const order = new Map(config.projects.map((p, i) => [p.id, i]));
  results.sort((a, b) => (order.get(a.projectId) ?? 0) - (order.get(b.projectId) ?? 0));
  return { runId, status, projects: results };
}

/**
 * Refreshes the materialized views after a run that stored a change (one that stored none leaves them
 * as they are). A refresh that fails or runs past its budget costs only freshness of the views: the
 * warning it returns goes on the run, never into its status or exit code.
 */
async function refreshViews(options: SyncOptions, log: Logger, now: () => number): Promise<string | undefined> {
  const { config, database } = options;
  const refreshStarted = now();
  const timeoutMs = config.viewRefreshTimeoutMs;
  const outcome = await refreshReportingViews(database.db, { kind: database.kind, timeoutMs, signal: options.signal }).catch(
    (error: unknown) => describeDbError(error),
  );
  const elapsedMs = now() - refreshStarted;
  if (outcome === 'refreshed') {
    log.info({ elapsedMs }, 'reporting views refreshed');
    return undefined;
  }
  if (outcome === 'cancelled') {
    log.warn({ elapsedMs }, 'reporting views not refreshed: the run was stopped; the next run that stores a change refreshes them');
    return undefined;
  }
  const warning =
    outcome === 'timed out'
      ? `reporting views not refreshed: the refresh ran longer than viewRefreshTimeoutMs (${timeoutMs} ms); they keep their previous contents until a run that stores a change refreshes them: raise viewRefreshTimeoutMs, or look for a session holding a lock on them (pg_locks)`
      : `reporting views not refreshed (${outcome}); the next run that stores a change refreshes them`;
  log.warn(outcome === 'timed out' ? { elapsedMs, timeoutMs } : { elapsedMs }, warning);
  return warning;
}
