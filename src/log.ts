// The pino root logger. Secrets are removed twice: by key (headers, keys, passwords) and by value
// (every known API key and the DB password, wherever it appears in a line, e.g. inside an error message).
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

export interface LoggerOptions {
  level?: LevelWithSilent | undefined;
  secrets?: readonly string[] | undefined;
  /** Where lines go; default stdout. */
  destination?: DestinationStream | undefined;
  /** Write to stderr, synchronously (commands whose stdout carries their output, like `report`). */
  stderr?: boolean | undefined;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  // A secret with quotes or backslashes appears JSON-escaped in a log line: scrub both spellings.
  const secrets = [...new Set((options.secrets ?? []).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))];
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
    options.destination ?? (options.stderr ? pino.destination({ fd: 2, sync: true }) : pino.destination({ fd: 1, sync: false })),
  );
}

/** A logger that writes nothing (library use and tests). */
export const silentLogger: Logger = pino({ level: 'silent' });
