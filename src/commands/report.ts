// `classify-sync report`: the stored jobs' outcomes for people (table, html) and tools (json, csv).
// Reads the database only (plus pending migrations, like every command); needs no API key.
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { storedProjectNames, unknownProjects } from '../db/projects.ts';
import { errorCode, errorMessage } from '../errors.ts';
import { createLogger } from '../log.ts';
import { loadReport, ReportTimeoutError } from '../report/data.ts';
import { DEFAULT_SINCE, parseFormat, parseSince, ReportOptionError } from '../report/options.ts';
import { renderReport } from '../report/render.ts';
import { databaseExists, EXIT, line, terminalColumns, unknownProjectsMessage, type Io } from './shared.ts';

export interface ReportFlags {
  project?: string[] | undefined;
  config?: string | undefined;
  'pglite-dir'?: string | undefined;
  'log-level'?: string | undefined;
  'log-format'?: string | undefined;
  since?: string | undefined;
  format?: string | undefined;
  out?: string | undefined;
}

export async function runReport(flags: ReportFlags, io: Io, clock: () => number = Date.now): Promise<number> {
  const now = new Date(clock());
  let format;
  let since;
  try {
    format = parseFormat(flags.format);
    since = parseSince(flags.since ?? DEFAULT_SINCE, now);
  } catch (error) {
    if (!(error instanceof ReportOptionError)) throw error;
    io.stderr.write(`classify-sync: ${error.message} (see classify-sync --help)\n`);
    return EXIT.cannotRun;
  }

  // Project names come from the config file; --project only narrows the report.
  const config = loadConfig(
    { configFile: flags.config, pgliteDir: flags['pglite-dir'], logLevel: flags['log-level'], logFormat: flags['log-format'] },
    io.env,
  );
  // Logs go to stderr (quiet unless asked): stdout carries the report.
  const log = createLogger({
    level: flags['log-level'] === undefined ? 'warn' : config.logLevel,
    secrets: config.secrets,
    stderr: true,
    format: config.logFormat,
  });
  // A report never creates a database: an embedded directory without one is a wrong --pglite-dir.
  if (!databaseExists(config, io)) return EXIT.cannotRun;
  const database = await openDatabase(config, log);
  let text: string;
  try {
    const unknown = await unknownProjects(database.db, flags.project ?? []);
    if (unknown.length > 0) {
      line(io.stderr, unknownProjectsMessage(unknown, database.description));
      return EXIT.cannotRun;
    }
    const report = await loadReport(database.db, {
      projects: flags.project && flags.project.length > 0 ? [...new Set(flags.project)] : undefined,
      since,
      now,
      // The config's names win; the stored ones cover projects it does not name (or no config at all).
      names: new Map([
        ...(await storedProjectNames(database.db)),
        ...config.projects.flatMap((p) => (p.name ? [[p.id, p.name] as const] : [])),
      ]),
      database: database.description,
      timeoutMs: config.reportTimeoutMs,
    });
    // A report written to a file has no terminal to fit: DEFAULT_WIDTH.
    text = renderReport(report, format, { width: flags.out === undefined ? terminalColumns(io.stdout) : undefined });
  } catch (error) {
    if (!(error instanceof ReportTimeoutError)) throw error;
    io.stderr.write(`classify-sync: ${error.message}\n`);
    return EXIT.cannotRun;
  } finally {
    await database.close();
    log.flush();
  }

  if (flags.out === undefined) {
    io.stdout.write(text);
    return EXIT.ok;
  }
  try {
    writeFileSync(flags.out, text);
  } catch (error) {
    const code = errorCode(error) ?? errorMessage(error);
    io.stderr.write(`classify-sync: cannot write the report to ${flags.out} (${code}): check --out\n`);
    return EXIT.cannotRun;
  }
  io.stderr.write(`classify-sync: ${format} report written to ${flags.out}\n`);
  return EXIT.ok;
}
