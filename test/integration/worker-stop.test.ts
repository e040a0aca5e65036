// The worker stops with whatever started it, and its HTTP server listens where it is told: worker
// processes launched the README's ways (`npx classify-sync worker`, `node bin/classify-sync.js worker`)
// against real Postgres and the simulator, observed through the process table, rows and HTTP answers.
import { networkInterfaces } from 'node:os';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { queryRows, type Db } from '../../src/db/connect.ts';
import { startSimulator, type SimProjectSpec, type SimulatorOptions } from '../../src/simulator/index.ts';
import { createPostgresDatabase, openTestDatabase, postgresReachable, TEST_DATABASE_URL } from '../helpers/db.ts';
import { count } from '../helpers/harness.ts';
import { adminClient, report } from '../helpers/reliability.ts';
import {
  advisoryLocks,
  eventually,
  groupProcesses,
  killWorkers,
  spawnWorker,
  workerSessions,
  type LogLine,
  type SpawnOptions,
} from '../helpers/worker.ts';

const NOW = Date.UTC(2026, 2, 1);
const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const DAILY = '0 2 * * *';
/** Hang guards only: a start through npx and tsx on a loaded 2-core machine takes seconds. */
const START_MS = 90_000;
const STOP_MS = 60_000;

const pgUp = await postgresReachable();

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await killWorkers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(projects: SimProjectSpec[], simOptions: Partial<SimulatorOptions> = {}) {
  // v1 only: the default --api auto falls back to it after one probe.
  const sim = await startSimulator({ projects, seed: 11, now: NOW, apis: ['v1'], ...simOptions });
  cleanups.push(() => sim.stop());
  const tdb = await openTestDatabase('postgres');
  cleanups.push(() => tdb.close());
  const url = tdb.url ?? '';
  const env: Record<string, string> = {
    DATABASE_URL: url,
    LLAMA_CLOUD_BASE_URL: sim.url,
    LLAMA_CLOUD_API_KEY: sim.apiKey,
    CLASSIFY_SYNC_PROJECTS: projects.map((p) => p.id).join(','),
  };
  return { sim, db: tdb.database.db, url, env };
}

const isLine =
  (msg: string, extra: Partial<LogLine> = {}) =>
  (line: LogLine) =>
    line.msg === msg && Object.entries(extra).every(([key, value]) => line[key] === value);

/** Pages stored so far by the run in flight. */
async function pagesInFlight(db: Db): Promise<number> {
  return count(db, sql`SELECT coalesce(max(pages), 0)::int AS n FROM sync_run_projects WHERE status = 'running'`);
}

/** Does anything answer HTTP on this address? */
async function answers(url: string): Promise<boolean> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(5000) });
    return true;
  } catch {
    return false;
  }
}

/** An IPv4 address of this machine other than loopback, if it has one (to tell 127.0.0.1 from 0.0.0.0). */
function externalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
}

interface StopCase {
  name: string;
  launch: NonNullable<SpawnOptions['launch']>;
  /** launcher: the pid the launch command started; group: its whole process group. */
  target: 'launcher' | 'group';
  signal: NodeJS.Signals;
  /** The log line that says why the worker stopped. */
  reason: (line: LogLine) => boolean;
}

const BY_SIGNAL = (signal: NodeJS.Signals) => isLine('stopping: no new page starts; the page being stored commits', { signal });
const BY_PARENT = isLine('stopping: the launcher exited (its signal was not passed on); no new page starts; the page being stored commits');
const STOPS: StopCase[] = [
  // npm 11 passes SIGTERM to its shell, not to node: the worker sees its parent go. (Should an npm
  // pass it on after all, the worker stops on the signal itself: the outcome is what counts.)
  {
    name: 'npx classify-sync worker, SIGTERM to npx',
    launch: 'npx',
    target: 'launcher',
    signal: 'SIGTERM',
    reason: (line) => BY_PARENT(line) || BY_SIGNAL('SIGTERM')(line),
  },
  {
    name: 'npx classify-sync worker, SIGTERM to its process group',
    launch: 'npx',
    target: 'group',
    signal: 'SIGTERM',
    reason: BY_SIGNAL('SIGTERM'),
  },
  {
    name: 'node bin/classify-sync.js worker, SIGTERM to it',
    launch: 'node',
    target: 'launcher',
    signal: 'SIGTERM',
    reason: BY_SIGNAL('SIGTERM'),
  },
  {
    name: 'node bin/classify-sync.js worker, SIGTERM to its process group',
    launch: 'node',
    target: 'group',
    signal: 'SIGTERM',
    reason: BY_SIGNAL('SIGTERM'),
  },
  // The terminal it runs in closes.
  {
    name: 'node bin/classify-sync.js worker, SIGHUP to its process group',
    launch: 'node',
    target: 'group',
    signal: 'SIGHUP',
    reason: BY_SIGNAL('SIGHUP'),
  },
];

/** For docs/reliability.md: per stop case `launch/target/signal:what stopped it:run status@pages,seconds to no process left`. */
const stops: string[] = [];
const figures: Record<string, string | number> = {};
afterAll(() => {
  if (stops.length > 0)
    report('worker-stop', {
      cases: stops.length,
      leftRunning: 0,
      ...Object.fromEntries(stops.map((f, i) => [`case${i + 1}`, f])),
      ...figures,
    });
});

describe.runIf(pgUp)('the worker stops with its launcher (processes, real Postgres)', () => {
  for (const c of STOPS)
    it(
      `${c.name}: the page commits, the run is cancelled, nothing is left running`,
      async () => {
        const { db, url, env } = await setup([{ id: A, jobs: 400 }], { latencyMs: 150 });
        const worker = spawnWorker(['--run-now', '--page-size', '10', '--metrics-port', '0'], env, { launch: c.launch, detached: true });
        const pgid = worker.child.pid ?? 0;
        const { port } = await worker.waitForLine(isLine('serving /healthz and /metrics'), 'the metrics port', START_MS);
        const healthz = `http://127.0.0.1:${String(port)}/healthz`;
        await eventually(async () => (await pagesInFlight(db)) >= 2, 'two pages stored', START_MS);
        expect(await answers(healthz)).toBe(true);

        const stoppedAt = Date.now();
        if (c.target === 'group') process.kill(-pgid, c.signal);
        else worker.kill(c.signal);
        await eventually(() => groupProcesses(pgid).length === 0, `every process of group ${pgid} to end`, STOP_MS);
        const stopSeconds = (Date.now() - stoppedAt) / 1000;
        await worker.closed;

        expect(worker.lines.some(c.reason), `why it stopped, in: ${JSON.stringify(worker.lines.slice(-6))}`).toBe(true);
        expect(worker.lines.some(isLine('worker stopped', { code: 0 }))).toBe(true);
        expect(worker.stderr()).not.toMatch(/classify-sync:/);
        if (c.launch === 'node') expect(await worker.exited).toEqual({ code: 0, signal: null });
        const runs = await queryRows<{ status: string; pages: number }>(db, sql`SELECT status, pages FROM sync_runs`);
        expect(runs).toEqual([{ status: 'cancelled', pages: expect.any(Number) as number }]);
        const pages = runs[0]?.pages ?? 0;
        expect(pages).toBeGreaterThanOrEqual(2);
        expect(pages).toBeLessThan(40);
        // Whole pages only: every stored page has all its jobs and its seen ids.
        expect(await count(db, sql`SELECT count(*)::int AS n FROM classify_jobs`)).toBe(pages * 10);
        expect(await count(db, sql`SELECT count(*)::int AS n FROM sync_walk_seen`)).toBe(pages);
        expect(await count(db, sql`SELECT count(*)::int AS n FROM sync_run_projects WHERE status = 'cancelled'`)).toBe(1);
        expect(await answers(healthz)).toBe(false);
        expect(await workerSessions(url)).toEqual([]);
        expect(await advisoryLocks(db)).toBe(0);
        const via = worker.lines.some(BY_PARENT) ? 'parent-watch' : 'signal';
        stops.push(`${c.launch}/${c.target}/${c.signal}:${via}:cancelled@${pages}pages,${stopSeconds.toFixed(1)}s`);
      },
      START_MS + STOP_MS + 30_000,
    );
});

describe.runIf(pgUp)('a stop while the worker starts (process, real Postgres)', () => {
  it(
    "SIGTERM while it waits on another replica's migration lock exits 0 at once, leaving no session",
    async () => {
      // A container's PID 1 ignores a signal it has no handler for: the worker must handle it from the start.
      const { url, drop } = await createPostgresDatabase();
      cleanups.push(drop);
      const admin = await adminClient(url);
      cleanups.push(() => admin.end());
      await admin.query(`SELECT pg_advisory_lock(hashtext('classify-sync:migrate'))`);
      const worker = spawnWorker(['--schedule', DAILY], { DATABASE_URL: url, LLAMA_CLOUD_API_KEY: 'k', CLASSIFY_SYNC_PROJECTS: A });
      await eventually(
        async () => (await workerSessions(url)).some((session) => session.waiting),
        'the worker waiting on the migration lock',
        START_MS,
      );
      const stoppedAt = Date.now();
      worker.kill('SIGTERM');
      expect(await worker.exited).toEqual({ code: 0, signal: null });
      figures.stopWhileStartingSeconds = ((Date.now() - stoppedAt) / 1000).toFixed(2);
      expect(worker.lines.some(isLine('stopping while starting: no run had begun', { signal: 'SIGTERM' }))).toBe(true);
      // A backend waiting on a lock notices its client is gone only once it gets the lock: free it, and the
      // session ends without having applied anything.
      await admin.query(`SELECT pg_advisory_unlock(hashtext('classify-sync:migrate'))`);
      await eventually(async () => (await workerSessions(url)).length === 0, 'its sessions to end', STOP_MS);
      const { rows } = await admin.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM information_schema.tables WHERE table_name = 'classify_jobs'`,
      );
      expect(rows[0]?.n).toBe('0');
    },
    START_MS + STOP_MS,
  );
});

describe.runIf(pgUp)('where /healthz and /metrics listen (processes, real Postgres)', () => {
  /** Starts a worker, waits until it serves, and tells where it listens and who can reach it. */
  async function listening(args: string[], extraEnv: Record<string, string> = {}) {
    const { env } = await setup([{ id: A, jobs: 5 }]);
    const worker = spawnWorker(['--schedule', DAILY, '--metrics-port', '0', ...args], { ...env, ...extraEnv });
    const { host, port } = await worker.waitForLine(isLine('serving /healthz and /metrics'), 'the metrics port', START_MS);
    const external = externalAddress();
    const result = {
      host,
      loopback: await answers(`http://127.0.0.1:${String(port)}/healthz`),
      external: external === undefined ? undefined : await answers(`http://${external}:${String(port)}/healthz`),
    };
    worker.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    return result;
  }

  it(
    'listens on 127.0.0.1 by default, and on the address --metrics-host or CLASSIFY_SYNC_METRICS_HOST gives (the flag wins)',
    async () => {
      // From another address of this machine (when it has one), only a server on every interface answers.
      const hasExternal = externalAddress() !== undefined;
      const everywhere = { loopback: true, external: hasExternal ? true : undefined };
      const loopbackOnly = { loopback: true, external: hasExternal ? false : undefined };
      expect(await listening([])).toEqual({ host: '127.0.0.1', ...loopbackOnly });
      expect(await listening(['--metrics-host', '0.0.0.0'])).toEqual({ host: '0.0.0.0', ...everywhere });
      expect(await listening([], { CLASSIFY_SYNC_METRICS_HOST: '0.0.0.0' })).toEqual({ host: '0.0.0.0', ...everywhere });
      expect(await listening(['--metrics-host', '127.0.0.1'], { CLASSIFY_SYNC_METRICS_HOST: '0.0.0.0' })).toEqual({
        host: '127.0.0.1',
        ...loopbackOnly,
      });
      figures.defaultHost = '127.0.0.1';
      figures.externalChecked = String(hasExternal);
    },
    4 * START_MS,
  );

  it(
    'refuses an invalid --metrics-host, and an address this machine does not have, with one line and exit 1',
    async () => {
      const invalid = spawnWorker(['--metrics-host', 'not a host!', '--metrics-port', '0'], {
        LLAMA_CLOUD_API_KEY: 'k',
        CLASSIFY_SYNC_PROJECTS: A,
      });
      expect(await invalid.exited).toEqual({ code: 1, signal: null });
      expect(invalid.stderr()).toBe(
        'classify-sync: --metrics-host: "not a host!" is not an IP address or host name: use e.g. 127.0.0.1, 0.0.0.0 or :: (see classify-sync --help)\n',
      );

      const { env } = await setup([{ id: A, jobs: 5 }]);
      // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
      const elsewhere = spawnWorker(['--schedule', DAILY, '--metrics-port', '0', '--metrics-host', '192.0.2.1'], env);
      expect(await elsewhere.exited).toEqual({ code: 1, signal: null });
      expect(elsewhere.stderr()).toBe(
        'classify-sync: cannot serve /healthz and /metrics on 192.0.2.1 port 0 (EADDRNOTAVAIL): pick another --metrics-port or --metrics-host\n',
      );
    },
    2 * START_MS,
  );

  it(
    '/healthz scrubs the database password from its error text',
    async () => {
      // The password is the database's own name, so "database … does not exist" quotes it: a database
      // error carrying a secret, as one quoting a connection string would. (trust auth ignores it.)
      const { sim } = await setup([{ id: A, jobs: 5 }]);
      const { url, drop } = await createPostgresDatabase();
      cleanups.push(drop);
      const withPassword = new URL(url);
      const password = withPassword.pathname.slice(1);
      withPassword.username = new URL(TEST_DATABASE_URL).username || 'postgres';
      withPassword.password = password;
      const worker = spawnWorker(['--schedule', DAILY, '--metrics-port', '0'], {
        DATABASE_URL: withPassword.toString(),
        LLAMA_CLOUD_BASE_URL: sim.url,
        LLAMA_CLOUD_API_KEY: sim.apiKey,
        CLASSIFY_SYNC_PROJECTS: A,
      });
      const { port } = await worker.waitForLine(isLine('serving /healthz and /metrics'), 'the metrics port', START_MS);
      await worker.waitForLine(isLine('run finished'), 'the catch-up run', START_MS);

      const admin = await adminClient(TEST_DATABASE_URL);
      await admin.query(`DROP DATABASE "${password}" WITH (FORCE)`);
      await admin.end();
      const body = await eventually(
        async () => {
          const res = await fetch(`http://127.0.0.1:${String(port)}/healthz`);
          const text = await res.text();
          return res.status === 503 && text.includes('does not exist') && text;
        },
        'a /healthz error naming the missing database',
        STOP_MS,
      );
      expect(body).not.toContain(password);
      expect(JSON.parse(body)).toEqual({
        status: 'error',
        projects: [],
        error: 'database unreadable: database "***" does not exist (SQLSTATE 3D000)',
      });
      expect(worker.lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain(password);
      worker.kill('SIGTERM');
      await worker.exited;
      expect(worker.stderr()).not.toContain(password);
      figures.healthzPasswordLeaks = 0;
    },
    START_MS + 2 * STOP_MS,
  );
});
