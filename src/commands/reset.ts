// `classify-sync reset --project <id>`: forgets a project's walk state so that its next sync is a full
// walk from the first page; the stored jobs stay. With --delete-data its jobs (and their children),
// run records, rejects and stored name go too. It asks first on a terminal, refuses without --yes
// elsewhere, and runs under the project's lock, so never while a sync of the project is under way.
import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { storedProjectNames, unknownProjects } from '../db/projects.ts';
import { projectLockKey, refreshReportingViews } from '../db/runs.ts';
import { resetProject, type ResetResult } from '../db/state.ts';
import { createLogger } from '../log.ts';
import { databaseExists, EXIT, line, UsageError, type Io } from './shared.ts';

export interface ResetFlags {
  project?: string[] | undefined;
  config?: string | undefined;
  'pglite-dir'?: string | undefined;
  yes?: boolean | undefined;
  'delete-data'?: boolean | undefined;
}

/** Where the question is read from: a terminal, or not. */
export type Input = NodeJS.ReadableStream & { isTTY?: boolean };

export async function runReset(flags: ResetFlags, io: Io, input: Input = process.stdin): Promise<number> {
  const ids = [...new Set(flags.project ?? [])];
  const [projectId] = ids;
  if (projectId === undefined || ids.length > 1) {
    throw new UsageError('reset takes one --project <id>: the project whose walk state to forget');
  }
  const deleteData = flags['delete-data'] ?? false;
  const what = deleteData ? 'walk state and data' : 'walk state';
  if (!flags.yes && !input.isTTY) {
    line(io.stderr, `classify-sync: not resetting the ${what} of project ${projectId} without confirmation: pass --yes`);
    return EXIT.cannotRun;
  }
  const config = loadConfig({ configFile: flags.config, pgliteDir: flags['pglite-dir'] }, io.env);
  if (!databaseExists(config, io)) return EXIT.cannotRun;
  const log = createLogger({ level: 'warn', secrets: config.secrets, stderr: true });
  const database = await openDatabase(config, log);
  try {
    const configured = config.projects.find((p) => p.id === projectId);
    if (configured === undefined && (await unknownProjects(database.db, [projectId])).length > 0) {
      line(
        io.stderr,
        `classify-sync: project ${projectId} is neither in the config nor in ${database.description}: check the id (classify-sync status lists them)`,
      );
      return EXIT.cannotRun;
    }
    const name = configured?.name ?? (await storedProjectNames(database.db)).get(projectId);
    const label = name === undefined || name === projectId ? projectId : `${projectId} (${name})`;
    if (!flags.yes) {
      const question = deleteData
        ? `Forget the walk state of ${label} and delete its jobs, run records and rejects? This cannot be undone. [y/N] `
        : `Forget the walk state of ${label}? Its next sync walks it in full from the first page; its jobs stay. [y/N] `;
      if (!(await confirm(question, input, io))) {
        line(io.stderr, `classify-sync: project ${label} left as it was`);
        return EXIT.cannotRun;
      }
    }
    const held = await database.tryWithLock(projectLockKey(projectId), () => resetProject(database.db, projectId, { deleteData }));
    if (!held.acquired) {
      line(
        io.stderr,
        `classify-sync: project ${label} is being synced now (another process holds its lock): nothing reset; try again when that sync has finished`,
      );
      return EXIT.cannotRun;
    }
    let note = '';
    if ((held.value.deleted?.jobs ?? 0) > 0) {
      // The reporting views would still count the deleted jobs until the next sync refreshes them.
      const outcome = await refreshReportingViews(database.db, { kind: database.kind, timeoutMs: config.viewRefreshTimeoutMs });
      if (outcome !== 'refreshed') note = ` (the reporting views were not refreshed: ${outcome}; the next sync refreshes them)`;
    }
    line(io.stderr, `classify-sync: ${describeReset(label, held.value)}${note}`);
    return EXIT.ok;
  } finally {
    await database.close();
    log.flush();
  }
}

const plural = (n: number, word: string, words = `${word}s`) => `${n} ${n === 1 ? word : words}`;

/** What was done, in one line: "forgot walk state of X: 2 saved tokens, 14 seen pages; 0 jobs deleted". */
export function describeReset(label: string, result: ResetResult): string {
  const f = result.forgotten;
  const forgot = [
    plural(f.savedTokens, 'saved token'),
    plural(f.seenPages, 'seen page'),
    ...(f.slices > 0 ? [plural(f.slices, 'walk slice')] : []),
    f.versions === 0 ? 'no walk history' : `the walk history of ${plural(f.versions, 'API version')}`,
  ].join(', ');
  const d = result.deleted;
  const deleted =
    d === undefined
      ? '0 jobs deleted'
      : `${plural(d.jobs, 'job')} (with their rules, parsing settings and ${plural(d.statusChanges, 'status change')}), ` +
        `${plural(d.runRecords, 'run record')} and ${plural(d.rejects, 'reject')} deleted`;
  return `forgot walk state of ${label}: ${forgot}; ${deleted}`;
}

/** Asks on stderr and reads one line: only y or yes (any case) says yes. */
async function confirm(question: string, input: Input, io: Io): Promise<boolean> {
  const rl = createInterface({ input, output: io.stderr, terminal: false });
  try {
    // End of input (Ctrl-D) is a no.
    const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
    const answer = await Promise.race([rl.question(question), closed]);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
