// The worker's schedule: runs `sync` on a node-cron schedule, in one process (the `worker` command in
// commands/worker.ts adds signals, /healthz and /metrics around it).
//
// - Never two runs at once in this process: a tick that fires while a run is in flight is skipped and
//   logged. Across processes, runSync takes an advisory lock per project, and a worker run skips a
//   project another replica already synced since the tick's slot (so each slot syncs each project once).
// - Catch-up: at start, projects with no successful sync started within one schedule interval (the
//   worker was down over their slot, or they never synced) are synced at once.
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

/** Why a worker run started. */
export type RunReason = 'schedule' | 'catch-up' | 'run-now';

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

export function createWorker(options: WorkerOptions): Worker {
  const { config, database, log, metrics } = options;
  const now = options.clock ?? Date.now;
  const stopping = new AbortController();
  let current: Promise<void> | undefined;
  let task: ScheduledTask | undefined;
  let stopped: Promise<void> | undefined;

  /** Starts a run unless one is in flight (then the request is skipped and logged). */
  function run(reason: RunReason, extra: { projects?: readonly ProjectConfig[]; skipSyncedSince?: Date; slot?: Date } = {}): Promise<void> {
    if (stopping.signal.aborted) return Promise.resolve();
    const slot = extra.slot?.toISOString();
    if (current) {
      log.warn({ reason, slot }, 'tick skipped: the previous run is still in flight');
      metrics?.tickSkipped();
      return Promise.resolve();
    }
    const runLog = log.child({ reason, ...(slot && { slot }) });
    const started = performance.now();
    current = (async () => {
      metrics?.runStarted();
      let result: RunResult | undefined;
      try {
        result = await runSync({
          config: { ...config, projects: extra.projects ?? config.projects },
          database,
          log: runLog,
          trigger: 'worker',
          signal: stopping.signal,
          skipSyncedSince: extra.skipSyncedSince,
          observer: metrics?.observer,
        });
      } catch (error) {
        const message = scrub(errorMessage(error), config.secrets);
        runLog.error({ err: message }, `run failed: ${message}; the next tick tries again`);
      } finally {
        metrics?.runFinished(result, performance.now() - started);
        current = undefined;
      }
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
      task = cron.createTask(config.schedule, (context) => run('schedule', { slot: context.date, skipSyncedSince: context.date }), {
        name: 'classify-sync',
        timezone: config.timezone,
        logger: cronLogger(log),
      });
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
        stopping.abort(new Error('the worker is stopping'));
        await current;
      })();
      return stopped;
    },
  };
}
