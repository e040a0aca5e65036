// One run: every project (bounded parallelism), each walked page by page in order, with run bookkeeping.
// A project's failure never stops the others.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pRetry from 'p-retry';
import type { ApiVersion, Config, ProjectConfig } from './config.ts';
import type { Database } from './db/connect.ts';
import { describeDbError, isRetryableDbError } from './db/errors.ts';
import {
  beginWalk, completeWalk, finishProject, finishRun, loadWalkState, startProject, startRun, storePage,
  type PageCounts, type RunStatus,
} from './db/store.ts';
import { scrub, type Logger } from './log.ts';
import { normalizePage } from './normalize.ts';
import { projectPageFetcher } from './source/client.ts';
import { ApiError } from './source/http.ts';
import { pages, WalkError } from './source/pages.ts';

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
  /** Stops the run between pages: the page being stored commits, no new page starts. */
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: Progress) => void) | undefined;
  clock?: () => number;
}

export interface ProjectResult extends Omit<PageCounts, 'jobsSeen'> {
  projectId: string;
  name: string | undefined;
  apiVersion: ApiVersion;
  status: 'succeeded' | 'failed' | 'cancelled';
  mode: 'full' | 'resume';
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
    text = `${what}: ${hint}`;
  } else if (error instanceof WalkError) {
    text = `${error.message}; the next sync starts the walk over`;
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
  const { config, database, trigger } = options;
  const runId = randomUUID();
  const log = options.log.child({ runId });
  const now = options.clock ?? Date.now;
  log.info({ trigger, projects: config.projects.length, database: database.description, api: config.api }, 'run started');
  await startRun(database.db, { id: runId, trigger, projects: config.projects.length, host: hostname(), pid: process.pid });

  const warned = new Set<string>();
  const results: ProjectResult[] = [];
  await forEachBounded(config.projects, config.concurrency, async (project) => {
    results.push(await syncProject(project));
  });

  const failed = results.filter((r) => r.status === 'failed').length;
  const status: RunStatus = options.signal?.aborted ? 'cancelled'
    : failed === 0 ? 'succeeded' : failed === results.length ? 'failed' : 'partial';
  await finishRun(database.db, runId, status);
  log.info({ status, failed, projects: results.length }, 'run finished');
  // Report in configuration order, whatever order projects finished in.
  const order = new Map(config.projects.map((p, i) => [p.id, i]));
  results.sort((a, b) => (order.get(a.projectId) ?? 0) - (order.get(b.projectId) ?? 0));
  return { runId, status, projects: results };

  async function syncProject(project: ProjectConfig): Promise<ProjectResult> {
    const plog = log.child({ projectId: project.id });
    const apiVersion: ApiVersion = 'v1';
    const result: ProjectResult = {
      projectId: project.id, name: project.name, apiVersion, status: 'succeeded', mode: 'full',
      pages: 0, jobsSeen: 0, inserted: 0, updated: 0, unchanged: 0, deleted: 0, rejects: 0, retries: 0,
      error: undefined, warning: undefined,
    };
    const started = now();
    let pendingRetries = 0;
    try {
      if (project.apiKey === undefined) {
        await startProject(database.db, { runId, projectId: project.id, apiVersion, mode: null });
        throw new ConfigProblem(`no API key: set ${project.apiKeyEnv} to a LlamaCloud API key of this project`);
      }
      const apiKey = project.apiKey;
      const state = await loadWalkState(database.db, project.id, apiVersion);
      let resumeToken = options.fromStart ? undefined : state.pageToken;
      result.mode = resumeToken ? 'resume' : 'full';
      if (!resumeToken) await beginWalk(database.db, project.id, apiVersion);
      await startProject(database.db, { runId, projectId: project.id, apiVersion, mode: result.mode });
      const fetchPage = projectPageFetcher(config, { ...project, apiKey }, apiVersion, {
        signal: options.signal,
        onRetry: ({ attempt, error, waitMs }) => {
          pendingRetries += 1;
          plog.warn({ attempt, status: error.status, kind: error.kind, waitMs, err: error.message }, 'request failed, retrying');
        },
      });

      let pagesBefore = resumeToken ? state.walkPages : 0;
      if (resumeToken) plog.info({ pagesBefore }, 'resuming an unfinished walk from its saved page token');
      walk: while (true) {
        try {
          for await (const page of pages(fetchPage, { startToken: resumeToken, pagesBefore, maxPages: config.maxPages })) {
            if (options.signal?.aborted) break walk;
            const normalized = normalizePage(page.items, { projectId: project.id, organizationId: project.organizationId, apiVersion });
            for (const warning of normalized.warnings) {
              if (warned.has(warning)) continue;
              warned.add(warning);
              plog.warn({ warning }, 'unexpected value');
            }
            for (const r of normalized.rejects) plog.warn({ reason: r.reason, id: r.id }, 'item quarantined in sync_rejects');
            const retries = pendingRetries;
            pendingRetries = 0;
            const counts = await pRetry(() => storePage(database.db, {
              runId, projectId: project.id, apiVersion, pageNumber: page.number, jobs: normalized.jobs,
              rejects: normalized.rejects, nextPageToken: page.nextPageToken, retries, totalSize: page.totalSize, trackSeen: true,
            }), {
              retries: PAGE_TRANSACTION_ATTEMPTS - 1, minTimeout: 200, randomize: true,
              shouldRetry: ({ error }) => isRetryableDbError(error),
              onFailedAttempt: ({ error, attemptNumber }) => {
                if (isRetryableDbError(error)) plog.warn({ attempt: attemptNumber, err: describeDbError(error) }, 'page transaction failed, retrying');
              },
            });
            result.pages += 1;
            result.retries += retries;
            result.jobsSeen += counts.jobsSeen;
            result.inserted += counts.inserted;
            result.updated += counts.updated;
            result.unchanged += counts.unchanged;
            result.rejects += counts.rejects;
            plog.debug({ page: page.number, items: page.items.length, ...counts }, 'page stored');
            options.onProgress?.({ projectId: project.id, pages: result.pages, jobs: result.jobsSeen, totalSize: page.totalSize, elapsedMs: now() - started });
          }
          break;
        } catch (error) {
          // A saved token the API no longer accepts: start the walk over instead of failing for good.
          if (resumeToken && result.pages === 0 && error instanceof ApiError && error.status === 400) {
            plog.warn({ detail: error.detail }, 'the API refused the saved page token; walking from the first page');
            resumeToken = undefined;
            pagesBefore = 0;
            result.mode = 'full';
            await beginWalk(database.db, project.id, apiVersion);
            continue;
          }
          throw error;
        }
      }

      if (options.signal?.aborted) {
        result.status = 'cancelled';
        await finishProject(database.db, runId, project.id, { status: 'cancelled', retries: pendingRetries });
        plog.info({ pages: result.pages }, 'project cancelled; the next sync resumes from the saved page token');
        return result;
      }
      const done = await completeWalk(database.db, {
        runId, projectId: project.id, apiVersion, detectDeletions: true,
        minSeenShare: config.massDeleteMinShare, allowMassDelete: config.allowMassDelete,
      });
      result.deleted = done.deleted;
      result.warning = done.warning;
      if (done.warning) plog.warn({ warning: done.warning }, 'deletions skipped');
      await finishProject(database.db, runId, project.id, { status: 'succeeded', retries: pendingRetries });
      result.retries += pendingRetries;
      plog.info({ pages: result.pages, jobs: result.jobsSeen, inserted: result.inserted, updated: result.updated,
        unchanged: result.unchanged, deleted: result.deleted, rejects: result.rejects, retries: result.retries,
        elapsedMs: now() - started }, 'project synced');
      return result;
    } catch (error) {
      if (options.signal?.aborted) {
        // The stop request aborted a request in flight: what was stored stays, the token resumes it.
        result.status = 'cancelled';
        await finishProject(database.db, runId, project.id, { status: 'cancelled', retries: pendingRetries });
        return result;
      }
      result.status = 'failed';
      result.retries += pendingRetries;
      // A walk the API sent in circles cannot be resumed from its token: the next sync starts over.
      if (error instanceof WalkError) await beginWalk(database.db, project.id, apiVersion).catch(() => undefined);
      result.error = error instanceof ConfigProblem ? error.message : describeFailure(error, project, config);
      plog.error({ err: scrub(describeDbError(error), config.secrets) }, `project failed: ${result.error}`);
      await finishProject(database.db, runId, project.id, { status: 'failed', error: result.error, retries: pendingRetries })
        .catch((e: unknown) => plog.error({ err: (e as Error).message }, 'could not record the failure'));
      return result;
    }
  }
}

class ConfigProblem extends Error {}
