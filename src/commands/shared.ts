// What every command shares: the streams it writes to, the exit codes, and how a run's result and a
// failure are printed. The command line loads this module before any command, so it imports nothing
// heavy: `--help` or a wrong flag must not pay for zod, pino, pg or Drizzle.
import { basename, isAbsolute, relative } from 'node:path';
import { errorCode, errorMessage } from '../errors.ts';
import type { RunResult } from '../sync/run.ts';
import { scrub } from '../scrub.ts';

export const EXIT = { ok: 0, cannotRun: 1, someFailed: 2 } as const;

export interface Io {
  env: Readonly<Record<string, string | undefined>>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** The script this process runs (process.argv[1]), so hints can say how to run it again. */
  script?: string | undefined;
}

/**
 * The command that runs this CLI again where it runs now, for hints: `npx classify-sync` under a
 * package manager (npx, npm run) or when unknown; `classify-sync` when started from PATH (the
 * image's /usr/local/bin/classify-sync, a global install); else `node <script>`, e.g.
 * `node dist/main.js` in the image or `node bin/classify-sync.js` in a checkout.
 */
export function selfCommand(launcher: string | undefined, script: string | undefined, cwd: string): string {
  if (launcher !== undefined || script === undefined) return 'npx classify-sync';
  if (basename(script) === 'classify-sync') return 'classify-sync';
  const path = relative(cwd, script);
  return `node ${path.startsWith('..') || isAbsolute(path) ? script : path}`;
}

/** Thrown for a wrong command line; exits 1 with the message and a pointer to --help. */
export class UsageError extends Error {}

export function line(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}

/** One line per project on stderr (or the stream given): what it did, or why it failed or was skipped. */
export function printResult(result: RunResult, io: Pick<Io, 'stderr'>): void {
  for (const p of result.projects) {
    const label = p.name ? `${p.projectId} (${p.name})` : p.projectId;
    if (p.status === 'failed') {
      line(io.stderr, `classify-sync: project ${label} failed: ${p.error ?? 'unknown error'}`);
    } else if (p.status === 'skipped') {
      line(io.stderr, `classify-sync: project ${label} skipped: ${p.warning ?? 'no reason given'}`);
    } else {
      const saved = !p.pagesSaved
        ? ''
        : p.pagesSaved > 0
          ? `, ${p.pagesSaved} fewer than a full walk`
          : `, ${-p.pagesSaved} more than a full walk`;
      line(
        io.stderr,
        `classify-sync: project ${label} ${p.status} (${p.apiVersion}, ${p.mode}): ${p.pages} pages${saved}, ${p.jobsSeen} jobs ` +
          `(${p.inserted} new, ${p.updated} updated, ${p.unchanged} unchanged, ${p.deleted} deleted), ` +
          `${p.rejects} rejected, ${p.retries} retries${p.warning ? `; warning: ${p.warning}` : ''}`,
      );
    }
  }
}

export function exitCodeOf(result: RunResult): number {
  return result.projects.some((p) => p.status === 'failed') ? EXIT.someFailed : EXIT.ok;
}

/**
 * Errors whose message is the whole story (no "unexpected error:" in front): ConfigError (config.ts) and
 * DatabaseError (db/connect.ts). Matched by name, which both classes set, so that this module need not
 * load theirs (zod, pg, Drizzle) just to print a usage error.
 */
const EXPECTED_ERRORS: ReadonlySet<string> = new Set(['ConfigError', 'DatabaseError']);

/** Prints a command's failure as one line (scrubbed of every secret in the environment); exits 1. */
export async function printFailure(error: unknown, io: Io): Promise<number> {
  // config.ts is already loaded when a command failed; only a usage error pays for it, and only here.
  const { envSecrets } = await import('../config.ts');
  const message = scrub(errorMessage(error), envSecrets(io.env));
  const code = errorCode(error);
  if (error instanceof UsageError || code?.startsWith('ERR_PARSE_ARGS')) {
    line(io.stderr, `classify-sync: ${message} (see classify-sync --help)`);
  } else if (error instanceof Error && EXPECTED_ERRORS.has(error.name)) {
    line(io.stderr, `classify-sync: ${message}`);
  } else {
    line(io.stderr, `classify-sync: unexpected error: ${message}`);
  }
  return EXIT.cannotRun;
}
