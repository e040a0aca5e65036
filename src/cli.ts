// The command line: argv → a command and its options, and the usage text. The commands themselves are
// in commands/, one file each; this file only parses and dispatches.
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ConfigOverrides } from './config.ts';
import { EXIT, line, printFailure, UsageError, type Io } from './commands/shared.ts';
import { errorCode, errorMessage } from './errors.ts';
import { closest } from './suggest.ts';

const USAGE = `classify-sync — export LlamaCloud classify jobs into PostgreSQL

Usage: classify-sync <command> [flags]

Commands:
  sync        one pass over the configured projects; resumes interrupted walks from their saved page token.
              On v2 it is incremental (recent and in-flight jobs only) unless a full walk is due
              (fullRefreshDays) or --full is given; only full walks detect deletions
  backfill    one full pass from the first page of every project (--resume continues from saved tokens)
  migrate     apply pending database migrations and list them (or say the schema is current)
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
  --slices <n|auto>      a full v2 walk of one project as n creation-time slices in parallel (default auto)
  --full                 sync: walk every job (and detect deletions) even if no full walk is due
  --resume               backfill: continue from saved page tokens
  --allow-mass-delete    mark jobs deleted even when a walk saw under half of the stored ones
  --pglite-dir <dir>     embedded database directory when DATABASE_URL is unset (default ./data/pglite)
  --log-level <level>    fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help             show this help
  -V, --version          print the version

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
  slices: { type: 'string' },
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

const STATUS_FLAGS = {
  project: FLAGS.project,
  config: FLAGS.config,
  'pglite-dir': FLAGS['pglite-dir'],
  help: FLAGS.help,
  format: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const RESET_FLAGS = {
  project: FLAGS.project,
  config: FLAGS.config,
  'pglite-dir': FLAGS['pglite-dir'],
  help: FLAGS.help,
  yes: { type: 'boolean', short: 'y' },
  'delete-data': { type: 'boolean' },
} as const satisfies ParseArgsConfig['options'];

type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS; allowPositionals: true }>>['values'];

function integerFlag(flags: Flags, name: 'page-size' | 'concurrency' | 'slices' | 'metrics-port'): number | undefined {
  const value = flags[name];
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    throw new UsageError(`--${name} takes a whole number${name === 'slices' ? ' or auto' : ''}, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function overridesFrom(flags: Flags): ConfigOverrides {
  return {
    configFile: flags.config,
    projects: flags.project,
    organizationId: flags.organization,
    api: flags.api,
    pageSize: integerFlag(flags, 'page-size'),
    concurrency: integerFlag(flags, 'concurrency'),
    slices: flags.slices === 'auto' ? 'auto' : integerFlag(flags, 'slices'),
    allowMassDelete: flags['allow-mass-delete'],
    pgliteDir: flags['pglite-dir'],
    logLevel: flags['log-level'],
    schedule: flags.schedule,
    timezone: flags.timezone,
    metricsPort: integerFlag(flags, 'metrics-port'),
    metricsHost: flags['metrics-host'],
  };
}

const COMMANDS = ['sync', 'backfill', 'migrate', 'worker', 'report', 'status', 'reset', 'demo', 'simulator', 'help'];

/** The package's version, from the package.json next to src/ (or dist/). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** An unknown flag's error, with the known flag it most likely meant (`--full-refresh` → `--full`). */
function withSuggestion(error: unknown, flags: readonly string[]): unknown {
  if (errorCode(error) !== 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return error;
  const given = /'(-[^']*)'/.exec(errorMessage(error))?.[1];
  const guess = given === undefined ? undefined : closest(given.replace(/^-+/, '').split('=')[0] ?? '', flags);
  return guess === undefined ? error : new UsageError(`Unknown option '${given}': did you mean --${guess}?`);
}

/** argv after the command, by `options`; an unknown flag's error names the flag it most likely meant. */
function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: false, strict: true });
  } catch (error) {
    throw withSuggestion(error, Object.keys(options));
  }
}

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-V') {
    line(io.stdout, packageVersion());
    return EXIT.ok;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    line(command === undefined ? io.stderr : io.stdout, USAGE);
    return command === undefined ? EXIT.cannotRun : EXIT.ok;
  }
  try {
    // Each command's module is loaded when it runs: `report` never loads the sync, `sync` never the simulator.
    if (command === 'simulator') {
      const { runSimulatorCli } = await import('./commands/simulator.ts');
      await runSimulatorCli([...rest]);
      return EXIT.ok;
    }
    if (command === 'report') {
      const { values } = parseFlags(rest, REPORT_FLAGS);
      if (values.help) {
        line(io.stdout, USAGE);
        return EXIT.ok;
      }
      const { runReport } = await import('./commands/report.ts');
      return await runReport(values, io);
    }
    if (command === 'status') {
      const { values } = parseFlags(rest, STATUS_FLAGS);
      if (values.help) {
        line(io.stdout, USAGE);
        return EXIT.ok;
      }
      const { runStatus } = await import('./commands/status.ts');
      return await runStatus(values, io);
    }
    if (command === 'reset') {
      const { values } = parseFlags(rest, RESET_FLAGS);
      if (values.help) {
        line(io.stdout, USAGE);
        return EXIT.ok;
      }
      const { runReset } = await import('./commands/reset.ts');
      return await runReset(values, io);
    }
    const { values: flags } = parseFlags(rest, FLAGS);
    if (flags.help) {
      line(io.stdout, USAGE);
      return EXIT.ok;
    }
    switch (command) {
      case 'sync':
      case 'backfill': {
        const { runSyncCommand } = await import('./commands/sync.ts');
        return await runSyncCommand(command, overridesFrom(flags), { resume: flags.resume ?? false, full: flags.full ?? false }, io);
      }
      case 'migrate': {
        const { runMigrate } = await import('./commands/migrate.ts');
        return await runMigrate(overridesFrom(flags), io);
      }
      case 'worker': {
        const { runWorkerCommand } = await import('./commands/worker.ts');
        return await runWorkerCommand(overridesFrom(flags), { runNow: flags['run-now'] ?? false }, io);
      }
      case 'demo': {
        const { runDemo } = await import('./commands/demo.ts');
        return await runDemo(overridesFrom(flags), io);
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}${suggestCommand(command)}`);
    }
  } catch (error) {
    return await printFailure(error, io);
  }
}

function suggestCommand(command: string): string {
  const guess = closest(command, COMMANDS);
  return guess === undefined ? '' : `: did you mean ${guess}?`;
}
