// Commands and flags only: parses argv, calls into the rest, maps errors to exit codes.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { assertRunnable, ConfigError, envSecrets, loadConfig, type Config, type ConfigOverrides } from './config.ts';
import { connect, DatabaseError, type Database } from './db/connect.ts';
import { createLogger, scrub, type Logger } from './log.ts';
import { logProgress, ttyProgress, type ProgressReporter } from './progress.ts';
import { runSync, type RunResult, type Trigger } from './sync.ts';

export const EXIT = { ok: 0, cannotRun: 1, someFailed: 2 } as const;

export interface Io {
  env: Readonly<Record<string, string | undefined>>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

const USAGE = `classify-sync — export LlamaCloud classify jobs into PostgreSQL

Usage: classify-sync <command> [flags]

Commands:
  sync        one pass over the configured projects; resumes interrupted walks from their saved page token.
              On v2 it is incremental (recent and in-flight jobs only) unless a full walk is due
              (fullRefreshDays) or --full is given; only full walks detect deletions
  backfill    one full pass from the first page of every project (--resume continues from saved tokens)
  migrate     apply pending database migrations
  worker      stay running and sync on a schedule (see docs/worker.md); SIGTERM/SIGINT/SIGHUP stop it cleanly
  report      job outcomes from the database: per project, daily trend, top errors, rule types, freshness
  demo        sync a bundled LlamaCloud simulator into an embedded database and print a summary
  simulator   run the bundled LlamaCloud simulator as a standalone server (see --help there)

Flags:
  --project <id>         project to sync or report on (repeatable; replaces the configured list)
  --organization <id>    organization id sent with every request
  --api <auto|v1|v2>     API version to speak (default auto: per project v2, or v1 where v2 is not served)
  --config <file>        JSON config file (default: $CLASSIFY_SYNC_CONFIG)
  --page-size <n>        items per page, 1..100 (default 100)
  --concurrency <n>      projects synced in parallel (default 4)
  --full                 sync: walk every job (and detect deletions) even if no full walk is due
  --resume               backfill: continue from saved page tokens
  --allow-mass-delete    mark jobs deleted even when a walk saw under half of the stored ones
  --pglite-dir <dir>     embedded database directory when DATABASE_URL is unset (default ./data/pglite)
  --log-level <level>    fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help             show this help

Worker flags:
  --schedule '<cron>'    when to sync: 5 fields, or 6 with seconds first (default '0 2 * * *')
  --timezone <zone>      IANA time zone of the schedule (default UTC)
  --run-now              also sync once at start (else only when a project missed its last slot)
  --metrics-port <port>  serve GET /healthz and GET /metrics on this port (default: off)
  --metrics-host <addr>  address they listen on (default 127.0.0.1, this host only; the image: 0.0.0.0)

Report flags (with --project, --config, --pglite-dir, --log-level):
  --since <when>         jobs created since: 12h, 7d, 2w, or a date like 2026-01-01 (UTC) (default 30d)
  --format <format>      table (default) | json | csv | html (one self-contained page)
  --out <file>           write the report to a file instead of stdout

Environment:
  LLAMA_CLOUD_API_KEY    API key (default for every project; a project may name its own apiKeyEnv)
  LLAMA_CLOUD_BASE_URL   API base URL (default https://api.cloud.llamaindex.ai)
  DATABASE_URL           postgres://… ; unset: embedded PGlite
  CLASSIFY_SYNC_CONFIG   config file path
  CLASSIFY_SYNC_PROJECTS comma-separated project ids (replaces the configured list; --project wins)
  CLASSIFY_SYNC_SCHEDULE, CLASSIFY_SYNC_TIMEZONE, CLASSIFY_SYNC_METRICS_PORT, CLASSIFY_SYNC_METRICS_HOST
                         worker settings (flags win)

Exit codes: 0 every project synced (or was skipped: another process held its lock); 1 nothing could
            run (bad config, database unreachable); 2 some projects failed (one line each on stderr)
            worker: 0 stopped cleanly; 1 could not start, or did not stop within shutdownTimeoutMs;
            128+n a second signal n forced the exit (130 SIGINT, 143 SIGTERM)
`;

const FLAGS = {
  project: { type: 'string', multiple: true },
  organization: { type: 'string' },
  api: { type: 'string' },
  config: { type: 'string' },
  'page-size': { type: 'string' },
  concurrency: { type: 'string' },
  full: { type: 'boolean' },
  resume: { type: 'boolean' },
  'allow-mass-delete': { type: 'boolean' },
  'pglite-dir': { type: 'string' },
  'log-level': { type: 'string' },
  schedule: { type: 'string' },
  timezone: { type: 'string' },
  'run-now': { type: 'boolean' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const REPORT_FLAGS = {
  project: FLAGS.project,
  config: FLAGS.config,
  'pglite-dir': FLAGS['pglite-dir'],
  'log-level': FLAGS['log-level'],
  help: FLAGS.help,
  since: { type: 'string' },
  format: { type: 'string' },
  out: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>>['values'];

/** Thrown for a wrong command line; exits 1 with the message and a pointer to --help. */
class UsageError extends Error {}

function integerFlag(flags: Flags, name: 'page-size' | 'concurrency' | 'metrics-port'): number | undefined {
  const value = flags[name];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} takes a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

export function overridesFrom(flags: Flags): ConfigOverrides {
  return {
    configFile: flags.config,
    projects: flags.project,
    organizationId: flags.organization,
    api: flags.api,
    pageSize: integerFlag(flags, 'page-size'),
    concurrency: integerFlag(flags, 'concurrency'),
    allowMassDelete: flags['allow-mass-delete'],
    pgliteDir: flags['pglite-dir'],
    logLevel: flags['log-level'],
    schedule: flags.schedule,
    timezone: flags.timezone,
    metricsPort: integerFlag(flags, 'metrics-port'),
    metricsHost: flags['metrics-host'],
  };
}

function line(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}

/** Opens the database and applies pending migrations. */
export async function openDatabase(config: Config, log: Logger): Promise<Database> {
  // Per project in parallel: one connection holding its advisory lock, one for its page transactions;
  // plus the run's own lock and a few for run bookkeeping and /healthz.
  const database = await connect({ databaseUrl: config.databaseUrl, pgliteDir: config.pgliteDir, maxConnections: config.concurrency * 2 + 3 });
  log.info({ database: database.description, kind: database.kind }, 'database connected');
  await database.migrate();
  return database;
}

export function printResult(result: RunResult, io: Io): void {
  for (const p of result.projects) {
    const label = p.name ? `${p.projectId} (${p.name})` : p.projectId;
    if (p.status === 'failed') {
      line(io.stderr, `classify-sync: project ${label} failed: ${p.error ?? 'unknown error'}`);
    } else if (p.status === 'skipped') {
      line(io.stderr, `classify-sync: project ${label} skipped: ${p.warning ?? 'no reason given'}`);
    } else {
      const saved = !p.pagesSaved ? '' : p.pagesSaved > 0 ? `, ${p.pagesSaved} fewer than a full walk` : `, ${-p.pagesSaved} more than a full walk`;
      line(io.stderr, `classify-sync: project ${label} ${p.status} (${p.apiVersion}, ${p.mode}): ${p.pages} pages${saved}, ${p.jobsSeen} jobs `
        + `(${p.inserted} new, ${p.updated} updated, ${p.unchanged} unchanged, ${p.deleted} deleted), `
        + `${p.rejects} rejected, ${p.retries} retries${p.warning ? `; warning: ${p.warning}` : ''}`);
    }
  }
}

export function exitCodeOf(result: RunResult): number {
  return result.projects.some((p) => p.status === 'failed') ? EXIT.someFailed : EXIT.ok;
}

async function runCommand(command: Trigger, flags: Flags, io: Io): Promise<number> {
  const config = loadConfig(overridesFrom(flags), io.env);
  assertRunnable(config);
  const log = createLogger({ level: config.logLevel, secrets: config.secrets });
  const database = await openDatabase(config, log);
  const controller = new AbortController();
  const stop = () => controller.abort(new Error('stopped by signal'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let reporter: ProgressReporter | undefined;
  if (command === 'backfill') {
    reporter = io.stderr.isTTY
      ? ttyProgress(io.stderr as NodeJS.WriteStream, config.projects.map((p) => p.id))
      : logProgress(log);
  }
  try {
    const result = await runSync({
      config, database, log, trigger: command,
      fromStart: command === 'backfill' && !flags.resume,
      full: command === 'backfill' || flags.full,
      signal: controller.signal,
      onProgress: reporter ? (p) => reporter.update(p) : undefined,
    });
    reporter?.done();
    printResult(result, io);
    return exitCodeOf(result);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await database.close();
    log.flush();
  }
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    line(command === undefined ? io.stderr : io.stdout, USAGE);
    return command === undefined ? EXIT.cannotRun : EXIT.ok;
  }
  try {
    if (command === 'simulator') {
      const { runSimulatorCli } = await import('./simulator/main.ts');
      await runSimulatorCli([...rest]);
      return EXIT.ok;
    }
    if (command === 'report') {
      const { values } = parseArgs({ args: [...rest], options: REPORT_FLAGS, allowPositionals: false, strict: true });
      if (values.help) {
        line(io.stdout, USAGE);
        return EXIT.ok;
      }
      const { runReport } = await import('./report/command.ts');
      return await runReport(values, io);
    }
    const { values: flags } = parseArgs({ args: [...rest], options: FLAGS, allowPositionals: false, strict: true });
    if (flags.help) {
      line(io.stdout, USAGE);
      return EXIT.ok;
    }
    switch (command) {
      case 'sync':
      case 'backfill':
        return await runCommand(command, flags, io);
      case 'migrate': {
        const config = loadConfig(overridesFrom(flags), io.env);
        const log = createLogger({ level: config.logLevel, secrets: config.secrets });
        const database = await openDatabase(config, log);
        await database.close();
        line(io.stderr, `classify-sync: migrations applied to ${database.description}`);
        return EXIT.ok;
      }
      case 'worker': {
        const config = loadConfig(overridesFrom(flags), io.env);
        const { runWorkerCommand } = await import('./worker.ts');
        return await runWorkerCommand(config, { runNow: flags['run-now'] ?? false, openDatabase }, io);
      }
      case 'demo': {
        const { runDemo } = await import('./demo.ts');
        return await runDemo(overridesFrom(flags), io);
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    const message = scrub((error as Error).message ?? String(error), envSecrets(io.env));
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      line(io.stderr, `classify-sync: ${message} (see classify-sync --help)`);
    } else if (error instanceof ConfigError || error instanceof DatabaseError) {
      line(io.stderr, `classify-sync: ${message}`);
    } else {
      line(io.stderr, `classify-sync: unexpected error: ${message}`);
    }
    return EXIT.cannotRun;
  }
}

// `node dist/cli.js …` (the container image) runs the CLI directly; bin/classify-sync.js imports main().
// Not awaited at top level: this module must finish evaluating, or the modules it imports lazily that
// import it back (demo.ts) would wait on it forever (Node exits 13, "unsettled top-level await").
if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}
