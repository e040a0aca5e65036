// `classify-sync worker`: a long-lived process that runs `sync` on a node-cron schedule.
//
// - Never two runs at once in this process: a tick that fires while a run is in flight is skipped and
//   logged. Across processes, runSync takes an advisory lock per project, and a worker run skips a
//   project another replica already synced since the tick's slot (so each slot syncs each project once).
// - Catch-up: at start, projects with no successful sync started within one schedule interval (the
//   worker was down over their slot, or they never synced) are synced at once.
// - Stop: the first SIGTERM/SIGINT/SIGHUP stops scheduling and the run between pages (the page being
//   stored commits; the run is recorded `cancelled`), then closes everything and exits 0, within
//   shutdownTimeoutMs or exits 1. A second signal exits at once with 128 + the signal's number.
// - Started by a package manager (`npx classify-sync worker`), the worker also stops that way when its
//   parent exits: npm 11 does not pass SIGTERM on to this process, so without the watch a `kill <npm pid>`
//   would leave the worker running, reparented, still syncing.
import { constants as osConstants } from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import type { Io } from './cli.ts';
import { assertRunnable, type Config, type ProjectConfig } from './config.ts';
import type { Database } from './db/connect.ts';
import { projectFreshness, projectsSyncedSince } from './db/runs.ts';
import { checkHealth, startHealthServer, type HealthServer } from './health.ts';
import { createLogger, scrub, type Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { runSync, type RunResult } from './sync.ts';

const SECOND = 1000;
/** How often the worker checks that its launcher is still there (a stop starts within about this). */
const PARENT_CHECK_MS = SECOND;
/** Signals that stop the worker cleanly; SIGHUP: the terminal it was started from closed. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

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
function cronLogger(log: Logger): NonNullable<Parameters<typeof cron.schedule>[2]>['logger'] {
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
  probe.destroy();
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
        const message = scrub((error as Error).message ?? String(error), config.secrets);
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
    const fresh = await projectsSyncedSince(database.db, config.projects.map((p) => p.id), since);
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
        log.info({ projects: due.map((p) => p.id), intervalMs }, 'catch-up: syncing now the projects not synced within the last schedule interval');
        void run('catch-up', { projects: due, skipSyncedSince: since });
      } catch (error) {
        log.error({ err: (error as Error).message }, 'catch-up check failed; waiting for the next tick');
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

export interface WorkerCommandOptions {
  runNow: boolean;
  /**
   * Connects and migrates (cli.ts' openDatabase). Passed in rather than imported: `node dist/cli.js`
   * is still evaluating cli.js (top-level await) when this runs, so importing it back would deadlock.
   */
  openDatabase: (config: Config, log: Logger) => Promise<Database>;
  /** How the process ends when it cannot wait (second signal, shutdown timeout). Default process.exit. */
  exit?: ((code: number) => void) | undefined;
}

/**
 * The whole `worker` command: opens the database, serves /healthz and /metrics when asked, schedules
 * runs, and on SIGTERM/SIGINT shuts down in order. Resolves with the exit code.
 */
export async function runWorkerCommand(config: Config, options: WorkerCommandOptions, io: Io): Promise<number> {
  assertRunnable(config);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = createLogger({ level: config.logLevel, secrets: config.secrets });
  // While it starts (connecting and migrating may wait on another replica's migration lock) the worker
  // has no run to finish: a stop request exits at once (a migration in flight is one transaction, rolled
  // back). Without a handler, PID 1 of a container ignores SIGTERM and the stop waits for SIGKILL.
  const stopWhileStarting = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'stopping while starting: no run had begun');
    log.flush();
    exit(0);
  };
  const started = () => {
    for (const signal of STOP_SIGNALS) process.off(signal, stopWhileStarting);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, stopWhileStarting);
  let database: Database;
  try {
    database = await options.openDatabase(config, log);
  } catch (error) {
    started();
    throw error;
  }
  const projectIds = config.projects.map((p) => p.id);
  const metrics = createMetrics({
    projectIds,
    freshness: () => projectFreshness(database.db, projectIds),
    onError: (error) => log.warn({ err: (error as Error).message }, 'metrics could not read the last successes'),
  });

  let server: HealthServer | undefined;
  if (config.metricsPort !== undefined) {
    try {
      server = await startHealthServer({
        port: config.metricsPort,
        host: config.metricsHost,
        registry: metrics.registry,
        health: () => checkHealth(database.db, { projectIds, staleAfterHours: config.staleAfterHours }),
        log,
        secrets: config.secrets,
      });
    } catch (error) {
      started();
      await database.close();
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      io.stderr.write(`classify-sync: cannot serve /healthz and /metrics on ${config.metricsHost} port ${config.metricsPort} (${code}): pick another --metrics-port or --metrics-host\n`);
      return 1;
    }
    log.info({ host: server.host, port: server.port }, 'serving /healthz and /metrics');
  }

  const worker = createWorker({ config, database, log, metrics, runNow: options.runNow });
  return new Promise<number>((resolve) => {
    let stopRequested = false;
    let parentWatch: NodeJS.Timeout | undefined;
    /** Stops in order (schedule, run, HTTP server, pool) and resolves with `code`; forced after shutdownTimeoutMs. */
    const shutdown = (code: number) => {
      stopRequested = true;
      clearInterval(parentWatch);
      const deadline = setTimeout(() => {
        log.error({ shutdownTimeoutMs: config.shutdownTimeoutMs }, 'did not stop within shutdownTimeoutMs; exiting anyway');
        io.stderr.write(`classify-sync: did not stop within ${config.shutdownTimeoutMs} ms (shutdownTimeoutMs): exiting anyway\n`);
        exit(1);
      }, config.shutdownTimeoutMs);
      deadline.unref();
      (async () => {
        await worker.stop();
        await server?.close();
        await database.close();
        log.info({ code }, 'worker stopped');
        log.flush();
        return code;
      })().catch((error: unknown) => {
        io.stderr.write(`classify-sync: error while stopping: ${scrub((error as Error).message ?? String(error), config.secrets)}\n`);
        return 1;
      }).then((exitCode) => {
        clearTimeout(deadline);
        // The signal handlers stay until the process ends, so a second signal still exits at once.
        resolve(exitCode);
      });
    };
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopRequested) {
        const code = 128 + (osConstants.signals[signal] ?? 0);
        log.error({ signal, code }, 'second signal: exiting at once; the next run marks the unfinished run abandoned');
        io.stderr.write(`classify-sync: ${signal} again: exiting at once (the next run marks the unfinished run abandoned)\n`);
        exit(code);
        return;
      }
      log.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'stopping: no new page starts; the page being stored commits');
      shutdown(0);
    };
    started();
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
    // A package manager that dies of a signal it did not pass on leaves this process reparented (to
    // PID 1 or a subreaper): that change of parent is the stop request. Only then, because a worker
    // started directly gets its signals itself and may be meant to outlive its shell (setsid, a
    // supervisor); and not when started by PID 1 (a container), whose parent never changes.
    const parentPid = process.ppid;
    if (config.launcher !== undefined && parentPid > 1) {
      parentWatch = setInterval(() => {
        if (stopRequested || process.ppid === parentPid) return;
        log.warn({ launcher: config.launcher, parentPid, shutdownTimeoutMs: config.shutdownTimeoutMs },
          'stopping: the launcher exited (its signal was not passed on); no new page starts; the page being stored commits');
        shutdown(0);
      }, PARENT_CHECK_MS);
      // The watch alone must not keep the process alive.
      parentWatch.unref();
    }
    worker.start().catch((error: unknown) => {
      io.stderr.write(`classify-sync: the worker could not start: ${scrub((error as Error).message ?? String(error), config.secrets)}\n`);
      shutdown(1);
    });
  });
}
