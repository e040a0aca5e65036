// One project's walk: detect the API version, plan the walk, store it page by page in order, refresh
// the in-flight jobs by id (incremental walks), complete it (deletes by absence). A failure is recorded
// and returned as the project's result, never thrown: one project never stops the others.
import type { ApiVersion, Config, ProjectConfig } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { describeDbError } from '../db/errors.ts';
import { storePage, type PageCounts } from '../db/pages.ts';
import { withDbRetries } from '../db/retry.ts';
import type { WalkKind } from '../db/walks.ts';
import { errorMessage } from '../errors.ts';
import { scrub, type Logger } from '../log.ts';
import { normalizePage } from '../normalize.ts';
import { pagesSaved, planWalk, type SyncMode } from '../plan.ts';
import { projectPageFetcher } from '../source/client.ts';
import { ApiVersionError, detectApiVersion } from '../source/detect.ts';
import { ApiError } from '../source/http.ts';
import { pages, WalkError } from '../source/pages.ts';
import type { RetryEvent } from '../source/retry.ts';
import { jobIdBatches, type ListFilter } from '../source/v2.ts';
import type { SyncStore } from './store.ts';

export interface Progress {
  projectId: string;
  pages: number;
  jobs: number;
  totalSize: number | undefined;
  elapsedMs: number;
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

/** What a project's walk needs from its run. */
export interface ProjectContext {
  config: Config;
  database: Database;
  store: SyncStore;
  runId: string;
  /** The run's logger; the walk's lines add `projectId`. */
  log: Logger;
  now: () => number;
  /** Start from the first page, ignoring a saved token. */
  fromStart: boolean;
  /** Walk every job, whatever the schedule of full walks says. */
  full: boolean;
  signal: AbortSignal | undefined;
  onProgress: ((progress: Progress) => void) | undefined;
  observer: SyncObserver | undefined;
  /** Warnings about unexpected values already logged in this run (each is logged once). */
  warned: Set<string>;
}

/** A project's result before its walk: nothing done yet (the API version is the configured one, or v2 for auto). */
function initialResult(config: Config, project: ProjectConfig): ProjectResult {
  return {
    projectId: project.id,
    name: project.name,
    apiVersion: config.api === 'v1' ? 'v1' : 'v2',
    status: 'succeeded',
    mode: 'full',
    kind: 'full',
    pagesSaved: undefined,
    pages: 0,
    jobsSeen: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    deleted: 0,
    rejects: 0,
    retries: 0,
    error: undefined,
    warning: undefined,
  };
}

/** The result of a project that did nothing, for `reason`. */
export function skippedResult(config: Config, project: ProjectConfig, reason: string): ProjectResult {
  return { ...initialResult(config, project), status: 'skipped', warning: reason };
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
    const hint =
      (error.status !== undefined ? advice[error.status] : undefined) ??
      (error.kind === 'too-large'
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

/** A problem of the project's configuration: its message is already the operator's line. */
class ConfigProblem extends Error {}

export async function syncProject(ctx: ProjectContext, project: ProjectConfig): Promise<ProjectResult> {
  const { config, store, runId, now, signal } = ctx;
  const plog = ctx.log.child({ projectId: project.id });
  const result = initialResult(config, project);
  let apiVersion: ApiVersion = result.apiVersion;

  const started = now();
  const isoNow = () => new Date(now()).toISOString();
  let pendingRetries = 0;
  try {
    if (project.apiKey === undefined) {
      await store.startProject({ runId, projectId: project.id, apiVersion: config.api === 'auto' ? null : apiVersion, mode: null });
      throw new ConfigProblem(`no API key: set ${project.apiKeyEnv} to a LlamaCloud API key of this project`);
    }
    const apiKey = project.apiKey;
    const onRetry = ({ attempt, error, waitMs }: RetryEvent) => {
      pendingRetries += 1;
      ctx.observer?.retry?.({ projectId: project.id, status: String(error.status ?? error.kind) });
      plog.warn({ attempt, status: error.status, kind: error.kind, waitMs, err: error.message }, 'request failed, retrying');
    };
    const onResponse = ({ status, durationMs }: { status: string; durationMs: number }) =>
      ctx.observer?.request?.({ projectId: project.id, status, durationMs });

    if (config.api === 'auto') {
      try {
        const detection = await detectApiVersion(config, { ...project, apiKey }, { signal, onRetry, onResponse });
        apiVersion = detection.version;
        result.apiVersion = apiVersion;
        const previous = await store.rememberDetectedVersion(project.id, apiVersion, isoNow());
        if (previous !== undefined && previous !== apiVersion) {
          plog.warn({ apiVersion, previous, reason: detection.reason }, `API version changed from ${previous} to ${apiVersion}`);
        } else {
          plog.info({ apiVersion, reason: detection.reason }, 'API version detected');
        }
      } catch (error) {
        await store.startProject({ runId, projectId: project.id, apiVersion: null, mode: null });
        throw error;
      }
    }

    const state = await store.loadWalkState(project.id, apiVersion);
    const plan = planWalk({
      apiVersion,
      state,
      nowMs: now(),
      lookbackHours: config.lookbackHours,
      fullRefreshDays: config.fullRefreshDays,
      forceFull: ctx.full || ctx.fromStart,
      fromStart: ctx.fromStart,
    });
    result.mode = plan.mode;
    result.kind = plan.kind;
    if (plan.resumeToken === undefined)
      await store.beginWalk(project.id, apiVersion, { kind: plan.kind, filter: plan.filter ?? null, at: isoNow() });
    await store.startProject({ runId, projectId: project.id, apiVersion, mode: plan.mode });
    plog.info({ apiVersion, mode: plan.mode, kind: plan.kind, pagesBefore: plan.pagesBefore }, `walk planned: ${plan.reason}`);

    /** Walks one list (the project, or the part of it `filter` selects), storing page by page; false when stopped. */
    const walk = async (
      filter: ListFilter | undefined,
      startToken: string | undefined,
      pagesBefore: number,
      checkpoint: boolean,
    ): Promise<boolean> => {
      const fetchPage = projectPageFetcher(config, { ...project, apiKey }, apiVersion, { signal, onRetry, filter, onResponse });
      for await (const page of pages(fetchPage, { startToken, pagesBefore, maxPages: config.maxPages })) {
        if (signal?.aborted) return false;
        const normalized = normalizePage(page.items, {
          projectId: project.id,
          organizationId: project.organizationId,
          apiVersion,
          secrets: config.apiKeys,
        });
        for (const warning of normalized.warnings) {
          if (ctx.warned.has(warning)) continue;
          ctx.warned.add(warning);
          plog.warn({ warning }, 'unexpected value');
        }
        for (const r of normalized.rejects) plog.warn({ reason: r.reason, id: r.id }, 'item quarantined in sync_rejects');
        const retries = pendingRetries;
        pendingRetries = 0;
        // A filtered list's total_size is not the project's.
        const totalSize = plan.kind === 'full' ? page.totalSize : undefined;
        const counts = await withDbRetries(
          () =>
            storePage(ctx.database.db, {
              runId,
              projectId: project.id,
              apiVersion,
              pageNumber: page.number,
              jobs: normalized.jobs,
              rejects: normalized.rejects,
              nextPageToken: page.nextPageToken,
              retries,
              totalSize,
              trackSeen: plan.kind === 'full',
              checkpoint,
            }),
          {
            onRetry: ({ attempt, error }) => plog.warn({ attempt, err: describeDbError(error) }, 'page transaction failed, retrying'),
          },
        );
        for (const q of counts.quarantined) plog.warn({ reason: q.reason, id: q.id }, 'item quarantined in sync_rejects');
        ctx.observer?.page?.({ projectId: project.id, counts });
        result.pages += 1;
        result.retries += retries;
        result.jobsSeen += counts.jobsSeen;
        result.inserted += counts.inserted;
        result.updated += counts.updated;
        result.unchanged += counts.unchanged;
        result.rejects += counts.rejects;
        plog.debug({ page: page.number, items: page.items.length, ...counts }, 'page stored');
        ctx.onProgress?.({ projectId: project.id, pages: result.pages, jobs: result.jobsSeen, totalSize, elapsedMs: now() - started });
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
          await store.beginWalk(project.id, apiVersion, { kind: plan.kind, filter: plan.filter ?? null, at: isoNow() });
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
      const ids = await store.jobIdsToRefresh(project.id, windowStart, runId);
      const batches = jobIdBatches(ids);
      plog.info(
        { jobs: ids.length, requests: batches.length },
        'refreshing by id the in-flight jobs created before the window and the open rejects',
      );
      for (const jobIds of batches) {
        if (!finished) break;
        finished = await walk({ jobIds }, undefined, 0, false);
      }
    }

    if (!finished || signal?.aborted) {
      result.status = 'cancelled';
      await store.finishProject(runId, project.id, { status: 'cancelled', retries: pendingRetries });
      plog.info({ pages: result.pages }, 'project cancelled; the next sync resumes from the saved page token');
      return result;
    }
    const done = await store.completeWalk({
      runId,
      projectId: project.id,
      apiVersion,
      detectDeletions: plan.kind === 'full',
      minSeenShare: config.massDeleteMinShare,
      allowMassDelete: config.allowMassDelete,
      kind: plan.kind,
      at: isoNow(),
    });
    result.deleted = done.deleted;
    result.warning = done.warning;
    result.pagesSaved = pagesSaved(plan.kind, state.lastFullWalkPages, pagesBefore + result.pages);
    if (done.warning) plog.warn({ warning: done.warning }, 'deletions skipped');
    await store.finishProject(runId, project.id, { status: 'succeeded', retries: pendingRetries, pagesSaved: result.pagesSaved });
    result.retries += pendingRetries;
    plog.info(
      {
        apiVersion,
        mode: result.mode,
        pages: result.pages,
        pagesSaved: result.pagesSaved,
        jobs: result.jobsSeen,
        inserted: result.inserted,
        updated: result.updated,
        unchanged: result.unchanged,
        deleted: result.deleted,
        rejects: result.rejects,
        retries: result.retries,
        elapsedMs: now() - started,
      },
      'project synced',
    );
    return result;
  } catch (error) {
    if (signal?.aborted) {
      // The stop request aborted a request in flight: what was stored stays, the token resumes it.
      result.status = 'cancelled';
      await store.finishProject(runId, project.id, { status: 'cancelled', retries: pendingRetries });
      return result;
    }
    result.status = 'failed';
    result.retries += pendingRetries;
    // A walk the API sent in circles cannot be resumed from its token: the next sync starts over.
    if (error instanceof WalkError) await store.beginWalk(project.id, apiVersion).catch(() => undefined);
    result.error = error instanceof ConfigProblem ? error.message : describeFailure(error, project, config);
    plog.error({ err: scrub(describeDbError(error), config.secrets) }, `project failed: ${result.error}`);
    await store
      .finishProject(runId, project.id, { status: 'failed', error: result.error, retries: pendingRetries })
      .catch((e: unknown) => plog.error({ err: errorMessage(e) }, 'could not record the failure'));
    return result;
  }
}
