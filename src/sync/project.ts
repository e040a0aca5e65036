// One project's walk: detect the API version, plan the walk, store it page by page in order, refresh
// the in-flight jobs by id (incremental walks), complete it (deletes by absence). A failure is recorded
// and returned as the project's result, never thrown: one project never stops the others.
import type { ApiVersion, Config, ProjectConfig } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { describeDbError } from '../db/errors.ts';
import type { PageCounts, PageResult, StorePageInput } from '../db/pages.ts';
import { withDbRetries } from '../db/retry.ts';
import type { ProjectTraffic } from '../db/runs.ts';
import type { SliceState, WalkKind } from '../db/walks.ts';
import { errorMessage } from '../errors.ts';
import { scrub, type Logger } from '../log.ts';
import { normalizePage, type NormalizedJob, type Reject } from '../normalize.ts';
import { pagesSaved, planWalk, type SyncMode } from '../plan.ts';
import { projectPageFetcher } from '../source/client.ts';
import { ApiVersionError, detectApiVersion, isRouteNotFound } from '../source/detect.ts';
import { ApiError } from '../source/http.ts';
import { RequestBudgets } from '../source/budget.ts';
import { pages, WalkError } from '../source/pages.ts';
import type { RetryEvent } from '../source/retry.ts';
import { V1_PATH } from '../source/v1.ts';
import { jobIdBatches, V2_PATH, type ListFilter } from '../source/v2.ts';
import { BoundaryDedup, jobsWithoutCreatedAt, planSlices, type CountProbe, type TimeFilter } from './slices.ts';
import type { SyncStore } from './store.ts';

export interface Progress {
  projectId: string;
  /** Pages of the walk stored so far, a resumed walk's earlier runs' included. */
  pages: number;
  /** Of them, the pages earlier runs stored before this one resumed the walk (0: not resumed). */
  resumedPages: number;
  /** Jobs the walk saw so far: this run's, plus an estimate of the earlier runs' (their pages × pageSize). */
  jobs: number;
  jobsThisRun: number;
  totalSize: number | undefined;
  /** Since this run started the project. */
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
  /** Creation-time slices the walk ran as (1: one cursor chain); undefined before it was planned. */
  slices: number | undefined;
  /** API requests sent, and how many of them the API refused with 429. */
  requests: number;
  rateLimited: number;
  /** Requests per second the walk reached (undefined when it sent none). */
  requestsPerSecond: number | undefined;
  /** One line for the operator: what failed and what to do. */
  error: string | undefined;
  warning: string | undefined;
}

/** What a project's walk needs from its run. */
export interface ProjectContext {
  config: Config;
  database: Database;
  store: SyncStore;
  /** Stores a page in one transaction (db/pages.ts), or, in a dry run, compares it with what is stored. */
  storePage: (input: StorePageInput) => Promise<PageResult>;
  /** A dry run: storePage compares, and the logs say what would have been stored. */
  dryRun: boolean;
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
  /** The run's request budgets, one per API key, shared by its projects and their slices. */
  budgets: RequestBudgets;
}

/** One list walked page by page. */
interface WalkSpec {
  filter: ListFilter | undefined;
  startToken: string | undefined;
  pagesBefore: number;
  /** Save each page's next token (false for lists that are not resumed: the by-id refresh). */
  checkpoint: boolean;
  /** The slice of a sliced walk: its checkpoint is the slice's. */
  slice?: number | undefined;
  /** Only these jobs and rejects of each page are stored (the others were taken from another slice). */
  keep?: ((job: NormalizedJob) => boolean) | undefined;
  keepReject?: ((reject: Reject) => boolean) | undefined;
  signal: AbortSignal | undefined;
  /** The project's total_size to record: 'page' for the one the unfiltered list's pages give. */
  totalSize: number | 'page' | undefined;
}

type Walk = (spec: WalkSpec) => Promise<boolean>;

/** A page token the API refuses (400): the walk it belongs to starts over instead of failing for good. */
function isRefusedToken(error: unknown): error is ApiError {
  return error instanceof ApiError && error.status === 400;
}

function timeFilter(filter: TimeFilter): ListFilter {
  return {
    ...(filter.createdAtOnOrAfter !== undefined && { createdAtOnOrAfter: filter.createdAtOnOrAfter }),
    ...(filter.createdAtOnOrBefore !== undefined && { createdAtOnOrBefore: filter.createdAtOnOrBefore }),
  };
}

/** Does a reject's raw item carry a created_at (then a slice listed it; the unfiltered pass skips it)? */
function rejectHasCreatedAt(reject: Reject): boolean {
  try {
    const item = JSON.parse(reject.payload) as { created_at?: unknown } | null;
    return typeof item?.created_at === 'string';
  } catch {
    return false;
  }
}

interface SliceWalkContext {
  walk: Walk;
  store: SyncStore;
  projectId: string;
  apiVersion: ApiVersion;
  signal: AbortSignal | undefined;
  log: Logger;
  totalSize: number | undefined;
}

/**
 * Walks the unfinished slices in parallel, each from its own saved token (the requests share the key's
 * budget). A failing slice stops the others after their page in hand (each keeps its token, so the next
 * sync resumes them) and its error is the project's. False when the run was stopped.
 */
async function walkSlices(slices: readonly SliceState[], ctx: SliceWalkContext): Promise<boolean> {
  const dedup = new BoundaryDedup(slices.filter((s) => !s.unfiltered));
  const stop = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
  let failure: { error: unknown } | undefined;
  const walkOne = async (slice: SliceState): Promise<void> => {
    let token = slice.pageToken;
    let before = slice.pages;
    const filter = slice.unfiltered ? undefined : timeFilter(slice);
    while (true) {
      try {
        const finished = await ctx.walk({
          filter,
          startToken: token,
          pagesBefore: before,
          checkpoint: true,
          slice: slice.slice,
          // The unfiltered pass is for the jobs no slice lists: the others were stored by their slice.
          keep: slice.unfiltered ? (j) => j.job.createdAt == null : (j) => dedup.first(j.job.id, j.job.createdAt ?? null),
          keepReject: slice.unfiltered ? (r) => !rejectHasCreatedAt(r) : undefined,
          signal,
          totalSize: ctx.totalSize,
        });
        if (finished) slice.done = true;
        return;
      } catch (error) {
        if (token !== undefined && isRefusedToken(error) && !signal.aborted) {
          ctx.log.warn(
            { slice: slice.slice, detail: error.detail },
            "the API refused a slice's saved page token; walking that slice from its first page",
          );
          await ctx.store.restartSlice(ctx.projectId, ctx.apiVersion, slice.slice);
          token = undefined;
          before = 0;
          continue;
        }
        throw error;
      }
    }
  };
  await Promise.all(
    slices
      .filter((s) => !s.done)
      .map((slice) =>
        walkOne(slice).catch((error: unknown) => {
          failure ??= { error };
          stop.abort();
        }),
      ),
  );
  if (failure !== undefined && !ctx.signal?.aborted) throw failure.error;
  return !ctx.signal?.aborted && slices.every((s) => s.done);
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
    slices: undefined,
    requests: 0,
    rateLimited: 0,
    requestsPerSecond: undefined,
    error: undefined,
    warning: undefined,
  };
}

/** The result of a project that did nothing, for `reason`. */
export function skippedResult(config: Config, project: ProjectConfig, reason: string): ProjectResult {
  return { ...initialResult(config, project), status: 'skipped', warning: reason };
}

const BASE_URL_SETTING = 'LLAMA_CLOUD_BASE_URL (or baseUrl in the config file)';

/** The one-line advice for an API failure, by status. */
export function describeFailure(error: unknown, project: ProjectConfig, config: Pick<Config, 'baseUrl' | 'secrets' | 'api'>): string {
  let text: string;
  if (config.api !== 'auto' && isRouteNotFound(error)) {
    // FastAPI's 404 for a route it does not have: the version asked for is the problem, not the project.
    const path = config.api === 'v2' ? V2_PATH : V1_PATH;
    const other = config.api === 'v2' ? 'v1' : 'v2';
    text = `${config.baseUrl} does not serve API ${config.api} (GET ${path} is 404 Not Found): use --api auto, or --api ${other} if this deployment speaks it`;
  } else if (error instanceof ApiError) {
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
        : error.kind === 'network' && !error.retryable
          ? `fetch refuses this address (a blocked port or scheme), so no retry can help: fix ${BASE_URL_SETTING}`
          : error.kind === 'network'
            ? `unreachable through every retry: check ${BASE_URL_SETTING} and the network, then run again (the walk resumes from its saved page)`
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
  /** What the walk asked of the API, as the run record keeps it: the rate is over the walk so far. */
  const trafficNow = (): ProjectTraffic => {
    const seconds = (now() - started) / 1000;
    result.requestsPerSecond = seconds > 0 && result.requests > 0 ? result.requests / seconds : undefined;
    return {
      requests: result.requests,
      rateLimited: result.rateLimited,
      requestsPerSecond: result.requestsPerSecond,
      slices: result.slices,
    };
  };
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
    const onResponse = ({ status, durationMs }: { status: string; durationMs: number }) => {
      result.requests += 1;
      if (status === '429') result.rateLimited += 1;
      ctx.observer?.request?.({ projectId: project.id, status, durationMs });
    };
    const budget = ctx.budgets.for(apiKey);

    if (config.api === 'auto') {
      try {
        const detection = await detectApiVersion(config, { ...project, apiKey }, { signal, onRetry, onResponse, budget });
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
    if (plan.resumeToken === undefined && plan.slices === undefined)
      await store.beginWalk(project.id, apiVersion, { kind: plan.kind, filter: plan.filter ?? null, at: isoNow() });
    await store.startProject({ runId, projectId: project.id, apiVersion, mode: plan.mode });
    plog.info({ apiVersion, mode: plan.mode, kind: plan.kind, pagesBefore: plan.pagesBefore }, `walk planned: ${plan.reason}`);
    /** Pages earlier runs stored of the walk this one resumes, for its progress. */
    let resumedPages = plan.pagesBefore;

    const quarantinedMsg = ctx.dryRun ? 'item would be quarantined in sync_rejects' : 'item quarantined in sync_rejects';
    /** Walks one list (the project, or the part of it `spec.filter` selects), storing page by page; false when stopped. */
    const walk = async (spec: WalkSpec): Promise<boolean> => {
      const fetchPage = projectPageFetcher(config, { ...project, apiKey }, apiVersion, {
        signal: spec.signal,
        onRetry,
        filter: spec.filter,
        onResponse,
        budget,
      });
      for await (const page of pages(fetchPage, {
        startToken: spec.startToken,
        pagesBefore: spec.pagesBefore,
        maxPages: config.maxPages,
      })) {
        if (spec.signal?.aborted) return false;
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
        const jobs = spec.keep ? normalized.jobs.filter(spec.keep) : normalized.jobs;
        const rejects = spec.keepReject ? normalized.rejects.filter(spec.keepReject) : normalized.rejects;
        for (const r of rejects) plog.warn({ reason: r.reason, id: r.id }, quarantinedMsg);
        const retries = pendingRetries;
        pendingRetries = 0;
        // A filtered list's total_size is not the project's.
        const totalSize = spec.totalSize === 'page' ? page.totalSize : spec.totalSize;
        const counts = await withDbRetries(
          () =>
            ctx.storePage({
              runId,
              projectId: project.id,
              apiVersion,
              pageNumber: page.number,
              jobs,
              rejects,
              nextPageToken: page.nextPageToken,
              retries,
              totalSize,
              trackSeen: plan.kind === 'full',
              checkpoint: spec.checkpoint,
              slice: spec.slice,
            }),
          {
            onRetry: ({ attempt, error }) => plog.warn({ attempt, err: describeDbError(error) }, 'page transaction failed, retrying'),
          },
        );
        for (const q of counts.quarantined) plog.warn({ reason: q.reason, id: q.id }, quarantinedMsg);
        ctx.observer?.page?.({ projectId: project.id, counts });
        result.pages += 1;
        result.retries += retries;
        result.jobsSeen += counts.jobsSeen;
        result.inserted += counts.inserted;
        result.updated += counts.updated;
        result.unchanged += counts.unchanged;
        result.rejects += counts.rejects;
        plog.debug(
          { page: page.number, slice: spec.slice, items: page.items.length, ...counts },
          ctx.dryRun ? 'page compared' : 'page stored',
        );
        ctx.onProgress?.({
          projectId: project.id,
          pages: resumedPages + result.pages,
          resumedPages,
          jobs: resumedPages * config.pageSize + result.jobsSeen,
          jobsThisRun: result.jobsSeen,
          totalSize,
          elapsedMs: now() - started,
        });
      }
      return true;
    };

    /** total_size of the v2 list with these creation-time filters (one item asked for). */
    const countProbe: CountProbe = async (filter) =>
      (
        await projectPageFetcher(config, { ...project, apiKey }, 'v2', {
          signal,
          onRetry,
          onResponse,
          budget,
          pageSize: 1,
          filter: timeFilter(filter),
        })(undefined)
      ).totalSize;

    let pagesBefore = plan.pagesBefore;
    let slices = plan.slices;
    let projectTotal: number | undefined;
    if (slices === undefined && plan.kind === 'full' && apiVersion === 'v2' && plan.resumeToken === undefined) {
      const stored = await store.storedCreatedAt(project.id);
      const slicing = await planSlices({
        count: countProbe,
        stored: { ...stored, quantiles: (fractions) => store.createdAtQuantiles(project.id, fractions) },
        slices: config.slices,
        maxSlices: config.maxInFlight,
        pageSize: config.pageSize,
        nowMs: now(),
      });
      projectTotal = slicing.total;
      if (slicing.sliced) {
        slices = await store.addSlices(project.id, apiVersion, 0, slicing.ranges);
        const boundaries = slicing.ranges.flatMap((r) => (r.createdAtOnOrBefore ? [r.createdAtOnOrBefore] : []));
        plog.info({ slices: slices.length, totalSize: slicing.total, boundaries }, `sliced walk: ${slicing.reason}`);
      } else {
        plog.info({ totalSize: slicing.total }, `one cursor chain: ${slicing.reason}`);
      }
    }
    result.slices = slices?.filter((s) => !s.unfiltered).length ?? 1;

    let finished = false;
    if (slices !== undefined) {
      const sliceWalk: SliceWalkContext = { walk, store, projectId: project.id, apiVersion, signal, log: plog, totalSize: projectTotal };
      finished = await walkSlices(slices, sliceWalk);
      if (finished && !slices.some((s) => s.unfiltered)) {
        // Jobs without created_at, or created without one while the slices ran, are in no slice: when
        // the API says there are any (or cannot say), one pass over the whole list stores them.
        const { missing } = await jobsWithoutCreatedAt(countProbe);
        if (missing !== 0) {
          plog.info(
            { missing },
            missing === undefined
              ? 'the list no longer gives total_size: walking the whole list once for jobs without created_at'
              : `${missing} jobs have no created_at: walking the whole list once for them`,
          );
          const pass = await store.addSlices(project.id, apiVersion, Math.max(...slices.map((s) => s.slice)) + 1, [
            { createdAtOnOrAfter: undefined, createdAtOnOrBefore: undefined, unfiltered: true },
          ]);
          finished = await walkSlices(pass, sliceWalk);
        }
      }
    } else {
      let resumeToken = plan.resumeToken;
      while (true) {
        try {
          finished = await walk({
            filter: plan.filter,
            startToken: resumeToken,
            pagesBefore,
            checkpoint: true,
            signal,
            totalSize: plan.kind === 'full' ? 'page' : undefined,
          });
          break;
        } catch (error) {
          // A saved token the API no longer accepts: start the same walk over instead of failing for good.
          if (resumeToken && result.pages === 0 && isRefusedToken(error)) {
            plog.warn({ detail: error.detail }, 'the API refused the saved page token; walking from the first page');
            resumeToken = undefined;
            pagesBefore = 0;
            resumedPages = 0;
            result.mode = plan.kind;
            await store.beginWalk(project.id, apiVersion, { kind: plan.kind, filter: plan.filter ?? null, at: isoNow() });
            continue;
          }
          throw error;
        }
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
        finished = await walk({
          filter: { jobIds },
          startToken: undefined,
          pagesBefore: 0,
          checkpoint: false,
          signal,
          totalSize: undefined,
        });
      }
    }

    if (!finished || signal?.aborted) {
      result.status = 'cancelled';
      await store.finishProject(runId, project.id, { status: 'cancelled', retries: pendingRetries, traffic: trafficNow() });
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
    await store.finishProject(runId, project.id, {
      status: 'succeeded',
      retries: pendingRetries,
      pagesSaved: result.pagesSaved,
      traffic: trafficNow(),
    });
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
        slices: result.slices,
        requests: result.requests,
        rateLimited: result.rateLimited,
        elapsedMs: now() - started,
      },
      'project synced',
    );
    return result;
  } catch (error) {
    if (signal?.aborted) {
      // The stop request aborted a request in flight: what was stored stays, the token resumes it.
      result.status = 'cancelled';
      await store.finishProject(runId, project.id, { status: 'cancelled', retries: pendingRetries, traffic: trafficNow() });
      return result;
    }
    result.status = 'failed';
    result.retries += pendingRetries;
    // A walk the API sent in circles cannot be resumed from its token: the next sync starts over.
    if (error instanceof WalkError) await store.beginWalk(project.id, apiVersion).catch(() => undefined);
    result.error = error instanceof ConfigProblem ? error.message : describeFailure(error, project, config);
    plog.error({ err: scrub(describeDbError(error), config.secrets) }, `project failed: ${result.error}`);
    await store
      .finishProject(runId, project.id, { status: 'failed', error: result.error, retries: pendingRetries, traffic: trafficNow() })
      .catch((e: unknown) => plog.error({ err: errorMessage(e) }, 'could not record the failure'));
    return result;
  }
}
