// `classify-sync status`: where each project stands, from the database alone (no API key, no request):
// its API version, walks, the walk in progress, when the next full walk is due, its last run, open
// rejects and stored jobs. It changes nothing: no migration, and no database created where none is.
import { loadConfig } from '../config.ts';
import { connect } from '../db/connect.ts';
import { storedProjectNames, unknownProjects } from '../db/projects.ts';
import { knownProjectIds, loadProjectStatus } from '../db/state.ts';
import { projectStatuses, renderStatusJson, renderStatusTable } from '../report/status.ts';
import { DEFAULT_WIDTH } from '../report/table.ts';
import { databaseExists, EXIT, line, terminalColumns, unknownProjectsMessage, UsageError, type Io } from './shared.ts';

export interface StatusFlags {
  project?: string[] | undefined;
  config?: string | undefined;
  'pglite-dir'?: string | undefined;
  format?: string | undefined;
}

const FORMATS = ['table', 'json'] as const;

export async function runStatus(flags: StatusFlags, io: Io, clock: () => number = Date.now): Promise<number> {
  const format = flags.format ?? 'table';
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format takes ${FORMATS.join(' or ')}, got ${JSON.stringify(format)}`);
  }
  // Like `report`: names come from the config file, --project only narrows; API keys are not needed.
  const config = loadConfig({ configFile: flags.config, pgliteDir: flags['pglite-dir'] }, io.env);
  if (!databaseExists(config, io)) return EXIT.cannotRun;
  const database = await connect({ databaseUrl: config.databaseUrl, pgliteDir: config.pgliteDir, maxConnections: 4, readOnly: true });
  try {
    const pending = await database.pendingMigrations();
    if (pending.length > 0) {
      line(
        io.stderr,
        `classify-sync: the schema of ${database.description} is behind (${pending.length} migration${pending.length === 1 ? '' : 's'} not applied, ${pending.join(', ')}): run classify-sync migrate`,
      );
      return EXIT.cannotRun;
    }
    const configured = new Map(config.projects.map((p) => [p.id, { name: p.name }]));
    const asked = [...new Set(flags.project ?? [])];
    const unknown = (await unknownProjects(database.db, asked)).filter((id) => !configured.has(id));
    if (unknown.length > 0) {
      line(io.stderr, unknownProjectsMessage(unknown, database.description));
      return EXIT.cannotRun;
    }
    // Configured projects in config order, then the ones only the database knows.
    const all = [...configured.keys(), ...(await knownProjectIds(database.db)).filter((id) => !configured.has(id))];
    const projectIds = asked.length > 0 ? all.filter((id) => asked.includes(id)).concat(asked.filter((id) => !all.includes(id))) : all;
    const statuses = projectStatuses({
      projectIds,
      configured,
      storedNames: await storedProjectNames(database.db),
      stored: await loadProjectStatus(database.db, projectIds),
      api: config.api,
      fullRefreshDays: config.fullRefreshDays,
      nowMs: clock(),
    });
    io.stdout.write(
      format === 'json'
        ? renderStatusJson(statuses)
        : renderStatusTable(statuses, { database: database.description, width: terminalColumns(io.stdout) ?? DEFAULT_WIDTH }),
    );
    return EXIT.ok;
  } finally {
    await database.close();
  }
}
