// Worker processes as an operator runs them: `node bin/classify-sync.js worker …` (or the README's
// `npx classify-sync worker …`) children, their JSON log lines collected as data, and small readers for
// /healthz and Prometheus text.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { queryRows, type Db } from '../../src/db/connect.ts';

const BIN = fileURLToPath(new URL('../../bin/classify-sync.js', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type LogLine = Record<string, unknown> & { msg?: string };

export interface WorkerProcess {
  readonly child: ChildProcess;
  /** Every JSON log line printed so far, in order. */
  readonly lines: LogLine[];
  stderr(): string;
  /** Resolves with the first line (already printed or to come) that matches. */
  waitForLine(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when every process holding its stdout/stderr (the launcher's children too) is gone. */
  readonly closed: Promise<void>;
  kill(signal: NodeJS.Signals): void;
}

export interface SpawnOptions {
  /** node: `node bin/classify-sync.js worker` (default); npx: `npx classify-sync worker`, as the README says. */
  launch?: 'node' | 'npx' | undefined;
  /** Its own process group (and session), as from a terminal or a supervisor: `-pid` then signals all of it. */
  detached?: boolean | undefined;
}

const running = new Set<ChildProcess>();
/** Process groups of detached workers: a launcher's children outlive it, so cleanup kills the group. */
const groups = new Set<number>();

/** Starts a worker with only the environment given (plus PATH), so the shell's settings never leak in. */
export function spawnWorker(args: string[], env: Record<string, string>, options: SpawnOptions = {}): WorkerProcess {
  const [command, commandArgs] =
    options.launch === 'npx' ? ['npx', ['classify-sync', 'worker', ...args]] : [process.execPath, [BIN, 'worker', ...args]];
  const child = spawn(command, commandArgs, {
    cwd: ROOT,
    // npx keeps its cache under HOME; that is no setting of the worker.
    env: { PATH: process.env.PATH ?? '', ...(options.launch === 'npx' && process.env.HOME && { HOME: process.env.HOME }), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  running.add(child);
  if (options.detached && child.pid !== undefined) groups.add(child.pid);
  const lines: LogLine[] = [];
  const waiters: { match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  let stdoutRest = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdoutRest += chunk;
    const parts = stdoutRest.split('\n');
    stdoutRest = parts.pop() ?? '';
    for (const text of parts) {
      if (!text.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text, unparsed: true };
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const closed = new Promise<void>((resolve) => {
    child.on('close', () => resolve());
  });
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    closed,
    kill: (signal) => child.kill(signal),
    waitForLine(match, what, timeoutMs = 30_000) {
      const found = lines.find(match);
      if (found) return Promise.resolve(found);
      return new Promise<LogLine>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `worker printed no line for "${what}" within ${timeoutMs} ms; stderr: ${stderr}\nlast lines: ${lines
                .slice(-5)
                .map((l) => JSON.stringify(l))
                .join('\n')}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          match,
          resolve: (line: LogLine) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        waiters.push(waiter);
        void exited.then(() => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`worker exited before printing a line for "${what}"; stderr: ${stderr}`));
        });
      });
    },
  };
}

/** Kills every worker a test left behind (afterEach). */
export async function killWorkers(): Promise<void> {
  for (const pgid of groups) {
    groups.delete(pgid);
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // ESRCH: nothing of that group is left.
    }
  }
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** The live processes of a process group (zombies aside: they run nothing), as `pid command` lines. */
export function groupProcesses(pgid: number): string[] {
  const out = execFileSync('ps', ['-e', '-o', 'pgid=,pid=,stat=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([group, , stat]) => Number(group) === pgid && stat !== undefined && !stat.startsWith('Z'))
    .map(([, pid, , ...args]) => `${pid ?? ''} ${args.join(' ')}`);
}

/** Polls `check` until it returns a value that is not undefined/false. */
export async function eventually<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Advisory locks held in this database right now (by any session). */
export async function advisoryLocks(db: Db): Promise<number> {
  const [row] = await queryRows<{ n: number }>(
    db,
    sql`
    SELECT count(*)::int AS n FROM pg_locks
    WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
  );
  return row?.n ?? 0;
}

/** Sessions of classify-sync (the pool's application_name) connected to this database, other than ours. */
export async function workerSessions(url: string): Promise<{ pid: number; waiting: boolean }[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number; waiting: boolean }>(`
      SELECT pid, wait_event_type = 'Lock' AS waiting FROM pg_stat_activity
      WHERE datname = current_database() AND application_name = 'classify-sync' AND pid <> pg_backend_pid()`);
    return rows;
  } finally {
    await client.end();
  }
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const METRIC_NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${METRIC_NAME})(?:\\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\]|\\\\.)*",?)*)\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const COMMENT = new RegExp(`^# (?:HELP ${METRIC_NAME} .*|TYPE ${METRIC_NAME} (?:counter|gauge|histogram|summary|untyped))$`);

/**
 * Parses the Prometheus text exposition format (version 0.0.4); throws on any line that is not a
 * HELP/TYPE comment or a sample, and on a sample whose metric family has no TYPE line before it.
 */
export function parsePrometheus(text: string): Sample[] {
  const typed = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (!COMMENT.test(line)) throw new Error(`not a Prometheus comment line: ${line}`);
      const [, kind, name] = line.split(' ');
      if (kind === 'TYPE' && name) typed.add(name);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const [, name = '', labelText = '', valueText = ''] = match;
    const family = name.replace(/_(bucket|sum|count)$/, '');
    if (!typed.has(name) && !typed.has(family)) throw new Error(`sample before its TYPE line: ${line}`);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`not a sample value: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key = '', v = ''] of labelText.matchAll(LABEL))
      labels[key] = v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name, labels, value });
  }
  return samples;
}

/** The value of the sample with this name and exactly these labels; throws when there is none. */
export function sampleValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const want = JSON.stringify(Object.entries(labels).sort());
  const found = samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want);
  if (!found) throw new Error(`no sample ${name}${JSON.stringify(labels)} in /metrics`);
  return found.value;
}
