// Security: the API keys and the database password never appear in any output of a run (stdout,
// stderr, every table), even when the API echoes the key back; and TLS to Postgres follows `sslmode`
// in DATABASE_URL exactly as docs/reliability.md states.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, connect as netConnect, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { runCli, writeConfig } from '../helpers/cli.ts';
import { openTestDatabase, postgresReachable, TEST_DATABASE_URL, type TestDatabase } from '../helpers/db.ts';
import { dumpAllTables, report } from '../helpers/reliability.ts';

const A = '5e000000-0000-4000-8000-00000000000a';
const FORBIDDEN = '5e000000-0000-4000-8000-0000000000f0';
const WRONG = '5e000000-0000-4000-8000-0000000000f1';
const ECHO = '5e000000-0000-4000-8000-0000000000f2';
const KEY = 'llx-FAKE-secret-KEY-7f3a9c2e5b8d1046';
const WRONG_KEY = 'llx-WRONG-secret-KEY-e1d2c3b4a5968778';
const DB_PASSWORD = 'pg-Pa55word-never-printed-9d8c7b';

describe('secrets never leave the process (CLI, real Postgres)', () => {
  let sim: Simulator;
  let tdb: TestDatabase;
  let proxy: HttpServer;
  let proxyUrl: string;

  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    sim = await startSimulator({
      apis: ['v1'],
      projects: [
        { id: A, jobs: 120 },
        { id: FORBIDDEN, jobs: 3, access: 'forbidden' },
        { id: WRONG, jobs: 3 },
        { id: ECHO, jobs: 3 },
      ],
      apiKey: KEY,
      now: Date.parse('2026-11-01T00:00:00Z'),
    });
    sim.insertRawItem(A, { id: 'bad-item', project_id: A, rules: 'not a list', status: 'SUCCESS', user_id: 'u' });
    // A careless gateway in front of the API: it echoes the Authorization header into every error detail,
    // and answers every third request for A with a 503 (so retries are logged with the echo in them).
    let requestsForA = 0;
    proxy = createHttpServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      const echo = (status: number) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ detail: `request refused; Authorization: ${auth}` }));
      };
      const project = new URL(req.url ?? '/', 'http://x').searchParams.get('project_id');
      if (project === ECHO) return echo(400);
      if (project === A && requestsForA++ % 3 === 0) return echo(503);
      fetch(`${sim.url}${req.url ?? '/'}`, { headers: { authorization: auth } }).then(
        async (upstream) => {
          if (!upstream.ok) return echo(upstream.status);
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(await upstream.text());
        },
        () => res.destroy(),
      );
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    tdb = await openTestDatabase('postgres');
  });
  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await sim?.stop();
    await tdb?.close();
  });

  it('greps stdout, stderr and every table of a run for the keys and the password: absent', async (ctx) => {
    if (!sim) return ctx.skip();
    const url = new URL(tdb.url as string);
    url.password = DB_PASSWORD; // trust auth ignores it; the process still holds it in DATABASE_URL
    const config = writeConfig({
      projects: [{ id: A }, { id: FORBIDDEN }, { id: WRONG, apiKeyEnv: 'KEY_OF_WRONG' }, { id: ECHO }],
      pageSize: 20,
    });
    const env = { LLAMA_CLOUD_API_KEY: KEY, KEY_OF_WRONG: WRONG_KEY, LLAMA_CLOUD_BASE_URL: proxyUrl, DATABASE_URL: url.toString() };
    const run = await runCli(['sync', '--config', config, '--api', 'v1', '--log-level', 'trace'], env);
    const migrate = await runCli(['migrate', '--log-level', 'trace'], env);
    // Counted before the next run quarantines the same item again.
    const [rejects] = await queryRows<{ n: number }>(tdb.database.db, sql`SELECT count(*)::int AS n FROM sync_rejects`);
    // The readable log lines of a terminal are scrubbed as the JSON ones are.
    const pretty = await runCli(['sync', '--config', config, '--api', 'v1', '--log-level', 'trace', '--log-format', 'pretty'], env);
    const tables = await dumpAllTables(tdb.url as string);

    const outputs = {
      stdout: run.stdout + migrate.stdout + pretty.stdout,
      stderr: run.stderr + migrate.stderr + pretty.stderr,
      tables,
    };
    const leaks = Object.entries(outputs).flatMap(([where, text]) =>
      [KEY, WRONG_KEY, DB_PASSWORD].filter((secret) => text.includes(secret)).map((secret) => `${secret.slice(0, 8)}… in ${where}`),
    );
    report('security', {
      secretsChecked: 3,
      outputsChecked: 'stdout/stderr/all-tables',
      stdoutBytes: outputs.stdout.length,
      stderrBytes: outputs.stderr.length,
      tableBytes: tables.length,
      leaks: leaks.length,
    });
    expect(leaks).toEqual([]);

    // The run did what it should, so the outputs above are the real ones.
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`project ${A} succeeded \\(v1, full\\): 7 pages, 120 jobs .*1 rejected, [1-9]\\d* retries`));
    expect(run.stderr).toContain(`project ${FORBIDDEN} failed: HTTP 403 request refused; Authorization: Bearer ***`);
    expect(run.stderr).toContain(`project ${WRONG} failed: HTTP 401 request refused; Authorization: Bearer ***: check KEY_OF_WRONG`);
    expect(run.stderr).toContain(`project ${ECHO} failed: HTTP 400 request refused; Authorization: Bearer ***`);
    expect(run.stdout).toMatch(/"err":"HTTP 503 request refused; Authorization: Bearer \*\*\*".*"msg":"request failed, retrying"/);
    expect(migrate.stderr).toContain('classify-sync: postgres://postgres:***@');
    expect(pretty.stdout).toMatch(
      new RegExp(
        `^\\d\\d:\\d\\d:\\d\\d ERROR \\[${FORBIDDEN}\\] project failed: HTTP 403 request refused; Authorization: Bearer \\*\\*\\*`,
        'm',
      ),
    );
    expect(pretty.stdout).not.toContain('{"level"');
    expect(tables).toContain('Authorization: Bearer ***');
    expect(rejects?.n).toBe(1);
  }, 240_000); // three CLI processes
});

/** Stdout, stderr and table text that hold any of `secrets`, as "llx-FAKE… in stderr" (never the whole secret). */
function leaksOf(outputs: Record<string, string>, secrets: readonly string[]): string[] {
  return Object.entries(outputs).flatMap(([where, text]) =>
    secrets.filter((secret) => text.includes(secret)).map((secret) => `${secret.slice(0, 8)}… in ${where}`),
  );
}

describe('secrets in odd places: padded keys, the URL query, the base URL, item data (CLI, real Postgres)', () => {
  const B = '5e000000-0000-4000-8000-0000000000b1';
  const OTHER = '5e000000-0000-4000-8000-0000000000b2';
  const ITEMS = '5e000000-0000-4000-8000-0000000000b3';
  const ITEMS_V2 = '5e000000-0000-4000-8000-0000000000b4';
  const QUERY_PASSWORD = 'pg-query-Pa55-never-printed-4e1f';
  const USERINFO_PASSWORD = 'pg-userinfo-Pa55-never-printed-a07c';
  // `$(cat key.txt)` keeps the newline; a careless copy keeps spaces and tabs too.
  const PADDED_KEY = `${KEY}\n`;
  const PADDED_WRONG_KEY = `  ${WRONG_KEY} \t\n`;
  let sim: Simulator;
  const figures: Record<string, string | number> = {};

  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    sim = await startSimulator({
      projects: [
        { id: B, jobs: 30 },
        // Accepts only its own key, so WRONG_KEY gets a 401 whose detail echoes it.
        { id: OTHER, jobs: 3, apiKey: 'llx-only-key-of-other-project-55' },
        { id: ITEMS, jobs: 12, apis: ['v1'] },
        { id: ITEMS_V2, jobs: 12, apis: ['v2'] },
      ],
      apiKey: KEY,
      echoAuthorization: true,
      now: Date.parse('2026-11-01T00:00:00Z'),
    });
  });
  afterAll(async () => {
    await sim?.stop();
    if (sim) report('security-odd-places', figures);
  });

  it('a key with a trailing newline and spaces is sent trimmed and scrubbed trimmed, even when a 401 echoes it', async (ctx) => {
    if (!sim) return ctx.skip();
    const tdb = await openTestDatabase('postgres');
    try {
      const config = writeConfig({ projects: [{ id: B }, { id: OTHER, apiKeyEnv: 'KEY_OF_WRONG' }], pageSize: 10 });
      const env = { LLAMA_CLOUD_API_KEY: PADDED_KEY, KEY_OF_WRONG: PADDED_WRONG_KEY, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: tdb.url };
      const run = await runCli(['sync', '--config', config, '--api', 'v1', '--log-level', 'trace'], env);
      const tables = await dumpAllTables(tdb.url as string);
      const leaks = leaksOf({ stdout: run.stdout, stderr: run.stderr, tables }, [KEY, WRONG_KEY]);
      figures.paddedKeyLeaks = leaks.length;
      expect(leaks).toEqual([]);

      // Authenticated with the trimmed key: the whole project is stored.
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`project ${B} succeeded \\(v1, full\\): 3 pages, 30 jobs`));
      expect(run.stderr).toContain(
        `project ${OTHER} failed: HTTP 401 Invalid authentication token; Authorization: Bearer ***: check KEY_OF_WRONG`,
      );
      const [jobs] = await queryRows<{ n: number }>(
        tdb.database.db,
        sql`SELECT count(*)::int AS n FROM classify_jobs WHERE project_id = ${B}`,
      );
      expect(jobs?.n).toBe(30);
      expect(tables).toContain('Authorization: Bearer ***');
    } finally {
      await tdb.close();
    }
  }, 60_000);

  it('a password in the query string of DATABASE_URL (and one in its userinfo) is printed by no command', async (ctx) => {
    if (!sim) return ctx.skip();
    const tdb = await openTestDatabase('postgres');
    try {
      const url = new URL(tdb.url as string);
      url.password = USERINFO_PASSWORD; // trust auth ignores both; pg uses the query's
      const query = `${tdb.url as string}?password=${QUERY_PASSWORD}`;
      const both = `${url.toString()}?sslmode=disable&password=${QUERY_PASSWORD}`;
      const outputs: Record<string, string> = {};
      for (const [name, databaseUrl] of [
        ['query', query],
        ['both', both],
      ] as const) {
        const env = { LLAMA_CLOUD_API_KEY: PADDED_KEY, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: databaseUrl };
        const run = await runCli(['sync', '--project', B, '--api', 'v1', '--log-level', 'trace'], env);
        const migrate = await runCli(['migrate', '--log-level', 'trace'], env);
        const html = await runCli(['report', '--format', 'html', '--log-level', 'trace'], env);
        const table = await runCli(['report'], env);
        expect([run.code, migrate.code, html.code, table.code]).toEqual([0, 0, 0, 0]);
        outputs[`${name}: stdout`] = run.stdout + migrate.stdout + html.stdout + table.stdout;
        outputs[`${name}: stderr`] = run.stderr + migrate.stderr + html.stderr + table.stderr;
        const redacted =
          name === 'query'
            ? `postgres://postgres@127.0.0.1:${url.port || 5432}${url.pathname}?password=***`
            : `postgres://postgres:***@127.0.0.1:${url.port || 5432}${url.pathname}?sslmode=disable&password=***`;
        expect(run.stdout).toMatch(new RegExp(`"database":"${redacted.replace(/[?*]/g, '\\$&')}".*"msg":"database connected"`));
        expect(migrate.stderr).toMatch(
          new RegExp(`^classify-sync: ${redacted.replace(/[?*]/g, '\\$&')} is current \\(\\d{4}_\\w+\\): no migration to apply\\n$`),
        );
        expect(html.stdout).toContain(`<footer>Database: ${redacted.replaceAll('&', '&#38;')}.`);
        expect(table.stdout).toContain(`Database: ${redacted}`);
      }
      outputs.tables = await dumpAllTables(tdb.url as string);
      const leaks = leaksOf(outputs, [QUERY_PASSWORD, USERINFO_PASSWORD, KEY]);
      figures.databaseUrlCommands = 'sync/migrate/report-html/report-table';
      figures.databaseUrlLeaks = leaks.length;
      expect(leaks).toEqual([]);
    } finally {
      await tdb.close();
    }
  }, 120_000); // eight CLI processes

  it('credentials in LLAMA_CLOUD_BASE_URL are refused at start, in one line that does not repeat them', async (ctx) => {
    if (!sim) return ctx.skip();
    const before = sim.stats.requests;
    const base = new URL(sim.url);
    base.username = 'sim-user-3c9';
    base.password = 'sim-pass-8d2e';
    const run = await runCli(['sync', '--project', B], { LLAMA_CLOUD_API_KEY: KEY, LLAMA_CLOUD_BASE_URL: base.toString() });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "classify-sync: LLAMA_CLOUD_BASE_URL must not carry credentials (user:password@): put the API key in LLAMA_CLOUD_API_KEY (or a project's apiKeyEnv)\n",
    );
    expect(run.stdout).toBe('');
    expect(run.stderr).not.toMatch(/sim-user|sim-pass/);
    // Refused before anything ran: not one request, so none retried either.
    expect(sim.stats.requests).toBe(before);
    figures.baseUrlRequests = sim.stats.requests - before;
  });

  it('a key the API echoes inside item data (an error message, a rejected item) is stored as ***', async (ctx) => {
    if (!sim) return ctx.skip();
    const tdb = await openTestDatabase('postgres');
    try {
      const [seeded] = sim.jobs(ITEMS);
      const [seededV2] = sim.jobsV2(ITEMS_V2);
      if (!seeded || !seededV2) throw new Error('the simulator seeded no jobs');
      sim.upsertJob(ITEMS, { ...seeded, status: 'ERROR', error_message: `upstream said: invalid header Authorization: Bearer ${KEY}` });
      sim.insertRawItem(ITEMS, {
        id: 'rejected-v1',
        project_id: ITEMS,
        user_id: 'u',
        status: 'ERROR',
        rules: 'not a list',
        echo: { [KEY]: `Bearer ${KEY}` },
      });
      sim.upsertJobV2(ITEMS_V2, {
        ...seededV2,
        status: 'FAILED',
        error_message: `key ${KEY} was refused by the parser`,
        [`debug_${KEY}`]: KEY,
      });
      sim.insertRawItemV2(ITEMS_V2, { id: `rejected-${KEY}`, project_id: ITEMS_V2, user_id: 42, status: 'FAILED' });
      const config = writeConfig({ projects: [{ id: ITEMS }], pageSize: 5 });
      const configV2 = writeConfig({ projects: [{ id: ITEMS_V2 }], pageSize: 5 });
      const env = { LLAMA_CLOUD_API_KEY: PADDED_KEY, LLAMA_CLOUD_BASE_URL: sim.url, DATABASE_URL: tdb.url };
      const v1 = await runCli(['sync', '--config', config, '--api', 'v1', '--log-level', 'trace'], env);
      const v2 = await runCli(['sync', '--config', configV2, '--api', 'v2', '--log-level', 'trace'], env);
      expect(v1.stderr).toMatch(new RegExp(`project ${ITEMS} succeeded \\(v1, full\\): 3 pages, 12 jobs .*1 rejected`));
      expect(v2.stderr).toMatch(new RegExp(`project ${ITEMS_V2} succeeded \\(v2, full\\): 3 pages, 12 jobs .*1 rejected`));
      const tables = await dumpAllTables(tdb.url as string);
      const leaks = leaksOf({ stdout: v1.stdout + v2.stdout, stderr: v1.stderr + v2.stderr, tables }, [KEY]);
      figures.itemDataLeaks = leaks.length;
      expect(leaks).toEqual([]);

      // Stored, with *** where the key was: the job, its raw, and the rejects' payloads.
      const jobs = await queryRows<{ id: string; error_message: string; raw: Record<string, unknown> }>(
        tdb.database.db,
        sql`SELECT id, error_message, raw FROM classify_jobs WHERE id IN (${seeded.id}, ${seededV2.id}) ORDER BY api_version`,
      );
      expect(jobs.map((j) => j.error_message)).toEqual([
        'upstream said: invalid header Authorization: Bearer ***',
        'key *** was refused by the parser',
      ]);
      expect(jobs[0]?.raw.error_message).toBe('upstream said: invalid header Authorization: Bearer ***');
      expect(jobs[1]?.raw).toMatchObject({ 'debug_***': '***' });
      const rejects = await queryRows<{ api_version: string; payload: string }>(
        tdb.database.db,
        sql`SELECT api_version, payload FROM sync_rejects ORDER BY api_version`,
      );
      expect(rejects.map((r) => r.api_version)).toEqual(['v1', 'v2']);
      expect(rejects[0]?.payload).toContain('"echo":{"***":"Bearer ***"}');
      expect(rejects[1]?.payload).toContain('"id":"rejected-***"');
      figures.itemDataJobsStored = jobs.length;
      figures.itemDataRejectsStored = rejects.length;
    } finally {
      await tdb.close();
    }
  }, 90_000);
});

/** Certificate for 127.0.0.1, self-signed (so it is its own CA), made with the openssl CLI. */
function makeCertificate(): { key: string; cert: string; certFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cs-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  return {
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    certFile: join(dir, 'cert.pem'),
  };
}

const SSL_REQUEST = 80877103;

describe('TLS to Postgres follows sslmode in DATABASE_URL', () => {
  let tdb: TestDatabase;
  let server: NetServer;
  let tlsPort: number;
  let certFile: string;
  /** How each connection the TLS-terminating proxy accepted started: 'tls' or 'plain'. */
  const seen: string[] = [];

  beforeAll(async () => {
    if (!(await postgresReachable())) return;
    tdb = await openTestDatabase('postgres');
    const { key, cert, certFile: file } = makeCertificate();
    certFile = file;
    const upstream = new URL(TEST_DATABASE_URL);
    // A Postgres front that speaks TLS: it answers SSLRequest with 'S', terminates TLS, and relays the
    // rest to the test server (which has ssl=off). Plain startups are relayed as they are.
    server = createNetServer((socket) => {
      socket.once('data', (first: Buffer) => {
        const relay = (client: Socket, pending?: Buffer) => {
          const pg = netConnect(Number(upstream.port || 5432), upstream.hostname);
          if (pending) pg.write(pending);
          client.pipe(pg).pipe(client);
          const close = () => {
            client.destroy();
            pg.destroy();
          };
          client.on('error', close).on('close', close);
          pg.on('error', close).on('close', close);
        };
        if (first.length === 8 && first.readInt32BE(4) === SSL_REQUEST) {
          seen.push('tls');
          socket.write('S');
          const secure = new TLSSocket(socket, { isServer: true, key, cert });
          secure.on('error', () => socket.destroy());
          relay(secure);
        } else {
          seen.push('plain');
          relay(socket, first);
        }
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    tlsPort = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await tdb?.close();
  });

  /** Connects through the proxy with `query` appended to DATABASE_URL; how it went, and what the proxy saw. */
  async function attempt(query: string, host = '127.0.0.1'): Promise<{ ok: boolean; error?: string; wire: string | undefined }> {
    const url = new URL(tdb.url as string);
    url.hostname = host;
    url.port = String(tlsPort);
    const before = seen.length;
    try {
      const database = await connect({ databaseUrl: `${url.toString()}?${query}`, pgliteDir: 'unused', maxConnections: 1 });
      const [row] = await queryRows<{ n: number }>(database.db, sql`SELECT count(*)::int AS n FROM classify_jobs`);
      await database.close();
      return { ok: row?.n === 0, wire: seen[before] };
    } catch (error) {
      return { ok: false, error: (error as Error).message, wire: seen[before] };
    }
  }

  it('disable: plain; no-verify: TLS unverified; require and verify-full: TLS with the certificate verified', async (ctx) => {
    if (!tdb) return ctx.skip();
    const results: Record<string, string> = {};
    const check = async (name: string, query: string, expected: { ok: boolean; wire: string; error?: RegExp }, host?: string) => {
      const r = await attempt(query, host);
      results[name] = `${r.wire}:${r.ok ? 'connected' : 'refused'}`;
      expect({ name, ok: r.ok, wire: r.wire }).toEqual({ name, ok: expected.ok, wire: expected.wire });
      if (expected.error) expect(r.error).toMatch(expected.error);
    };
    await check('sslmode=disable', 'sslmode=disable', { ok: true, wire: 'plain' });
    await check('sslmode=no-verify', 'sslmode=no-verify', { ok: true, wire: 'tls' });
    // node-postgres 8 treats require (and prefer, verify-ca) as verify-full: a certificate no CA vouches for is refused.
    await check('sslmode=require', 'sslmode=require', { ok: false, wire: 'tls', error: /self[- ]signed certificate/ });
    await check('sslmode=verify-full', 'sslmode=verify-full', { ok: false, wire: 'tls', error: /self[- ]signed certificate/ });
    await check('verify-full+sslrootcert', `sslmode=verify-full&sslrootcert=${encodeURIComponent(certFile)}`, { ok: true, wire: 'tls' });
    // The name checked is the host in the URL: the certificate is for 127.0.0.1, not localhost.
    await check(
      'verify-full+sslrootcert, wrong host',
      `sslmode=verify-full&sslrootcert=${encodeURIComponent(certFile)}`,
      { ok: false, wire: 'tls', error: /localhost.*(not in the cert|does not match)|Hostname\/IP does not match/i },
      'localhost',
    );
    // libpq's meaning on request: require = encrypt, do not verify.
    await check('uselibpqcompat+require', 'uselibpqcompat=true&sslmode=require', { ok: true, wire: 'tls' });
    report('tls', results);
  });

  it('never falls back to plain text: sslmode=require against a server without TLS fails, and the CLI says so in one line', async (ctx) => {
    if (!tdb) return ctx.skip();
    const url = new URL(tdb.url as string);
    url.password = DB_PASSWORD;
    const r = await runCli(['migrate'], { DATABASE_URL: `${url.toString()}?sslmode=require` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^classify-sync: database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/cs_test_\w+\?sslmode=require is unreachable \(The server does not support SSL connections\): check DATABASE_URL/m,
    );
    expect(r.stderr + r.stdout).not.toContain(DB_PASSWORD);
  });
});
