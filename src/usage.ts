// What the command line accepts, and its help: every flag once (its parseArgs option and its line of
// help), every command with the flags it takes. `classify-sync --help` prints all of it;
// `classify-sync <command> --help` and `classify-sync help <command>` print one command's part.
import type { ParseArgsConfig } from 'node:util';

type Option = NonNullable<ParseArgsConfig['options']>[string];

interface FlagSpec {
  option: Option;
  /** How it is written, e.g. `--page-size <n>`. */
  usage: string;
  /** What it does; `\n` starts a continuation line. */
  help: string;
}

const flag = <const O extends Option>(option: O, usage: string, help: string) => ({ option, usage, help });

export const FLAG_SPECS = {
  project: flag(
    { type: 'string', multiple: true },
    '--project <id>',
    'project to sync or report on (repeatable; replaces the configured list)',
  ),
  organization: flag({ type: 'string' }, '--organization <id>', 'organization id sent with every request'),
  api: flag({ type: 'string' }, '--api <auto|v1|v2>', 'API version to speak (default auto: v2, or v1 where v2 is not served)'),
  config: flag({ type: 'string' }, '--config <file>', 'JSON config file (default: $CLASSIFY_SYNC_CONFIG)'),
  'page-size': flag({ type: 'string' }, '--page-size <n>', 'items per page, 1..100 (default 100)'),
  concurrency: flag({ type: 'string' }, '--concurrency <n>', 'projects synced in parallel (default 4)'),
  slices: flag({ type: 'string' }, '--slices <n|auto>', 'a full v2 walk as n creation-time slices in parallel (default auto)'),
  full: flag({ type: 'boolean' }, '--full', 'walk every job (and detect deletions) even if no full walk is due'),
  resume: flag({ type: 'boolean' }, '--resume', 'continue from saved page tokens instead of the first page'),
  'dry-run': flag(
    { type: 'boolean' },
    '--dry-run',
    'walk and compare, write nothing; print per project what would be inserted,\nupdated, left unchanged, marked deleted and rejected (docs/dry-run.md)',
  ),
  'allow-mass-delete': flag(
    { type: 'boolean' },
    '--allow-mass-delete',
    'mark jobs deleted even when a walk saw under half of the stored ones',
  ),
  'pglite-dir': flag({ type: 'string' }, '--pglite-dir <dir>', 'embedded database directory without DATABASE_URL (default ./data/pglite)'),
  'log-level': flag({ type: 'string' }, '--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (default info)'),
  'log-format': flag(
    { type: 'string' },
    '--log-format <format>',
    'auto (default: readable lines on a terminal, else JSON) | json | pretty',
  ),
  schedule: flag({ type: 'string' }, "--schedule '<cron>'", "when to sync: 5 fields, or 6 with seconds first (default '0 2 * * *')"),
  timezone: flag({ type: 'string' }, '--timezone <zone>', 'IANA time zone of the schedule (default UTC)'),
  'run-now': flag({ type: 'boolean' }, '--run-now', 'also sync once at start (else only when a project missed its last slot)'),
  'metrics-port': flag({ type: 'string' }, '--metrics-port <port>', 'serve GET /healthz and GET /metrics on this port (default: off)'),
  'metrics-host': flag(
    { type: 'string' },
    '--metrics-host <addr>',
    'address they listen on (default 127.0.0.1: this host only; the image: 0.0.0.0)',
  ),
  since: flag({ type: 'string' }, '--since <when>', 'jobs created since: 12h, 7d, 2w, or a UTC date like 2026-01-01 (default 30d)'),
  format: flag({ type: 'string' }, '--format <format>', 'table (default) | json | csv | html (one self-contained page)'),
  out: flag({ type: 'string' }, '--out <file>', 'write the report to a file instead of stdout'),
  yes: flag({ type: 'boolean', short: 'y' }, '-y, --yes', 'reset without asking (needed when stdin is not a terminal)'),
  'delete-data': flag(
    { type: 'boolean' },
    '--delete-data',
    "also delete the project's jobs (rules, parsing settings, status changes),\nits run records, rejects and stored name",
  ),
  help: flag({ type: 'boolean', short: 'h' }, '-h, --help', 'show this help'),
} as const satisfies Record<string, FlagSpec>;

export type FlagName = keyof typeof FLAG_SPECS;

interface CommandSpec {
  /** The command line's shape after the command's name. */
  args: string;
  /** One or more lines for the command list; the first is the summary. */
  summary: string;
  flags: readonly FlagName[];
  /** The same flag's help worded for this command, where it differs. */
  flagHelp?: Partial<Record<FlagName, string>>;
  /** Extra paragraphs of the command's own help. */
  notes?: string;
}

const SYNC_FLAGS = [
  'project',
  'organization',
  'api',
  'config',
  'page-size',
  'concurrency',
  'slices',
  'allow-mass-delete',
  'pglite-dir',
  'log-level',
  'log-format',
] as const satisfies readonly FlagName[];

const WORKER_FLAGS = ['schedule', 'timezone', 'run-now', 'metrics-port', 'metrics-host'] as const satisfies readonly FlagName[];
const REPORT_FLAGS = ['since', 'format', 'out'] as const satisfies readonly FlagName[];

const RUN_EXIT_CODES = `Exit codes: 0 every project synced (or was skipped: another process held its lock); 1 nothing could
            run (bad config, database unreachable); 2 some projects failed (one line each on stderr)`;
const WORKER_EXIT_CODES = `Exit codes: 0 stopped cleanly; 1 could not start, or did not stop within shutdownTimeoutMs;
            128+n a second signal n forced the exit (130 SIGINT, 143 SIGTERM)`;

export const COMMAND_SPECS = {
  sync: {
    args: '[flags]',
    summary: `one pass over the configured projects; interrupted walks resume from their saved tokens.
            On v2 it is incremental (recent and in-flight jobs only) unless a full walk is due
            (fullRefreshDays) or --full is given; only full walks detect deletions`,
    flags: [...SYNC_FLAGS, 'full', 'dry-run'],
    notes: RUN_EXIT_CODES,
  },
  backfill: {
    args: '[flags]',
    summary: 'one full pass from the first page of every project (--resume: from the saved tokens)',
    flags: [...SYNC_FLAGS, 'resume', 'dry-run'],
    notes: RUN_EXIT_CODES,
  },
  migrate: {
    args: '[flags]',
    summary: 'apply pending database migrations and list them (or say the schema is current)',
    flags: ['config', 'pglite-dir', 'log-level', 'log-format'],
    notes: 'Exit codes: 0 the schema is current; 1 the database is unreachable or a migration failed',
  },
  worker: {
    args: '[flags]',
    summary: 'sync on a schedule (docs/worker.md) until SIGTERM, SIGINT or SIGHUP stops it cleanly',
    flags: [...SYNC_FLAGS, ...WORKER_FLAGS],
    notes: WORKER_EXIT_CODES,
  },
  report: {
    args: '[flags]',
    summary: 'job outcomes per project, daily trend, top errors, rule types and freshness',
    flags: ['project', 'config', 'pglite-dir', 'log-level', 'log-format', ...REPORT_FLAGS],
    flagHelp: {
      project: 'project to report on (repeatable; default every project the database knows)',
      config: 'JSON config file, for project names (default: $CLASSIFY_SYNC_CONFIG)',
    },
    notes: 'Exit codes: 0 printed or written; 1 it could not be (bad flag, no database, unknown project)',
  },
  status: {
    args: '[flags]',
    summary: `where each project stands, from the database alone (no API key): API version, walks,
            a walk in progress, the next full walk, the last run, open rejects, stored jobs`,
    flags: ['project', 'config', 'pglite-dir', 'format'],
    flagHelp: {
      project: 'project to show (repeatable; default: every one configured or in the database)',
      config: 'JSON config file: projects, names, api, fullRefreshDays (default: $CLASSIFY_SYNC_CONFIG)',
      format: 'table (default; fits the terminal) | json (one object per project)',
    },
    notes:
      'It changes nothing: no migration (a schema behind says: run classify-sync migrate), no new database.\n' +
      'Exit codes: 0 printed; 1 it could not be (bad flag, no database, schema behind, unknown project)',
  },
  reset: {
    args: '--project <id> [--yes] [--delete-data] [flags]',
    summary: `forget a project's walk state (saved tokens, detected version, walk history): its
            next sync is a full walk from the first page; its jobs stay unless --delete-data`,
    flags: ['project', 'yes', 'delete-data', 'config', 'pglite-dir'],
    flagHelp: {
      project: 'the project to reset (required, once)',
      config: 'JSON config file, for project names (default: $CLASSIFY_SYNC_CONFIG)',
    },
    notes:
      'On a terminal it asks first (y/N); elsewhere it needs --yes. While a sync of the project runs\n' +
      '(it holds the project lock), reset refuses.\n' +
      'Exit codes: 0 reset; 1 not (no --yes, not confirmed, unknown project, being synced, no database)',
  },
  demo: {
    args: '[flags]',
    summary: 'sync a bundled LlamaCloud simulator into an embedded database and print a summary',
    flags: ['api', 'page-size', 'concurrency', 'slices', 'pglite-dir', 'log-level', 'log-format'],
    flagHelp: { 'pglite-dir': 'embedded database directory (default ./data/demo; DATABASE_URL is never used)' },
  },
  simulator: {
    args: '[options]',
    summary: 'run the bundled LlamaCloud simulator as a server (see classify-sync simulator --help)',
    flags: [],
  },
  help: {
    args: '[command]',
    summary: "show this help, or a command's own (same as classify-sync <command> --help)",
    flags: [],
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMAND_SPECS;

export const COMMAND_NAMES = Object.keys(COMMAND_SPECS) as CommandName[];

export function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_SPECS, name);
}

type OptionsOf<C extends CommandName> = {
  [F in (typeof COMMAND_SPECS)[C]['flags'][number] | 'help']: (typeof FLAG_SPECS)[F]['option'];
};

/** The parseArgs options of a command: its flags, and --help. */
export function optionsOf<C extends CommandName>(command: C): OptionsOf<C> {
  const names: readonly FlagName[] = [...COMMAND_SPECS[command].flags, 'help'];
  return Object.fromEntries(names.map((name) => [name, FLAG_SPECS[name].option])) as OptionsOf<C>;
}

const INDENT = 25;

/** The environment variables, each with the commands that read it. */
const ENVIRONMENT: readonly (readonly [string, string, readonly CommandName[]])[] = [
  ['LLAMA_CLOUD_API_KEY', 'API key (default for every project; a project may name its own apiKeyEnv)', ['sync', 'backfill', 'worker']],
  ['LLAMA_CLOUD_BASE_URL', 'API base URL (default https://api.cloud.llamaindex.ai)', ['sync', 'backfill', 'worker']],
  ['DATABASE_URL', 'postgres://… ; unset: embedded PGlite', ['sync', 'backfill', 'migrate', 'worker', 'report', 'status', 'reset']],
  ['CLASSIFY_SYNC_CONFIG', 'config file path', ['sync', 'backfill', 'migrate', 'worker', 'report', 'status', 'reset', 'demo']],
  ['CLASSIFY_SYNC_PROJECTS', 'comma-separated project ids (replaces the configured list; --project wins)', ['sync', 'backfill', 'worker']],
  [
    'CLASSIFY_SYNC_LOG_FORMAT',
    'log lines: auto, json or pretty, as --log-format (the flag wins)',
    ['sync', 'backfill', 'migrate', 'worker', 'report'],
  ],
  [
    'CLASSIFY_SYNC_SCHEDULE, CLASSIFY_SYNC_TIMEZONE, CLASSIFY_SYNC_METRICS_PORT, CLASSIFY_SYNC_METRICS_HOST',
    'worker settings (flags win)',
    ['worker'],
  ],
];

function environmentLines(command?: CommandName): string {
  const lines = ENVIRONMENT.filter(([, , commands]) => command === undefined || commands.includes(command)).map(([name, text]) =>
    name.length < INDENT - 2 ? `  ${name.padEnd(INDENT - 2)}${text}` : `  ${name}\n${' '.repeat(INDENT)}${text}`,
  );
  return lines.length === 0 ? '' : `Environment:\n${lines.join('\n')}`;
}

/** `  --flag <x>            help`, continuation lines aligned under the help. */
function flagLines(names: readonly FlagName[], wording: Partial<Record<FlagName, string>> = {}): string {
  return names
    .map((name) => {
      const spec = FLAG_SPECS[name];
      const [first, ...more] = (wording[name] ?? spec.help).split('\n');
      const head = `  ${spec.usage}`;
      const lead = head.length < INDENT - 1 ? head.padEnd(INDENT - 1) : `${head}\n${' '.repeat(INDENT - 1)}`;
      return [`${lead} ${first}`, ...more.map((l) => `${' '.repeat(INDENT)}${l}`)].join('\n');
    })
    .join('\n');
}

function commandLines(): string {
  return COMMAND_NAMES.map((name) => {
    const [first, ...more] = COMMAND_SPECS[name].summary.split('\n');
    return [`  ${name.padEnd(11)} ${first}`, ...more.map((l) => `  ${l}`)].join('\n');
  }).join('\n');
}

/** Flags in the order they first appear across commands, excluding those listed. */
function flagsOf(commands: readonly CommandName[], except: readonly FlagName[] = []): FlagName[] {
  const seen = new Set<FlagName>();
  for (const command of commands) for (const f of COMMAND_SPECS[command].flags) if (!except.includes(f)) seen.add(f);
  return [...seen];
}

const WIDTH = 100;

/**
 * Wraps lines longer than WIDTH at a space, continuing under the text column of the line: after
 * its first gap of two spaces or more (`  --flag <x>    text`), or after `Exit codes: `.
 */
function fit(text: string): string {
  return text
    .split('\n')
    .flatMap((line) => {
      if (line.length <= WIDTH) return [line];
      const column = /^(\s*\S.*?\s{2,}|Exit codes: )\S/.exec(line)?.[1]?.length ?? /^\s*/.exec(line)?.[0].length ?? 0;
      const out: string[] = [];
      let rest = line;
      while (rest.length > WIDTH) {
        const cut = rest.lastIndexOf(' ', WIDTH);
        if (cut <= column) break;
        out.push(rest.slice(0, cut).trimEnd());
        rest = ' '.repeat(column) + rest.slice(cut + 1);
      }
      return [...out, rest];
    })
    .join('\n');
}

/** The whole reference: every command, every flag, the environment and exit codes. */
export function generalUsage(version: string): string {
  return fit(generalText(version));
}

function generalText(version: string): string {
  const common = flagsOf(['sync', 'backfill'], []);
  return `classify-sync ${version} — export LlamaCloud classify jobs into PostgreSQL

Usage: classify-sync <command> [flags]
       classify-sync <command> --help   that command's usage and flags (also: help <command>)

Commands:
${commandLines()}

Flags (sync, backfill, worker, demo take them; see each command's --help):
${flagLines(common, { full: 'sync: walk every job (and detect deletions) even if no full walk is due', resume: 'backfill: continue from saved page tokens' })}
${flagLines(['help'])}
  -V, --version          print the version

Worker flags:
${flagLines(WORKER_FLAGS)}

Report flags (with --project, --config, --pglite-dir, --log-level, --log-format):
${flagLines(REPORT_FLAGS)}

Reset flags (with --project, --config, --pglite-dir; status takes those and --format table|json):
${flagLines(['yes', 'delete-data'])}

${environmentLines()}

${RUN_EXIT_CODES}
            worker: ${WORKER_EXIT_CODES.replace(/^Exit codes: /, '')}`;
}

/** One command's usage: what it does, its flags, and what else it reads. */
export function commandUsage(command: CommandName): string {
  return fit(commandText(command));
}

function commandText(command: CommandName): string {
  const spec: CommandSpec = COMMAND_SPECS[command];
  const flags: FlagName[] = [...spec.flags, 'help'];
  const sections = [
    `Usage: classify-sync ${command} ${spec.args}`,
    spec.summary.replace(/\n +/g, '\n'),
    `Flags:\n${flagLines(flags, spec.flagHelp)}`,
  ];
  if (spec.notes !== undefined) sections.push(spec.notes);
  const environment = environmentLines(command);
  if (environment !== '') sections.push(environment);
  return sections.join('\n\n');
}
