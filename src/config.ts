// Reads the config file and the environment ONCE into a frozen, validated Config.
// This is the only module that looks at environment variables: everything else is handed a Config.
import { readFileSync } from 'node:fs';
import cron from 'node-cron';
import { z } from 'zod';
import { errorCode, errorMessage } from './errors.ts';
import { closest } from './suggest.ts';

export const DEFAULT_BASE_URL = 'https://api.cloud.llamaindex.ai';
export const DEFAULT_API_KEY_ENV = 'LLAMA_CLOUD_API_KEY';
export const DEFAULT_PGLITE_DIR = './data/pglite';
/** The v2 list endpoint answers 422 to a page_size above 100; v1 documents none, so 100 is the safe maximum for both. */
export const MAX_PAGE_SIZE = 100;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const SECOND = 1000;
export const DEFAULT_SCHEDULE = '0 2 * * *';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const projectSchema = z.strictObject({
  id: z.string().min(1, 'a project needs its id'),
  organizationId: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  apiKeyEnv: z.string().regex(ENV_NAME, 'must be an environment variable name, e.g. LLAMA_CLOUD_API_KEY_ACME').optional(),
});

const retrySchema = z.strictObject({
  /** Retries after the first attempt of one request. */
  retries: z.number().int().min(0).max(100).default(6),
  minDelayMs: z.number().int().min(0).default(500),
  maxDelayMs: z
    .number()
    .int()
    .min(0)
    .default(8 * SECOND),
  /** Upper bound on a server-requested wait (Retry-After / retry-after-ms). */
  maxRetryAfterMs: z
    .number()
    .int()
    .min(0)
    .default(60 * SECOND),
  /** Budget of wall time for one request including its retries. */
  maxElapsedMs: z
    .number()
    .int()
    .min(0)
    .default(5 * 60 * SECOND),
});

/** A cron expression node-cron accepts (5 fields, or 6 with seconds first); the error says which field is wrong. */
const cronSchema = z.string().superRefine((expression, ctx) => {
  const problem = cron.validateDetailed(expression).errors[0];
  if (problem)
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(expression)} is not a cron expression (${problem.message}): use e.g. "${DEFAULT_SCHEDULE}"`,
    });
});

/** An IANA time zone name, as Intl (and so node-cron) knows it. */
const timezoneSchema = z.string().refine(
  (zone) => {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  },
  { error: (issue) => `${JSON.stringify(issue.input)} is not a time zone: use an IANA name, e.g. UTC or Europe/Berlin` },
);

/** The config file, as documented in config/classify-sync.example.json. */
export const fileSchema = z.strictObject({
  $schema: z.string().optional(),
  /** auto: per project, v2 unless the deployment does not serve it (see docs/api-versions.md). */
  api: z.enum(['v1', 'v2', 'auto']).default('auto'),
  baseUrl: z.url().optional(),
  organizationId: z.string().min(1).optional(),
  projects: z.array(projectSchema).default([]),
  pageSize: z.number().int().min(1).max(MAX_PAGE_SIZE).default(MAX_PAGE_SIZE),
  concurrency: z.number().int().min(1).max(64).default(4),
  /**
   * A full v2 walk of one project runs as this many creation-time slices in parallel (docs/performance.md);
   * auto: from the project's size (about 25 pages a slice), at most maxInFlight. v1 walks are serial.
   */
  slices: z.union([z.literal('auto'), z.number().int().min(1).max(64)]).default('auto'),
  /** Requests in flight at once per API key, across projects and slices (the adaptive limit's ceiling). */
  maxInFlight: z.number().int().min(1).max(64).default(8),
  /** Requests started per second per API key, at most; unset: no cap but the API's 429s. */
  maxRequestsPerSecond: z.number().positive().max(10_000).optional(),
  maxPages: z.number().int().min(1).default(1_000_000),
  requestTimeoutMs: z
    .number()
    .int()
    .min(1)
    .default(30 * SECOND),
  maxResponseBytes: z
    .number()
    .int()
    .min(1024)
    .default(64 * 1024 * 1024),
  retry: retrySchema.default(retrySchema.parse({})),
  /** Deletes by absence are skipped when the walk saw less than this share of the project's live rows. */
  massDeleteMinShare: z.number().min(0).max(1).default(0.5),
  /** An incremental (v2) walk re-reads the jobs created since the last complete walk started, minus this. */
  lookbackHours: z
    .number()
    .int()
    .min(0)
    .max(24 * 366)
    .default(48),
  /** A full walk (the only kind that detects deletions) runs when the last one is this old; 0 = always. */
  fullRefreshDays: z.number().min(0).max(366).default(7),
  pgliteDir: z.string().min(1).default(DEFAULT_PGLITE_DIR),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** auto: readable lines on a terminal, JSON lines elsewhere (a container, a pipe, a file); json or pretty: always. */
  logFormat: z.enum(['auto', 'json', 'pretty']).default('auto'),
  /** Budget of the reporting views' refresh at the end of a run; past it the run keeps the old views and a warning. */
  viewRefreshTimeoutMs: z
    .number()
    .int()
    .min(1)
    .default(5 * 60 * SECOND),
  /** Budget of each of the `report` command's queries (statement_timeout; ignored by PGlite). */
  reportTimeoutMs: z
    .number()
    .int()
    .min(1)
    .default(60 * SECOND),
  // worker (see docs/worker.md)
  schedule: cronSchema.default(DEFAULT_SCHEDULE),
  timezone: timezoneSchema.default('UTC'),
  /** Port of /healthz and /metrics; unset: no HTTP server. 0 picks a free port (it is logged). */
  metricsPort: z.number().int().min(0).max(65_535).optional(),
  /**
   * Address /healthz and /metrics listen on. Loopback by default, so a worker on a laptop or a shared
   * host is not reachable from the network; the image sets 0.0.0.0 (CLASSIFY_SYNC_METRICS_HOST).
   */
  metricsHost: z
    .union([z.ipv4(), z.ipv6(), z.hostname()], {
      error: (issue) => `${JSON.stringify(issue.input)} is not an IP address or host name: use e.g. 127.0.0.1, 0.0.0.0 or ::`,
    })
    .default('127.0.0.1'),
  /**
   * A project whose worker sync failed is retried this long after the failure, then after twice as long
   * each time (30, 60, 120 … minutes), never at or after the next schedule slot; 0: no retries.
   * Fractions are allowed (0.5 is 30 seconds).
   */
  retryFailedAfterMinutes: z
    .number()
    .min(0)
    .max(24 * 60)
    .default(30),
  /** /healthz answers 503 when a project's last successful sync is older than this. */
  staleAfterHours: z.number().positive().default(36),
  /** How long a stop request may take (the page being stored commits) before the worker exits anyway. */
  shutdownTimeoutMs: z
    .number()
    .int()
    .min(0)
    .default(30 * SECOND),
});
export type FileConfig = z.infer<typeof fileSchema>;

export type ApiVersion = 'v1' | 'v2';

export interface ProjectConfig {
  readonly id: string;
  readonly organizationId: string | undefined;
  readonly name: string | undefined;
  /** The environment variable the key came from (named in errors, never the key itself). */
  readonly apiKeyEnv: string;
  readonly apiKey: string | undefined;
}

export interface Config extends Omit<FileConfig, 'projects' | 'baseUrl' | '$schema'> {
  readonly baseUrl: string;
  readonly databaseUrl: string | undefined;
  readonly projects: readonly ProjectConfig[];
  readonly allowMassDelete: boolean;
  /** Every secret value this run knows (API keys, the DB password): redacted from all output. */
  readonly secrets: readonly string[];
  /**
   * The API keys this run sends (trimmed, as sent): the only secrets the API can echo back, so the ones
   * scrubbed from its data before it is stored. Not all of `secrets`: a short one (a DB password
   * "postgres", any *_TOKEN value) would rewrite job data, ids included.
   */
  readonly apiKeys: readonly string[];
  /**
   * The package manager that started this process (npx, npm exec, npm/yarn/pnpm run), e.g. `npm/11.19.1`,
   * from the npm_config_user_agent they set for their children; undefined when started directly.
   */
  readonly launcher: string | undefined;
}

/** What the command line may override; undefined means "not given". */
export interface ConfigOverrides {
  configFile?: string | undefined;
  projects?: string[] | undefined;
  organizationId?: string | undefined;
  api?: string | undefined;
  pageSize?: number | undefined;
  concurrency?: number | undefined;
  slices?: number | 'auto' | undefined;
  allowMassDelete?: boolean | undefined;
  baseUrl?: string | undefined;
  databaseUrl?: string | undefined;
  pgliteDir?: string | undefined;
  logLevel?: string | undefined;
  logFormat?: string | undefined;
  schedule?: string | undefined;
  timezone?: string | undefined;
  metricsPort?: number | undefined;
  metricsHost?: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The environment variable behind each setting the environment may set (named in errors). */
const ENV_OF: Readonly<Record<string, string>> = {
  schedule: 'CLASSIFY_SYNC_SCHEDULE',
  timezone: 'CLASSIFY_SYNC_TIMEZONE',
  metricsPort: 'CLASSIFY_SYNC_METRICS_PORT',
  metricsHost: 'CLASSIFY_SYNC_METRICS_HOST',
  logFormat: 'CLASSIFY_SYNC_LOG_FORMAT',
};

/** The keys an object of the config file may have, by where it sits. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  if (path.length === 0) return Object.keys(fileSchema.shape);
  if (path[0] === 'retry') return Object.keys(retrySchema.shape);
  if (path[0] === 'projects') return Object.keys(projectSchema.shape);
  return [];
}

/** An unknown key's message, with what was meant: the closest known key, or where API keys really go. */
function unknownKeys(keys: readonly string[], path: readonly PropertyKey[]): string {
  return keys
    .map((key) => {
      if (/^(llama_cloud_)?api_?key$/i.test(key)) {
        return `unknown key "${key}": keys come from the environment: ${DEFAULT_API_KEY_ENV} or a project's apiKeyEnv`;
      }
      const guess = closest(key, knownKeys(path));
      return `unknown key "${key}"${guess ? `: did you mean "${guess}"?` : ''}`;
    })
    .join('; ');
}

/** Every problem at once (the first ten), so one fix-and-retry round fixes them all. */
function formatIssues(error: z.ZodError, where: string): string {
  if (error.issues.length === 0) return `${where}: invalid`;
  const problems = error.issues.slice(0, 10).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    const message = issue.code === 'unrecognized_keys' ? unknownKeys(issue.keys, issue.path) : issue.message;
    return `${path}: ${message}`;
  });
  const more = error.issues.length > 10 ? `; and ${error.issues.length - 10} more` : '';
  return `${where}: ${problems.join('; ')}${more}`;
}

function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = errorCode(error) ?? 'unreadable';
    throw new ConfigError(`config file ${path} cannot be read (${code}): check the --config path or CLASSIFY_SYNC_CONFIG`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON${jsonErrorAt(text, errorMessage(error))}: fix the file`);
  }
}

/**
 * Where a JSON.parse error is, as `at line L, column C (what)`: V8 gives a character position (Node 20)
 * or also the line and column (Node 22+); both become the same line and column, counted from 1.
 */
function jsonErrorAt(text: string, message: string): string {
  const what = message.replace(/ in JSON at position \d+.*$/s, '').replace(/^JSON Parse error: /, '');
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position === undefined) {
    // The text ended early ("Unexpected end of JSON input"): the problem is at its end.
    return /end of JSON input/.test(message) ? ` at its end (${what})` : ` (${message})`;
  }
  const before = text.slice(0, Number(position)).split('\n');
  return ` at line ${before.length}, column ${(before.at(-1) ?? '').length + 1} (${what})`;
}

/**
 * A connection URL as pg-connection-string reads it (spaces and stray `%` encoded first, an empty host
 * allowed), so what is redacted is what node-postgres uses; undefined when it cannot be parsed.
 */
function parseConnectionUrl(url: string): { parsed: URL; dummyHost: boolean } | undefined {
  const text = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(url) ? encodeURI(url).replace(/%25(\d\d)/g, '%$1') : url;
  try {
    return { parsed: new URL(text, 'postgres://base'), dummyHost: false };
  } catch {
    try {
      return { parsed: new URL(text.replace('@/', '@___DUMMY___/'), 'postgres://base'), dummyHost: true };
    } catch {
      return undefined;
    }
  }
}

/**
 * Query parameters that carry a credential: `password` (node-postgres reads it, and it wins over the
 * userinfo's) and libpq's `sslpassword` (pg ignores it, but a URL copied from a libpq tool may carry it).
 * sslkey, sslcert and sslrootcert name files, not secrets.
 */
const CREDENTIAL_PARAMS = new Set(['password', 'sslpassword']);
const isCredentialParam = (name: string) => CREDENTIAL_PARAMS.has(name.toLowerCase());

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Every credential node-postgres can read from a connection URL (userinfo and query), to scrub by value. */
export function databaseSecrets(url: string | undefined): string[] {
  const found = url ? parseConnectionUrl(url) : undefined;
  if (!found) return [];
  const { parsed } = found;
  const values = [parsed.password, decoded(parsed.password)];
  for (const [name, value] of parsed.searchParams) if (isCredentialParam(name)) values.push(value, encodeURIComponent(value));
  return [...new Set(values.filter((v) => v.length > 0))];
}

/**
 * Refuses at start a DATABASE_URL that cannot reach Postgres: text that is no URL (pg would read it as a
 * path on a host named "base" and fail with ENOTFOUND), or another database's scheme. pg's socket forms
 * ("/run/postgresql dbname", socket:/run/postgresql?db=x) pass. Never prints the URL: it may hold a password.
 */
function checkDatabaseUrl(url: string): void {
  if (url.startsWith('/')) return;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || (scheme !== 'socket' && !url.slice(scheme.length + 1).startsWith('//')) || !parseConnectionUrl(url)) {
    throw new ConfigError(
      'DATABASE_URL is not a connection URL: set it like postgres://user:password@host:5432/dbname, or unset it to use the embedded database',
    );
  }
  if (scheme !== 'postgres' && scheme !== 'postgresql' && scheme !== 'socket') {
    throw new ConfigError(`DATABASE_URL is a ${scheme}: URL: classify-sync writes to PostgreSQL only (postgres:// or postgresql://)`);
  }
}

/** A connection URL safe to print: the password and every credential parameter replaced; never an unparseable URL. */
export function redactUrl(url: string): string {
  // pg's other form, "/socket/dir database", carries no credential.
  if (url.startsWith('/')) return url;
  // pg would read text without a scheme as a path relative to a dummy host: garbage to show, and maybe a secret.
  const found = /^([a-z][a-z0-9+.-]*:\/\/|socket:)/i.test(url) ? parseConnectionUrl(url) : undefined;
  if (!found) return '(unparseable DATABASE_URL)';
  const { parsed, dummyHost } = found;
  if (parsed.password) parsed.password = '***';
  for (const name of new Set(parsed.searchParams.keys())) if (isCredentialParam(name)) parsed.searchParams.set(name, '***');
  const text = parsed.toString();
  return dummyHost ? text.replace('@___DUMMY___/', '@/') : text;
}

/**
 * The key in `name`, trimmed: fetch strips surrounding whitespace from a header value, so the key sent
 * (and so the one to scrub) is the trimmed one; `$(cat key.txt)` leaves a newline. Anything but visible
 * ASCII left inside is refused: fetch would send it, refuse it or mangle it, never as the same key.
 */
function apiKeyFrom(env: Env, name: string): string | undefined {
  const key = env[name]?.trim();
  if (!key) return undefined;
  if (!/^[\x21-\x7e]+$/.test(key)) {
    throw new ConfigError(`${name} has a space, control or non-ASCII character inside the key: set it to the key alone`);
  }
  return key;
}

/** Where the base URL came from, for its errors. */
function baseUrlSource(overrides: ConfigOverrides, env: Env, file: FileConfig, where: string): string {
  if (overrides.baseUrl !== undefined) return 'the base URL';
  if (env.LLAMA_CLOUD_BASE_URL !== undefined) return 'LLAMA_CLOUD_BASE_URL';
  if (file.baseUrl !== undefined) return `baseUrl in ${where}`;
  return 'the base URL';
}

/** Refuses a base URL with `user:password@`: fetch refuses every request to it (retried as a network error), and errors would print it. */
function checkBaseUrl(baseUrl: string, source: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(baseUrl);
  } catch {
    parsed = undefined;
  }
  const userinfo = /^[^:/?#]+:\/\/[^/?#]*@/.test(baseUrl);
  if (userinfo || parsed?.username || parsed?.password) {
    throw new ConfigError(
      `${source} must not carry credentials (user:password@): put the API key in ${DEFAULT_API_KEY_ENV} (or a project's apiKeyEnv)`,
    );
  }
  if (!parsed || !z.url().safeParse(baseUrl).success) {
    throw new ConfigError(`${source} ${JSON.stringify(baseUrl)} is not a URL: use e.g. ${DEFAULT_BASE_URL}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new ConfigError(`${source} ${JSON.stringify(baseUrl)} is not an http(s) URL: use e.g. ${DEFAULT_BASE_URL}`);
  }
}

export function loadConfig(overrides: ConfigOverrides, env: Env): Config {
  const configFile = overrides.configFile ?? env.CLASSIFY_SYNC_CONFIG;
  const where = configFile ? `config file ${configFile}` : 'configuration';
  const raw = configFile ? readConfigFile(configFile) : {};
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${formatIssues(parsed.error, where)} (see config/classify-sync.example.json)`);
  const file = parsed.data;

  // The worker's settings may come from the environment (containers), between the file and the flags.
  const envLayer = {
    ...(env.CLASSIFY_SYNC_SCHEDULE && { schedule: env.CLASSIFY_SYNC_SCHEDULE }),
    ...(env.CLASSIFY_SYNC_TIMEZONE && { timezone: env.CLASSIFY_SYNC_TIMEZONE }),
    ...(env.CLASSIFY_SYNC_METRICS_PORT && {
      metricsPort: /^\d+$/.test(env.CLASSIFY_SYNC_METRICS_PORT) ? Number(env.CLASSIFY_SYNC_METRICS_PORT) : env.CLASSIFY_SYNC_METRICS_PORT,
    }),
    ...(env.CLASSIFY_SYNC_METRICS_HOST && { metricsHost: env.CLASSIFY_SYNC_METRICS_HOST }),
    ...(env.CLASSIFY_SYNC_LOG_FORMAT && { logFormat: env.CLASSIFY_SYNC_LOG_FORMAT }),
  };
  const fromEnv = fileSchema.safeParse({ ...file, ...envLayer });
  if (!fromEnv.success)
    throw new ConfigError(
      formatIssues(fromEnv.error, 'environment').replace(/^environment: (\w+)/, (_, key: string) => `environment ${ENV_OF[key] ?? key}`),
    );

  // Flags are validated by the same schema as the file, so their errors read alike.
  const flagged = fileSchema.safeParse({
    ...fromEnv.data,
    ...(overrides.api !== undefined && { api: overrides.api }),
    ...(overrides.pageSize !== undefined && { pageSize: overrides.pageSize }),
    ...(overrides.concurrency !== undefined && { concurrency: overrides.concurrency }),
    ...(overrides.slices !== undefined && { slices: overrides.slices }),
    ...(overrides.pgliteDir !== undefined && { pgliteDir: overrides.pgliteDir }),
    ...(overrides.logLevel !== undefined && { logLevel: overrides.logLevel }),
    ...(overrides.logFormat !== undefined && { logFormat: overrides.logFormat }),
    ...(overrides.schedule !== undefined && { schedule: overrides.schedule }),
    ...(overrides.timezone !== undefined && { timezone: overrides.timezone }),
    ...(overrides.metricsPort !== undefined && { metricsPort: overrides.metricsPort }),
    ...(overrides.metricsHost !== undefined && { metricsHost: overrides.metricsHost }),
  });
  if (!flagged.success) {
    const issue = flagged.error.issues[0];
    const field = String(issue?.path[0] ?? '');
    const flag = field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    throw new ConfigError(`--${flag}: ${issue?.message ?? 'invalid'} (see classify-sync --help)`);
  }
  const merged = flagged.data;

  const baseUrl = (overrides.baseUrl ?? env.LLAMA_CLOUD_BASE_URL ?? file.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  checkBaseUrl(baseUrl, baseUrlSource(overrides, env, file, where));
  const databaseUrl = overrides.databaseUrl ?? (env.DATABASE_URL || undefined);
  if (databaseUrl !== undefined) checkDatabaseUrl(databaseUrl);
  const organizationId = overrides.organizationId ?? file.organizationId;

  const envProjects = (env.CLASSIFY_SYNC_PROJECTS ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id.length > 0);
  const projectIds = overrides.projects && overrides.projects.length > 0 ? overrides.projects : envProjects;
  // A list from --project or CLASSIFY_SYNC_PROJECTS replaces the file's; an id the file also lists keeps its settings there.
  const projectSpecs =
    projectIds.length > 0
      ? projectIds.map((id): z.infer<typeof projectSchema> => file.projects.find((p) => p.id === id) ?? { id })
      : file.projects;
  const projects = projectSpecs.map((p): ProjectConfig => {
    const apiKeyEnv = p.apiKeyEnv ?? DEFAULT_API_KEY_ENV;
    return Object.freeze({
      id: p.id,
      organizationId: p.organizationId ?? organizationId,
      name: p.name,
      apiKeyEnv,
      apiKey: apiKeyFrom(env, apiKeyEnv),
    });
  });
  const seen = new Set<string>();
  for (const p of projects) {
    if (seen.has(p.id)) throw new ConfigError(`project ${p.id} is listed twice: list each project once`);
    seen.add(p.id);
  }

  const secrets = [...projects.map((p) => p.apiKey), ...envSecrets(env), ...databaseSecrets(databaseUrl)].filter(
    (s): s is string => typeof s === 'string' && s.length >= 4,
  );

  const { $schema: _schema, projects: _projects, baseUrl: _baseUrl, ...rest } = merged;
  return Object.freeze({
    ...rest,
    organizationId,
    baseUrl,
    databaseUrl,
    projects: Object.freeze(projects),
    allowMassDelete: overrides.allowMassDelete ?? false,
    secrets: Object.freeze([...new Set(secrets)]),
    apiKeys: Object.freeze([...new Set(projects.flatMap((p) => (p.apiKey && p.apiKey.length >= 4 ? [p.apiKey] : [])))]),
    launcher: env.npm_config_user_agent?.split(' ')[0] || undefined,
  });
}

/**
 * Secret-looking environment values (keys, passwords, tokens), to scrub from anything printed. Trimmed,
 * as keys are sent: the trimmed value also covers the untrimmed one, which contains it.
 */
export function envSecrets(env: Env): string[] {
  return Object.entries(env)
    .filter(([name]) => /API_KEY|PASSWORD|SECRET|TOKEN/i.test(name))
    .map(([, value]) => value?.trim() ?? '')
    .concat(databaseSecrets(env.DATABASE_URL))
    .filter((value) => value.length >= 4);
}

/** Fails before anything runs when no project could possibly sync. */
export function assertRunnable(config: Config): void {
  if (config.projects.length === 0) {
    throw new ConfigError('no projects to sync: pass --project <id> or list "projects" in the config file (--config)');
  }
  if (config.projects.every((p) => p.apiKey === undefined)) {
    const names = [...new Set(config.projects.map((p) => p.apiKeyEnv))].join(', ');
    throw new ConfigError(`no API key: set ${names} (a LlamaCloud API key of the project)`);
  }
}
