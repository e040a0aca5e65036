// One run: every project (bounded parallelism), each walked page by page in order, with run bookkeeping.
// A project's failure never stops the others.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pRetry from 'p-retry';
import type { ApiVersion, Config, ProjectConfig } from './config.ts';
import type { Database } from './db/connect.ts';
import { describeDbError, isRetryableDbError } from './db/errors.ts';
import { abandonDeadRuns, projectLockKey, projectsSyncedSince, runLockKey, skipProject } from './db/runs.ts';
import {
  beginWalk, completeWalk, finishProject, finishRun, loadWalkState, startProject, startRun, storePage,
  type PageCounts, type RunStatus, type WalkKind,
} from './db/store.ts';
import { jobIdsToRefresh, rememberDetectedVersion } from './db/walks.ts';
import { refreshReportingViews } from './db/views.ts';
import { scrub, type Logger } from './log.ts';
import { normalizePage } from './normalize.ts';
import { pagesSaved, planWalk, type SyncMode } from './plan.ts';
import { projectPageFetcher } from './source/client.ts';
import { ApiVersionError, detectApiVersion } from './source/detect.ts';
import { ApiError } from './source/http.ts';
import { pages, WalkError } from './source/pages.ts';
import type { RetryEvent } from './source/retry.ts';
import { jobIdBatches, type ListFilter } from './source/v2.ts';

export type Trigger = 'sync' | 'backfill' | 'worker' | 'demo';

export interface Progress {
  projectId: string;
  pages: number;
  jobs: number;
  totalSize: number | undefined;
  elapsedMs: number;
}

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
  clock?: () => number;
  /**
   * Skip a project that some run already synced successfully in a sync started at or after this time
   * (the worker passes its schedule slot, so replicas firing on the same slot sync each project once).
   */
  skipSyncedSince?: Date | undefined;
  /** Told about requests, retries and stored pages as they happen (the worker's metrics). */
  observer?: SyncObserver | undefined;
}

/** What a run reports while it goes; `status` is the HTTP status, or the error kind when there was none. */
export interface SyncObserver {
  request?(event: { projectId: string; status: string; durationMs: number }): void;
  retry?(event: { projectId: string; status: string }): void;
  page?(event: { projectId: string; counts: PageCounts }): void;
}

export interface ProjectResult extends Omit<PageCounts, 'jobsSeen'> {
  projectId: string;
  name: string | undefined;
  apiVersion: ApiVersion;
  /** skipped: another process was syncing it, or had synced it since `skipSyncedSince` (why: `warning`). */
  status: 'succeeded' | 'failed' | 'cancelled' | 'skipped';
  mode: SyncMode;
  /** What was walked: only a full walk marks deletions. */
  kind: WalkKind;
  /** Pages not requested compared to the last full walk (incremental walks; 0 for full ones). */
  pagesSaved: number | undefined;
  pages: number;
  jobsSeen: number;
  deleted: number;
  retries: number;
  /** One line for the operator: what failed and what to do. */
  error: string | undefined;
  warning: string | undefined;
}

export interface RunResult {
  runId: string;
  status: RunStatus;
  projects: ProjectResult[];
}

/** How many times a page transaction is tried when the database drops or deadlocks it. */
const PAGE_TRANSACTION_ATTEMPTS = 5;

/**
 * Runs one bookkeeping statement or transaction again when the database drops the connection or
 * deadlocks it (the same SQLSTATE table as page transactions): each is atomic, so a retry is safe.
 */
function dbRetry<T>(fn: () => Promise<T>): Promise<T> {
  return pRetry(fn, {
    retries: PAGE_TRANSACTION_ATTEMPTS - 1, minTimeout: 200, randomize: true,
    shouldRetry: ({ error }) => isRetryableDbError(error),
  });
}

/** The one-line advice for an API failure, by status. */
export function describeFailure(error: unknown, project: ProjectConfig, config: Pick<Config, 'baseUrl' | 'secrets'>): string {
  let text: string;
  if (error instanceof ApiError) {
    const what = error.kind === 'http' ? `HTTP ${error.status}${error.detail ? ` ${error.detail}` : ''}` : error.message;
    const advice: Record<number, string> = {
      400: 'the API refused the request; check --organization and --page-size',
      401: `check ${project.apiKeyEnv} (it must be a valid key of this project)`,
      403: `the key in ${project.apiKeyEnv} may not read this project: keys are project-scoped, give this project its own apiKeyEnv`,
      404: `check the project id and the base URL (${config.baseUrl})`,
      422: 'the API rejected the parameters; check the project id, --organization and --page-size',
    };
    const hint = (error.status !== undefined ? advice[error.status] : undefined)
      ?? (error.kind === 'too-large'
        ? 'raise maxResponseBytes or lower --page-size'
        : 'the API kept failing after retries; run again later (the walk resumes from its saved page)');
    // A refused redirect already says what to check; retrying or waiting would not help.
    text = error.kind === 'redirect' ? what : `${what}: ${hint}`;
  } else if (error instanceof WalkError) {
    text = `${error.message}; the next sync starts the walk over`;
  } else if (error instanceof ApiVersionError) {
    text = error.message;
  } else {
    text = `database error: ${describeDbError(error)}; check the database, then run again (the walk resumes from its saved page)`;
  }
  return scrub(text.replace(/\s+/g, ' '), config.secrets);
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
  log.info({ trigger, projects: config.projects.length, database: database.description, api: config.api }, 'run started');
  await dbRetry(() => startRun(database.db, { id: runId, trigger, projects: config.projects.length, host: hostname(), pid: process.pid }));
  for (const dead of await abandonDeadRuns(database, runId)) {
    log.warn({ abandonedRunId: dead.id, host: dead.host, pid: dead.pid, startedAt: dead.startedAt },
      'marked a run abandoned: its process died; its walks resume from their saved page tokens');
  }

  const warned = new Set<string>();
  const results: ProjectResult[] = [];
  await forEachBounded(config.projects, config.concurrency, async (project) => {
    results.push(await syncLockedProject(project));
  });

  // A run that stored no change leaves the materialized views as they are. A refresh that fails or runs
  // past its budget costs only freshness of the views: a warning on the run, never its status or exit code.
  let warning: string | undefined;
  if (!options.signal?.aborted && results.some((r) => r.inserted + r.updated + r.deleted > 0)) {
    const refreshStarted = now();
    const timeoutMs = config.viewRefreshTimeoutMs;
    const outcome = await refreshReportingViews(database.db, { kind: database.kind, timeoutMs, signal: options.signal })
      .catch((error: unknown) => describeDbError(error));
    const elapsedMs = now() - refreshStarted;
    if (outcome === 'refreshed') {
      log.info({ elapsedMs }, 'reporting views refreshed');
    } else if (outcome === 'timed out') {
      warning = `reporting views not refreshed: the refresh ran longer than viewRefreshTimeoutMs (${timeoutMs} ms); they keep their previous contents until a run that stores a change refreshes them: raise viewRefreshTimeoutMs, or look for a session holding a lock on them (pg_locks)`;
      log.warn({ elapsedMs, timeoutMs }, warning);
    } else if (outcome === 'cancelled') {
      log.warn({ elapsedMs }, 'reporting views not refreshed: the run was stopped; the next run that stores a change refreshes them');
    } else {
      warning = `reporting views not refreshed (${outcome}); the next run that stores a change refreshes them`;
      log.warn({ elapsedMs }, warning);
    }
  }

  const failed = results.filter((r) => r.status === 'failed').length;
  const ran = results.filter((r) => r.status !== 'skipped').length;
  const status: RunStatus = options.signal?.aborted ? 'cancelled'
    : ran === 0 && results.length > 0 ? 'skipped'
      : failed === 0 ? 'succeeded' : failed === ran ? 'failed' : 'partial';
  await dbRetry(() => finishRun(database.db, runId, status, undefined, warning));
  log.info({ status, failed, projects: results.length }, 'run finished');
  // Report in configuration order, whatever order projects finished in.
  const order = new Map(config.projects.map((p, i) => [p.id, i]));
  results.sort((a, b) => (order.get(a.projectId) ?? 0) - (order.get(b.projectId) ?? 0));
  return { runId, status, projects: results };

  /**
   * Syncs a project under its advisory lock, so no two processes (worker replicas, a `sync` next to a
   * worker) walk it at once; a project whose lock is taken is skipped and recorded as such.
   */
  async function syncLockedProject(project: ProjectConfig): Promise<ProjectResult> {
    const held = await database.tryWithLock(projectLockKey(project.id), async () => {
      const since = options.skipSyncedSince;
      if (since && (await dbRetry(() => projectsSyncedSince(database.db, [project.id], since))).has(project.id)) {
        return skipped(project, `another run already synced this project since ${since.toISOString()}`);
      }
      return syncProject(project);
    });
    return held.acquired ? held.value : skipped(project, 'another process is syncing this project now (it holds the project lock)');
  }

  async function skipped(project: ProjectConfig, reason: string): Promise<ProjectResult> {
    await dbRetry(() => skipProject(database.db, { runId, projectId: project.id, reason }));
    log.info({ projectId: project.id, reason }, 'project skipped');
    return {
      projectId: project.id, name: project.name, apiVersion: config.api === 'v1' ? 'v1' : 'v2', status: 'skipped',
      mode: 'full', kind: 'full', pagesSaved: undefined, pages: 0, jobsSeen: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0, rejects: 0, retries: 0,
      error: undefined, warning: reason,
    };
  }

  async function syncProject(project: ProjectConfig): Promise<ProjectResult> {
    const plog = log.child({ projectId: project.id });
    let apiVersion: ApiVersion = config.api === 'v1' ? 'v1' : 'v2';
    const result: ProjectResult = {
      projectId: project.id, name: project.name, apiVersion, status: 'succeeded', mode: 'full', kind: 'full', pagesSaved: undefined,
      pages: 0, jobsSeen: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0, rejects: 0, retries: 0,
      error: undefined, warning: undefined,
    };
    const started = now();
    const isoNow = () => new Date(now()).toISOString();
    let pendingRetries = 0;
    try {
      if (project.apiKey === undefined) {
        await dbRetry(() => startProject(database.db, { runId, projectId: project.id, apiVersion: config.api === 'auto' ? null : apiVersion, mode: null }));
        throw new ConfigProblem(`no API key: set ${project.apiKeyEnv} to a LlamaCloud API key of this project`);
      }
      const apiKey = project.apiKey;
      const onRetry = ({ attempt, error, waitMs }: RetryEvent) => {
        pendingRetries += 1;
        options.observer?.retry?.({ projectId: project.id, status: String(error.status ?? error.kind) });
        plog.warn({ attempt, status: error.status, kind: error.kind, waitMs, err: error.message }, 'request failed, retrying');
      };

      const onResponse = ({ status, durationMs }: { status: string; durationMs: number }) =>
        options.observer?.request?.({ projectId: project.id, status, durationMs });

      if (config.api === 'auto') {
        try {
          const detection = await detectApiVersion(config, { ...project, apiKey }, { signal: options.signal, onRetry, onResponse });
          apiVersion = detection.version;
          result.apiVersion = apiVersion;
          const previous = await dbRetry(() => rememberDetectedVersion(database.db, project.id, apiVersion, isoNow()));
          if (previous !== undefined && previous !== apiVersion) {
            plog.warn({ apiVersion, previous, reason: detection.reason }, `API version changed from ${previous} to ${apiVersion}`);
          } else {
            plog.info({ apiVersion, reason: detection.reason }, 'API version detected');
          }
        } catch (error) {
          await dbRetry(() => startProject(database.db, { runId, projectId: project.id, apiVersion: null, mode: null }));
          throw error;
        }
      }

      const state = await dbRetry(() => loadWalkState(database.db, project.id, apiVersion));
      const plan = planWalk({
        apiVersion, state, nowMs: now(), lookbackHours: config.lookbackHours, fullRefreshDays: config.fullRefreshDays,
        forceFull: Boolean(options.full || options.fromStart), fromStart: Boolean(options.fromStart),
      });
      result.mode = plan.mode;
      result.kind = plan.kind;
      if (plan.resumeToken === undefined) await dbRetry(() => beginWalk(database.db, project.id, apiVersion, { kind: plan.kind, filter: plan.filter ?? null, at: isoNow() }));
      await dbRetry(() => startProject(database.db, { runId, projectId: project.id, apiVersion, mode: plan.mode }));
      plog.info({ apiVersion, mode: plan.mode, kind: plan.kind, pagesBefore: plan.pagesBefore }, `walk planned: ${plan.reason}`);

      /** Walks one list (the project, or the part of it `filter` selects), storing page by page; false when stopped. */
      const walk = async (filter: ListFilter | undefined, startToken: string | undefined, pagesBefore: number, checkpoint: boolean): Promise<boolean> => {
        const fetchPage = projectPageFetcher(config, { ...project, apiKey }, apiVersion, {
signal: options.signal, onRetry, filter, onResponse });
        for await (const page of pages(fetchPage, { startToken, pagesBefore, maxPages: config.maxPages })) {
          if (options.signal?.aborted) return false;
          const normalized = normalizePage(page.items, { projectId: project.id, organizationId: project.organizationId, apiVersion, secrets: config.apiKeys });
          for (const warning of normalized.warnings) {
            if (warned.has(warning)) continue;
            warned.add(warning);
            plog.warn({ warning }, 'unexpected value');
          }
          for (const r of normalized.rejects) plog.warn({ reason: r.reason, id: r.id }, 'item quarantined in sync_rejects');
          const retries = pendingRetries;
          pendingRetries = 0;
          // A filtered list's total_size is not the project's.
          const totalSize = plan.kind === 'full' ? page.totalSize : undefined;
          const counts = await pRetry(() => storePage(database.db, {
            runId, projectId: project.id, apiVersion, pageNumber: page.number, jobs: normalized.jobs,
            rejects: normalized.rejects, nextPageToken: page.nextPageToken, retries, totalSize,
            trackSeen: plan.kind === 'full', checkpoint,
          }), {
            retries: PAGE_TRANSACTION_ATTEMPTS - 1, minTimeout: 200, randomize: true,
            shouldRetry: ({ error }) => isRetryableDbError(error),
            onFailedAttempt: ({ error, attemptNumber }) => {
              if (isRetryableDbError(error)) plog.warn({ attempt: attemptNumber, err: describeDbError(error) }, 'page transaction failed, retrying');
            },
          });
          for (const q of counts.quarantined) plog.warn({ reason: q.reason, id: q.id }, 'item quarantined in sync_rejects');
          options.observer?.page?.({ projectId: project.id, counts });
          result.pages += 1;
          result.retries += retries;
          result.jobsSeen += counts.jobsSeen;
          result.inserted += counts.inserted;
          result.updated += counts.updated;
          result.unchanged += counts.unchanged;
          result.rejects += counts.rejects;
          plog.debug({ page: page.number, items: page.items.length, ...counts }, 'page stored');
          options.onProgress?.({ projectId: project.id, pages: result.pages, jobs: result.jobsSeen, totalSize, elapsedMs: now() - started });
        }
        return true;
      };

      let resumeToken = plan.resumeToken;
      let pagesBefore = plan.pagesBefore;
      let finished = false;
      while (true) {
        try {
          finished = await walk(plan.filter, resumeToken, pagesBefore, true);
          break;
        } catch (error) {
          // A saved token the API no longer accepts: start the same walk over instead of failing for good.
          if (resumeToken && result.pages === 0 && error instanceof ApiError && error.status === 400) {
            plog.warn({ detail: error.detail }, 'the API refused the saved page token; walking from the first page');
            resumeToken = undefined;
            pagesBefore = 0;
            result.mode = plan.kind;
            await dbRetry(() => beginWalk(database.db, project.id, apiVersion, { kind: plan.kind, filter: plan.filter ?? null, at: isoNow() }));
            continue;
          }
          throw error;
        }
      }

      // Incremental: the jobs created before the window whose status may still move, asked for by id.
      // Not resumable on its own (no token is saved): an interrupted refresh leaves the walk incomplete,
      // so the next sync's window still starts from the previous complete walk and covers it again.
      const windowStart = plan.filter?.createdAtOnOrAfter;
      if (finished && plan.kind === 'incremental' && windowStart !== undefined) {
        const ids = await dbRetry(() => jobIdsToRefresh(database.db, project.id, windowStart, runId));
        const batches = jobIdBatches(ids);
        plog.info({ jobs: ids.length, requests: batches.length }, 'refreshing by id the in-flight jobs created before the window and the open rejects');
        for (const jobIds of batches) {
          if (!finished) break;
          finished = await walk({ jobIds }, undefined, 0, false);
        }
      }

      if (!finished || options.signal?.aborted) {
        result.status = 'cancelled';
        await dbRetry(() => finishProject(database.db, runId, project.id, { status: 'cancelled', retries: pendingRetries }));
        plog.info({ pages: result.pages }, 'project cancelled; the next sync resumes from the saved page token');
        return result;
      }
      const done = await dbRetry(() => completeWalk(database.db, {
        runId, projectId: project.id, apiVersion, detectDeletions: plan.kind === 'full',
        minSeenShare: config.massDeleteMinShare, allowMassDelete: config.allowMassDelete, kind: plan.kind, at: isoNow(),
      }));
      result.deleted = done.deleted;
      result.warning = done.warning;
      result.pagesSaved = pagesSaved(plan.kind, state.lastFullWalkPages, pagesBefore + result.pages);
      if (done.warning) plog.warn({ warning: done.warning }, 'deletions skipped');
      await dbRetry(() => finishProject(database.db, runId, project.id, { status: 'succeeded', retries: pendingRetries, pagesSaved: result.pagesSaved }));
      result.retries += pendingRetries;
      plog.info({ apiVersion, mode: result.mode, pages: result.pages, pagesSaved: result.pagesSaved, jobs: result.jobsSeen,
        inserted: result.inserted, updated: result.updated, unchanged: result.unchanged, deleted: result.deleted, rejects: result.rejects,
        retries: result.retries, elapsedMs: now() - started }, 'project synced');
      return result;
    } catch (error) {
      if (options.signal?.aborted) {
        // The stop request aborted a request in flight: what was stored stays, the token resumes it.
        result.status = 'cancelled';
        await dbRetry(() => finishProject(database.db, runId, project.id, { status: 'cancelled', retries: pendingRetries }));
        return result;
      }
      result.status = 'failed';
      result.retries += pendingRetries;
      // A walk the API sent in circles cannot be resumed from its token: the next sync starts over.
      if (error instanceof WalkError) await dbRetry(() => beginWalk(database.db, project.id, apiVersion)).catch(() => undefined);
      result.error = error instanceof ConfigProblem ? error.message : describeFailure(error, project, config);
      plog.error({ err: scrub(describeDbError(error), config.secrets) }, `project failed: ${result.error}`);
      await dbRetry(() => finishProject(database.db, runId, project.id, { status: 'failed', error: result.error, retries: pendingRetries }))
        .catch((e: unknown) => plog.error({ err: (e as Error).message }, 'could not record the failure'));
      return result;
    }
  }
}

class ConfigProblem extends Error {}
