// `classify-sync worker`: the schedule (worker/schedule.ts) in a long-lived process, with /healthz and
// /metrics when asked, and an orderly stop.
//
// - Stop: the first SIGTERM/SIGINT/SIGHUP stops scheduling and the run between pages (the page being
//   stored commits; the run is recorded `cancelled`), then closes everything and exits 0, within
//   shutdownTimeoutMs or exits 1. A second signal exits at once with 128 + the signal's number.
// - Started by a package manager (`npx classify-sync worker`), the worker also stops that way when its
//   parent exits: npm 11 does not pass SIGTERM on to this process, so without the watch a `kill <npm pid>`
//   would leave the worker running, reparented, still syncing.
import { constants as osConstants } from 'node:os';
import { assertRunnable, loadConfig, type ConfigOverrides } from '../config.ts';
import { openDatabase, type Database } from '../db/connect.ts';
import { projectFreshness } from '../db/runs.ts';
import { errorCode, errorMessage } from '../errors.ts';
import { createLogger, scrub } from '../log.ts';
import { checkHealth, startHealthServer, type HealthServer } from '../worker/health.ts';
import { createMetrics } from '../worker/metrics.ts';
import { createWorker } from '../worker/schedule.ts';
import type { Io } from './shared.ts';

const SECOND = 1000;
/** How often the worker checks that its launcher is still there (a stop starts within about this). */
const PARENT_CHECK_MS = SECOND;
/** Signals that stop the worker cleanly; SIGHUP: the terminal it was started from closed. */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

export interface WorkerCommandOptions {
  runNow: boolean;
  /** How the process ends when it cannot wait (second signal, shutdown timeout). Default process.exit. */
  exit?: ((code: number) => void) | undefined;
}

/**
 * The whole `worker` command: opens the database, serves /healthz and /metrics when asked, schedules
 * runs, and on SIGTERM/SIGINT shuts down in order. Resolves with the exit code.
 */
export async function runWorkerCommand(overrides: ConfigOverrides, options: WorkerCommandOptions, io: Io): Promise<number> {
  const config = loadConfig(overrides, io.env);
  assertRunnable(config);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = createLogger({ level: config.logLevel, secrets: config.secrets, format: config.logFormat });
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
    database = await openDatabase(config, log);
  } catch (error) {
    started();
    throw error;
  }
  const projectIds = config.projects.map((p) => p.id);
  const metrics = createMetrics({
    projectIds,
    freshness: () => projectFreshness(database.db, projectIds),
    onError: (error) => log.warn({ err: errorMessage(error) }, 'metrics could not read the last successes'),
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
      const code = errorCode(error) ?? errorMessage(error);
      io.stderr.write(
        `classify-sync: cannot serve /healthz and /metrics on ${config.metricsHost} port ${config.metricsPort} (${code}): pick another --metrics-port or --metrics-host\n`,
      );
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
      void (async () => {
        await worker.stop();
        await server?.close();
        await database.close();
        log.info({ code }, 'worker stopped');
        log.flush();
        return code;
      })()
        .catch((error: unknown) => {
          io.stderr.write(`classify-sync: error while stopping: ${scrub(errorMessage(error), config.secrets)}\n`);
          return 1;
        })
        .then((exitCode) => {
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
        log.warn(
          { launcher: config.launcher, parentPid, shutdownTimeoutMs: config.shutdownTimeoutMs },
          'stopping: the launcher exited (its signal was not passed on); no new page starts; the page being stored commits',
        );
        shutdown(0);
      }, PARENT_CHECK_MS);
      // The watch alone must not keep the process alive.
      parentWatch.unref();
    }
    worker.start().catch((error: unknown) => {
      io.stderr.write(`classify-sync: the worker could not start: ${scrub(errorMessage(error), config.secrets)}\n`);
      shutdown(1);
    });
  });
}
