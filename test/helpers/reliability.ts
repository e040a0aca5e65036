// Shared by the reliability suites (faults, crashes, hostile input, database faults, security):
// a summary line per suite for docs/reliability.md, a logger that keeps its lines, and raw SQL access.
import { Writable } from 'node:stream';
import pg from 'pg';
import { createLogger, type Logger } from '../../src/log.ts';

/**
 * Prints one line of figures a suite measured, e.g. `[reliability] api-faults: requests=412 faults=131`.
 * docs/reliability.md copies these lines; `npx vitest run test/integration/<suite>` reproduces them.
 */
export function report(suite: string, figures: Record<string, string | number | boolean>): void {
  const text = Object.entries(figures)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`[reliability] ${suite}: ${text}`);
}

/** A real (pino) logger whose JSON lines are kept in memory, parsed. */
export function memoryLogger(options: { secrets?: string[]; level?: 'info' | 'debug' | 'trace' | 'warn' } = {}): {
  log: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const log = createLogger({ level: options.level ?? 'info', secrets: options.secrets, destination });
  const text = () => chunks.join('');
  return {
    log,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A plain client to the test database, named so it is never mistaken for the sync's own connections. */
export async function adminClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: 'cs-test-admin' });
  await client.connect();
  return client;
}

/** Every row of every table of the database (public and drizzle schemas) as text, one line per row. */
export async function dumpAllTables(url: string): Promise<string> {
  const client = await adminClient(url);
  try {
    const { rows: tables } = await client.query<{ schema: string; name: string }>(`
      SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
      WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'
      ORDER BY 1, 2`);
    const out: string[] = [];
    for (const t of tables) {
      const { rows } = await client.query<{ row: string }>(`SELECT t::text AS row FROM "${t.schema}"."${t.name}" t`);
      for (const r of rows) out.push(`${t.schema}.${t.name}: ${r.row}`);
    }
    return out.join('\n');
  } finally {
    await client.end();
  }
}

/** A small seeded PRNG for test decisions (kill moments, which backend to kill): the simulator's own. */
export { mulberry32 as seeded } from '../../src/simulator/prng.ts';
