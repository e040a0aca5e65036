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
    sim = await startSimulator({ apis: ['v1'],
      projects: [
        { id: A, jobs: 120 }, { id: FORBIDDEN, jobs: 3, access: 'forbidden' }, { id: WRONG, jobs: 3 }, { id: ECHO, jobs: 3 },
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
      fetch(`${sim.url}${req.url ?? '/'}`, { headers: { authorization: auth } }).then(async (upstream) => {
        if (!upstream.ok) return echo(upstream.status);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(await upstream.text());
      }, () => res.destroy());
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
    const config = writeConfig({ projects: [{ id: A }, { id: FORBIDDEN }, { id: WRONG, apiKeyEnv: 'KEY_OF_WRONG' }, { id: ECHO }], pageSize: 20 });
    const env = { LLAMA_CLOUD_API_KEY: KEY, KEY_OF_WRONG: WRONG_KEY, LLAMA_CLOUD_BASE_URL: proxyUrl, DATABASE_URL: url.toString() };
    const run = await runCli(['sync', '--config', config, '--api', 'v1', '--log-level', 'trace'], env);
    const migrate = await runCli(['migrate', '--log-level', 'trace'], env);
    const tables = await dumpAllTables(tdb.url as string);

    const outputs = { stdout: run.stdout + migrate.stdout, stderr: run.stderr + migrate.stderr, tables };
    const leaks = Object.entries(outputs).flatMap(([where, text]) =>
      [KEY, WRONG_KEY, DB_PASSWORD].filter((secret) => text.includes(secret)).map((secret) => `${secret.slice(0, 8)}… in ${where}`));
    report('security', {
      secretsChecked: 3, outputsChecked: 'stdout/stderr/all-tables', stdoutBytes: outputs.stdout.length,
      stderrBytes: outputs.stderr.length, tableBytes: tables.length, leaks: leaks.length,
    });
    expect(leaks).toEqual([]);

    // The run did what it should, so the outputs above are the real ones.
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`project ${A} succeeded \\(v1, full\\): 7 pages, 120 jobs .*1 rejected, [1-9]\\d* retries`));
    expect(run.stderr).toContain(`project ${FORBIDDEN} failed: HTTP 403 request refused; Authorization: Bearer ***`);
    expect(run.stderr).toContain(`project ${WRONG} failed: HTTP 401 request refused; Authorization: Bearer ***: check KEY_OF_WRONG`);
    expect(run.stderr).toContain(`project ${ECHO} failed: HTTP 400 request refused; Authorization: Bearer ***`);
    expect(run.stdout).toMatch(/"err":"HTTP 503 request refused; Authorization: Bearer \*\*\*".*"msg":"request failed, retrying"/);
    expect(migrate.stderr).toContain('migrations applied to postgres://postgres:***@');
    expect(tables).toContain('Authorization: Bearer ***');
    const [rejects] = await queryRows<{ n: number }>(tdb.database.db, sql`SELECT count(*)::int AS n FROM sync_rejects`);
    expect(rejects?.n).toBe(1);
  }, 180_000); // two CLI processes
});

/** Certificate for 127.0.0.1, self-signed (so it is its own CA), made with the openssl CLI. */
function makeCertificate(): { key: string; cert: string; certFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cs-tls-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
  ], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), certFile: join(dir, 'cert.pem') };
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
          const close = () => { client.destroy(); pg.destroy(); };
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
    await check('verify-full+sslrootcert, wrong host', `sslmode=verify-full&sslrootcert=${encodeURIComponent(certFile)}`,
      { ok: false, wire: 'tls', error: /localhost.*(not in the cert|does not match)|Hostname\/IP does not match/i }, 'localhost');
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
    expect(r.stderr).toMatch(/^classify-sync: database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/cs_test_\w+\?sslmode=require is unreachable \(The server does not support SSL connections\): check DATABASE_URL/m);
    expect(r.stderr + r.stdout).not.toContain(DB_PASSWORD);
  });
});
