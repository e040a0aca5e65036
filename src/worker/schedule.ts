// The worker's schedule: runs `sync` on a node-cron schedule, in one process (the `worker` command in
// commands/worker.ts adds signals, /healthz and /metrics around it).
//
// - Never two runs at once in this process: a tick that fires while a run is in flight is skipped and
//   logged. Across processes, runSync takes an advisory lock per project, and a worker run skips a
//   project another replica already synced since the tick's slot (so each slot syncs each project once).
// - Catch-up: at start, projects with no successful sync started within one schedule interval (the
//   worker was down over their slot, or they never synced) are synced at once.
// - Retry: a project whose sync failed is synced again retryFailedAfterMinutes later, then twice as late
//   after each failed retry, never at or after the next slot (worker/retry.ts decides when). A retry
//   skips a project another run (a replica, a `sync`) synced successfully since the failure, and the
//   project lock still applies, so replicas retrying the same failure sync it once.
// - Stop: stop() ends scheduling and the run between pages (the page being stored commits; the run is
//   recorded `cancelled`).
import cron, { type ScheduledTask } from 'node-cron';
import type { Config, ProjectConfig } from '../config.ts';
import type { Database } from '../db/connect.ts';
import { projectsSyncedSince } from '../db/runs.ts';
import { errorMessage } from '../errors.ts';
import { scrub, type Logger } from '../log.ts';
import { runSync, type RunResult } from '../sync/run.ts';
import type { Metrics } from './metrics.ts';
import { decideRetry } from './retry.ts';

/** Why a worker run started. */
export type RunReason = 'schedule' | 'catch-up' | 'run-now' | 'retry';

export interface WorkerOptions {
  config: Config;
  database: Database;
  log: Logger;
  metrics?: Metrics | undefined;
  /** Run once at start, whatever the catch-up rule says. */
  runNow?: boolean | undefined;
  clock?: (() => number) | undefined;
}

export interface Worker {
  /** Starts the schedule, then the start-up run if one is due (it does not wait for that run). */
  start(): Promise<void>;
  /** Stops scheduling and the run in flight between pages, and waits for it. Idempotent. */
  stop(): Promise<void>;
  /** The run in flight, if any (resolves when it ends). */
  readonly inFlight: Promise<void> | undefined;
}

/** node-cron's own warnings (missed executions after a blocked event loop) go to our log as fields. */
function cronLogger(log: Logger): NonNullable<NonNullable<Parameters<typeof cron.schedule>[2]>['logger']> {
  const text = (message: string | Error) => (message instanceof Error ? message.message : message);
  return {
    info: (message) => log.info({ component: 'node-cron' }, message),
    warn: (message) => log.warn({ component: 'node-cron' }, message),
    error: (message, err) => log.error({ component: 'node-cron', err: err?.message }, text(message)),
    debug: (message) => log.debug({ component: 'node-cron' }, text(message)),
  };
}

/** The time between the schedule's next two slots: how old a last success may be before catch-up. */
export function scheduleIntervalMs(schedule: string, timezone: string): number {
  const probe = cron.createTask(schedule, () => undefined, { timezone });
  const [first, second] = probe.getNextRuns(2);
  void probe.destroy();
  if (!first || !second) throw new Error(`schedule ${schedule} has no next runs`);
  return second.getTime() - first.getTime();
}

/** A delay as an operator reads it: 30 min, 2 h 30 min, 1.2 s. */
function formatDelay(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const minutes = Math.round(ms / 60_000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

export function createWorker(options: WorkerOptions): Worker {
  const { config, database, log, metrics } = options;
  const now = options.clock ?? Date.now;
  const stopping = new AbortController();
  let current: Promise<void> | undefined;
  let task: ScheduledTask | undefined;
  let stopped: Promise<void> | undefined;
  /** The pending retry, if any: its timer and the projects it syncs again. */
  let retry: { timer: NodeJS.Timeout; projects: readonly ProjectConfig[] } | undefined;

  function cancelRetry(why: string): void {
    if (!retry) return;
    clearTimeout(retry.timer);
    log.info({ projects: retry.projects.map((p) => p.id) }, `retry dropped: ${why}`);
    retry = undefined;
  }

  /**
   * After a run: schedules the retry of the projects that failed (all of them when the run itself
   * failed), or says why there is none. `attempt` counts the retries of the same failure.
   */
  function planRetry(failed: readonly ProjectConfig[], attempt: number): void {
    if (failed.length === 0 || stopping.signal.aborted) return;
    const projects = failed.map((p) => p.id);
    const failedAt = now();
    const decision = decideRetry({
      afterMinutes: config.retryFailedAfterMinutes,
      attempt,
      failedAt,
      nextSlot: task?.getNextRun() ?? undefined,
    });
    if (!decision.retry) {
      if (decision.reason === 'disabled') {
        log.info({ projects }, 'no retry: retryFailedAfterMinutes is 0; the next slot syncs them');
      } else {
        log.info(
          { projects, attempt, retryAt: decision.at.toISOString(), nextRunAt: decision.nextSlot.toISOString() },
          'no retry: the next slot comes first and syncs them',
        );
      }
      return;
    }
    cancelRetry('a newer failure replaces it');
    const since = new Date(failedAt);
    const timer = setTimeout(() => {
      retry = undefined;
      log.info({ projects, attempt }, 'retrying the projects that failed');
      void run('retry', { projects: failed, skipSyncedSince: since, attempt });
    }, decision.delayMs);
    retry = { timer, projects: failed };
    for (const project of projects) metrics?.retryScheduled(project);
    log.info(
      { projects, attempt, delayMs: decision.delayMs, retryAt: decision.at.toISOString(), nextRunAt: task?.getNextRun()?.toISOString() },
      `retry scheduled: the projects that failed sync again in ${formatDelay(decision.delayMs)}`,
    );
  }

  /** Starts a run unless one is in flight (then the request is skipped and logged). */
  function run(
    reason: RunReason,
    extra: { projects?: readonly ProjectConfig[]; skipSyncedSince?: Date; slot?: Date; attempt?: number } = {},
  ): Promise<void> {
    if (stopping.signal.aborted) return Promise.resolve();
    const slot = extra.slot?.toISOString();
    if (current) {
      log.warn({ reason, slot }, `${reason === 'retry' ? 'retry' : 'tick'} skipped: the previous run is still in flight`);
      metrics?.tickSkipped();
      return Promise.resolve();
    }
    const projects = extra.projects ?? config.projects;
    const runLog = log.child({ reason, ...(slot && { slot }) });
    const started = performance.now();
    current = (async () => {
      metrics?.runStarted();
      let result: RunResult | undefined;
      try {
        result = await runSync({
          config: { ...config, projects },
          database,
          log: runLog,
          trigger: 'worker',
          signal: stopping.signal,
          skipSyncedSince: extra.skipSyncedSince,
          observer: metrics?.observer,
        });
      } catch (error) {
        const message = scrub(errorMessage(error), config.secrets);
        runLog.error({ err: message }, `run failed: ${message}`);
      } finally {
        metrics?.runFinished(result, performance.now() - started);
        current = undefined;
      }
      const failed = result ? new Set(result.projects.filter((p) => p.status === 'failed').map((p) => p.projectId)) : undefined;
      planRetry(
        projects.filter((p) => !failed || failed.has(p.id)),
        reason === 'retry' ? (extra.attempt ?? 1) + 1 : 1,
      );
    })();
    return current;
  }

  /** Projects with no successful sync started within one schedule interval. */
  async function dueForCatchUp(intervalMs: number): Promise<{ due: ProjectConfig[]; since: Date }> {
    const since = new Date(now() - intervalMs);
    const fresh = await projectsSyncedSince(
      database.db,
      config.projects.map((p) => p.id),
      since,
    );
    return { due: config.projects.filter((p) => !fresh.has(p.id)), since };
  }

  return {
    get inFlight() {
      return current;
    },
    async start() {
      if (task || stopping.signal.aborted) return;
      task = cron.createTask(
        config.schedule,
        (context) => {
          cancelRetry('the slot syncs every project');
          return run('schedule', { slot: context.date, skipSyncedSince: context.date });
        },
        {
          name: 'classify-sync',
          timezone: config.timezone,
          logger: cronLogger(log),
        },
      );
      await task.start();
      log.info({ schedule: config.schedule, timezone: config.timezone, nextRunAt: task.getNextRun()?.toISOString() }, 'worker started');
      if (options.runNow) {
        void run('run-now');
        return;
      }
      const intervalMs = scheduleIntervalMs(config.schedule, config.timezone);
      try {
        const { due, since } = await dueForCatchUp(intervalMs);
        if (due.length === 0) {
          log.info({ intervalMs }, 'no catch-up needed: every project synced within the last schedule interval');
          return;
        }
        log.info(
          { projects: due.map((p) => p.id), intervalMs },
          'catch-up: syncing now the projects not synced within the last schedule interval',
        );
        void run('catch-up', { projects: due, skipSyncedSince: since });
      } catch (error) {
        log.error({ err: errorMessage(error) }, 'catch-up check failed; waiting for the next tick');
      }
    },
    stop() {
      stopped ??= (async () => {
        await task?.destroy();
        if (retry) clearTimeout(retry.timer);
        retry = undefined;
        stopping.abort(new Error('the worker is stopping'));
        await current;
      })();
      return stopped;
    },
  };
}
