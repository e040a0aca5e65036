// Errors that say what to do, through the real binary: a DATABASE_URL that cannot work, a config file
// with a JSON syntax error, an API address that cannot be reached or never could be, and an API version
// the deployment does not serve. Each is one line on stderr; none prints a secret.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { TEST_DATABASE_URL } from '../helpers/db.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { runCli, writeConfig } from '../helpers/cli.ts';

const P = 'aaaaaaaa-0000-4000-8000-00000000000e';
const KEY = 'llx-errors-key-0123456789abcdefghij';

/** A local port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('DATABASE_URL problems: said at start, with what to do', () => {
  it('a database that does not exist: create it, with the createdb command; nothing is created', async () => {
    const url = new URL(TEST_DATABASE_URL);
    const name = `cs_missing_${process.pid}`;
    url.pathname = `/${name}`;
    const result = await runCli(['migrate'], { DATABASE_URL: url.toString() });
    expect(result.code).toBe(1);
    const user = url.username ? ` -U ${url.username}` : '';
    expect(result.stderr).toBe(
      `classify-sync: database "${name}" does not exist (${url.toString()}): create it (createdb -h ${url.hostname} -p ${url.port || 5432}${user} ${name}), or fix DATABASE_URL\n`,
    );
    const admin = await runCli(['migrate'], { DATABASE_URL: TEST_DATABASE_URL });
    expect(admin.code, admin.stderr).toBe(0);
  });

  it.each([
    [
      'mysql://root:hunter2-secret@db.example.com/jobs',
      'classify-sync: DATABASE_URL is a mysql: URL: classify-sync writes to PostgreSQL only (postgres:// or postgresql://)\n',
    ],
    [
      'db.example.com/jobs',
      'classify-sync: DATABASE_URL is not a connection URL: set it like postgres://user:password@host:5432/dbname, or unset it to use the embedded database\n',
    ],
    [
      'postgres:hunter2-secret@base',
      'classify-sync: DATABASE_URL is not a connection URL: set it like postgres://user:password@host:5432/dbname, or unset it to use the embedded database\n',
    ],
  ])('%s: refused before any connection, the URL not echoed', async (databaseUrl, stderr) => {
    for (const command of ['migrate', 'sync', 'report']) {
      const result = await runCli(command === 'migrate' ? [command] : [command, '--project', P], {
        DATABASE_URL: databaseUrl,
        LLAMA_CLOUD_API_KEY: KEY,
      });
      expect(result.code, command).toBe(1);
      expect(result.stderr).toBe(stderr);
      expect(result.stdout).not.toContain('hunter2');
    }
  });
});

describe('a config file with a JSON syntax error', () => {
  it.each([
    ['{\n  "pageSize": 50,\n  "concurrency": 2,,\n}\n', 'at line 3, column 20 (Expected double-quoted property name)'],
    ['{\n  "pageSize": 50\n  "concurrency": 2\n}\n', "at line 3, column 3 (Expected ',' or '}' after property value)"],
    ['{\n  "projects": [\n', 'at its end (Unexpected end of JSON input)'],
  ])('%j: says where', async (text, where) => {
    const file = writeConfig({});
    writeFileSync(file, text);
    const result = await runCli(['sync', '--config', file], { LLAMA_CLOUD_API_KEY: KEY });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`classify-sync: config file ${file} is not valid JSON ${where}: fix the file\n`);
  });
});

describe('an API that cannot be reached', () => {
  const tdb = usePostgres();
  let v1Only: Simulator;
  beforeAll(async () => {
    v1Only = await startSimulator({ projects: [{ id: P, jobs: 5 }], apiKey: KEY, apis: ['v1'] });
  });
  afterAll(async () => {
    await v1Only?.stop();
  });
  const attempts = async () =>
    (
      await queryRows<{ requests: number; retries: number }>(
        tdb().database.db,
        sql`SELECT requests, retries FROM sync_run_projects WHERE project_id = ${P}`,
      )
    )[0];

  it('a base URL that is not http(s): refused at start', async () => {
    const result = await runCli(['sync', '--project', P], { LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: 'ftp://api.example.com' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'classify-sync: LLAMA_CLOUD_BASE_URL "ftp://api.example.com" is not an http(s) URL: use e.g. https://api.cloud.llamaindex.ai\n',
    );
  });

  it('a port fetch never sends to: fails at once (no retry), naming the address and LLAMA_CLOUD_BASE_URL', async () => {
    const config = writeConfig({ projects: [{ id: P }] });
    const env = { LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: 'http://127.0.0.1:10080', DATABASE_URL: tdb().url as string };
    const result = await runCli(['sync', '--config', config, '--api', 'v2'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `classify-sync: project ${P} failed: network error reaching http://127.0.0.1:10080: bad port: fetch refuses this address (a blocked port or scheme), so no retry can help: fix LLAMA_CLOUD_BASE_URL (or baseUrl in the config file)\n`,
    );
    expect((await attempts())?.retries).toBe(0);
  });

  it('nothing listening: retried, then the address and LLAMA_CLOUD_BASE_URL are named', async () => {
    const base = `http://127.0.0.1:${await closedPort()}`;
    const config = writeConfig({
      projects: [{ id: P }],
      retry: { retries: 2, minDelayMs: 5, maxDelayMs: 10, maxRetryAfterMs: 50, maxElapsedMs: 5000 },
    });
    const env = { LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: base, DATABASE_URL: tdb().url as string };
    const result = await runCli(['sync', '--config', config, '--api', 'v2'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `classify-sync: project ${P} failed: network error reaching ${base}: ECONNREFUSED: unreachable through every retry: check LLAMA_CLOUD_BASE_URL (or baseUrl in the config file) and the network, then run again (the walk resumes from its saved page)\n`,
    );
    expect((await attempts())?.retries).toBeGreaterThanOrEqual(2);
  });

  it('--api v2 against a deployment that serves only v1: the version is the problem', async () => {
    const env = { LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: v1Only.url, DATABASE_URL: tdb().url as string };
    const forced = await runCli(['sync', '--project', P, '--api', 'v2'], env);
    expect(forced.code).toBe(2);
    expect(forced.stderr).toBe(
      `classify-sync: project ${P} failed: ${v1Only.url} does not serve API v2 (GET /api/v2/classify is 404 Not Found): use --api auto, or --api v1 if this deployment speaks it\n`,
    );
    const auto = await runCli(['sync', '--project', P], env);
    expect(auto.code, auto.stderr).toBe(0);
  });
});
