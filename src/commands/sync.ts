// `classify-sync sync` and `classify-sync backfill`: one run over the configured projects.
import { assertRunnable, loadConfig, type ConfigOverrides } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { createLogger } from '../log.ts';
import { runSync, type Trigger } from '../sync/run.ts';
import { logProgress, ttyProgress, type ProgressReporter } from './progress.ts';
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
  // A dry run's stdout carries its report: its logs go to stderr.
  const log = createLogger({ level: config.logLevel, secrets: config.secrets, stderr: dryRun });
  const database = await openDatabase(config, log, { readOnly: dryRun });
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('stopped by signal'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let reporter: ProgressReporter | undefined;
  if (command === 'backfill') {
    reporter = io.stderr.isTTY
      ? ttyProgress(
          io.stderr as NodeJS.WriteStream,
          config.projects.map((p) => p.id),
        )
      : logProgress(log);
  }
  try {
    const result = await runSync({
      config,
      database,
      log,
      trigger: command,
      fromStart: command === 'backfill' && !options.resume,
      full: command === 'backfill' || options.full,
      signal: controller.signal,
      onProgress: reporter ? (p) => reporter.update(p) : undefined,
      dryRun,
    });
    reporter?.done();
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
