// The pino root logger. Secrets are removed twice: by key (headers, keys, passwords) and by value
// (every known API key and the DB password, wherever it appears in a line, e.g. inside an error message).
// Lines are JSON, or on a terminal one readable line each (`prettyLine`): pino still writes the JSON,
// redacted and scrubbed, and only then is it reformatted, so both formats go through the same removal.
import { isatty } from 'node:tty';
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';
import { scrub } from './scrub.ts';

export type { Logger };

const REDACT_PATHS = [
  'apiKey',
  '*.apiKey',
  'password',
  '*.password',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'databaseUrl',
  '*.databaseUrl',
  'secrets',
  '*.secrets',
];

export { scrub };

/** json: one JSON object a line; pretty: one readable line; auto: pretty on a terminal, else json. */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** A stream lines are written to; `isTTY` decides the format `auto` picks. */
export type LogDestination = DestinationStream & { isTTY?: boolean | undefined };

export interface LoggerOptions {
  level?: LevelWithSilent | undefined;
  secrets?: readonly string[] | undefined;
  /** Where lines go; default stdout. */
  destination?: LogDestination | undefined;
  /** Write to stderr, synchronously (commands whose stdout carries their output, like `report`). */
  stderr?: boolean | undefined;
  /** Default json (library use); the commands pass the config's logFormat, auto by default. */
  format?: LogFormat | undefined;
}

const LEVEL_LABELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Shown in their own place (time, level, message, project), or noise on a terminal (the run's uuid, the logger's name). */
const PRETTY_OMITTED = new Set(['time', 'level', 'msg', 'projectId', 'name', 'runId']);

/** Control characters (escape sequences from upstream text) written as JSON escapes: a log line never drives the terminal. */
function visible(text: string): string {
  // eslint-disable-next-line no-control-regex -- escaping control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? visible(value) : visible(JSON.stringify(value));
  return visible(JSON.stringify(value) ?? String(value));
}

/**
 * One JSON log line as a person reads it: `12:04:05 WARN  [p1] request failed, retrying  attempt=1 status=429`:
 * the UTC time, the level, the project, the message, then every other field as key=value in the order logged
 * (but null and empty lists).
 * A line that is not a JSON object is returned as it is.
 */
export function prettyLine(json: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(json);
  } catch {
    return json;
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return json;
  const fields = entry as Record<string, unknown>;
  const time = typeof fields.time === 'string' ? fields.time.slice(11, 19) : '--:--:--';
  const level = (typeof fields.level === 'number' ? LEVEL_LABELS[fields.level] : undefined) ?? fieldValue(fields.level ?? '');
  const project = fields.projectId === undefined ? '' : `[${fieldValue(fields.projectId)}] `;
  const rest = Object.entries(fields)
    .filter(([key, value]) => !PRETTY_OMITTED.has(key) && value !== null && !(Array.isArray(value) && value.length === 0))
    .map(([key, value]) => `${visible(key)}=${fieldValue(value)}`)
    .join(' ');
  const msg = typeof fields.msg === 'string' ? visible(fields.msg) : '';
  return `${time} ${level.padEnd(5)} ${project}${msg}${rest ? `  ${rest}` : ''}\n`;
}

/** Writes each line `destination` is given as a pretty one. pino writes one whole line per call. */
function prettyStream(destination: LogDestination): LogDestination {
  return {
    write: (line: string) => destination.write(prettyLine(line.endsWith('\n') ? line.slice(0, -1) : line)),
    flush: (cb?: (err?: Error) => void) => {
      const flush = (destination as { flush?: (cb?: (err?: Error) => void) => void }).flush;
      if (typeof flush === 'function') flush.call(destination, cb);
      else cb?.();
    },
    isTTY: destination.isTTY,
  } as LogDestination;
}

/** Whether `format` means pretty lines on `destination` (or the file descriptor `fd` when none is given). */
function isPretty(format: LogFormat, destination: LogDestination | undefined, fd: number): boolean {
  if (format !== 'auto') return format === 'pretty';
  return destination === undefined ? isatty(fd) : destination.isTTY === true;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  // A secret with quotes or backslashes appears JSON-escaped in a log line: scrub both spellings.
  const secrets = [...new Set((options.secrets ?? []).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))];
  const fd = options.stderr ? 2 : 1;
  const pretty = isPretty(options.format ?? 'json', options.destination, fd);
  // Pretty lines are for a person at a terminal: written at once (stdout's lines then keep their order
  // with stderr's), where JSON lines for a collector may be buffered.
  const destination = options.destination ?? pino.destination({ fd, sync: options.stderr === true || pretty });
  return pino(
    {
      name: 'classify-sync',
      level: options.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '***' },
      // No pid or hostname on every line; pino still adds `name`.
      base: {},
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: secrets.length > 0 ? { streamWrite: (line) => scrub(line, secrets) } : {},
    },
    pretty ? prettyStream(destination) : destination,
  );
}

/** A logger that writes nothing (library use and tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
