// `classify-sync sync` and `classify-sync backfill`: one run over the configured projects.
import { assertRunnable, loadConfig, type ConfigOverrides } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { createLogger } from '../log.ts';
import { runSync, type Trigger } from '../sync/run.ts';
import { progressReporter, progressTerminal } from './progress.ts';
import { exitCodeOf, printDryRun, printResult, type Io } from './shared.ts';

export interface SyncCommandOptions {
  /** backfill: continue from saved page tokens instead of the first page. */
  resume: boolean;
  /** sync: walk every job (and detect deletions) even if no full walk is due. */
  full: boolean;
  /** Walk and compare, write nothing; print what would change on stdout (logs go to stderr). */
  dryRun?: boolean | undefined;
}

export async function runSyncCommand(
  command: Extract<Trigger, 'sync' | 'backfill'>,
  overrides: ConfigOverrides,
  options: SyncCommandOptions,
  io: Io,
): Promise<number> {
  const config = loadConfig(overrides, io.env);
  assertRunnable(config);
  const dryRun = options.dryRun ?? false;
  // On a terminal, progress is drawn below the log lines; the logger writes through it (progress.ts).
  // A dry run's stdout carries its report: its logs, and so its progress, go to stderr.
  const terminal = progressTerminal(dryRun ? { stdout: io.stderr, stderr: io.stderr } : io);
  const log = createLogger({
    level: config.logLevel,
    secrets: config.secrets,
    format: config.logFormat,
    stderr: dryRun,
    destination: terminal?.logs,
  });
  const database = await openDatabase(config, log, { readOnly: dryRun });
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('stopped by signal'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // backfill: from the first page; sync: once a walk has run LONG_WALK_MS.
  const reporter = progressReporter(command === 'backfill' ? 'always' : 'long', terminal?.block, config.projects, log);
  try {
    const result = await runSync({
      config,
      database,
      log,
      trigger: command,
      fromStart: command === 'backfill' && !options.resume,
      full: command === 'backfill' || options.full,
      signal: controller.signal,
      onProgress: (p) => reporter.update(p),
      dryRun,
    });
    reporter.done();
    if (dryRun) printDryRun(result, io);
    else printResult(result, io);
    return exitCodeOf(result);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await database.close();
    log.flush();
  }
}
