// What every command shares: the streams it writes to, the exit codes, and how a run's result and a
// failure are printed. The command line loads this module before any command, so it imports nothing
// heavy: `--help` or a wrong flag must not pay for zod, pino, pg or Drizzle.
import { existsSync } from 'node:fs';
import { basename, isAbsolute, join, relative } from 'node:path';
import type { Config } from '../config.ts';
import { errorCode, errorMessage } from '../errors.ts';
import type { RunResult } from '../sync/run.ts';
import { scrub } from '../scrub.ts';

export const EXIT = { ok: 0, cannotRun: 1, someFailed: 2 } as const;

export interface Io {
  env: Readonly<Record<string, string | undefined>>;
  /** `columns`: a terminal's width (what `report` fits its tables to). */
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
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

/** The width of the terminal `stream` is, or undefined when it is none or does not say (a file, a pipe). */
export function terminalColumns(stream: Io['stdout']): number | undefined {
  return stream.isTTY && stream.columns ? stream.columns : undefined;
}

export function line(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${text}\n`);
}

/**
 * Whether the configured database can be there: false (and said on stderr) for an embedded directory
 * without one, which is a wrong --pglite-dir. Commands that only read call it before connecting, so
 * that they never create a database.
 */
export function databaseExists(config: Pick<Config, 'databaseUrl' | 'pgliteDir'>, io: Pick<Io, 'stderr'>): boolean {
  if (config.databaseUrl !== undefined || existsSync(join(config.pgliteDir, 'PG_VERSION'))) return true;
  line(
    io.stderr,
    `classify-sync: no embedded database in ${config.pgliteDir}: point --pglite-dir at the directory a sync wrote (or set DATABASE_URL)`,
  );
  return false;
}

/** The one line for `--project` ids the database has never seen. */
export function unknownProjectsMessage(ids: readonly string[], database: string): string {
  const one = ids.length === 1;
  return `classify-sync: ${one ? 'project' : 'projects'} ${ids.join(', ')} not in ${database} (no job or sync of ${one ? 'it' : 'them'}): check the id, or sync it first`;
}

const labelOf = (p: RunResult['projects'][number]) => (p.name ? `${p.projectId} (${p.name})` : p.projectId);

/** One line per project on stderr (or the stream given): what it did, or why it failed or was skipped. */
export function printResult(result: RunResult, io: Pick<Io, 'stderr'>): void {
  for (const p of result.projects) {
    const label = labelOf(p);
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

/**
 * A dry run's result: one line per project that walked to the end, on stdout, with what the walk
 * would have written; a project that failed, was skipped or stopped gets printResult's line on stderr.
 */
export function printDryRun(result: RunResult, io: Pick<Io, 'stdout' | 'stderr'>): void {
  for (const p of result.projects) {
    if (p.status !== 'succeeded') {
      printResult({ ...result, projects: [p] }, io);
      continue;
    }
    const deletions = p.kind === 'full' ? `, mark ${p.deleted} deleted` : '';
    const walk =
      `${p.kind} walk` +
      (p.mode === 'resume' ? ' resumed from its saved page token' : '') +
      (p.kind === 'full' ? '' : ', which marks no deletions');
    line(
      io.stdout,
      `classify-sync: dry run: project ${labelOf(p)} would insert ${p.inserted}, update ${p.updated}, ` +
        `leave ${p.unchanged} unchanged${deletions}, reject ${p.rejects} ` +
        `(${p.apiVersion}, ${walk}, ${p.pages} pages)${p.warning ? `; ${p.warning}` : ''}`,
    );
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
