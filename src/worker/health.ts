// GET /healthz (is every project's data fresh?) and GET /metrics (Prometheus text) on one small
// HTTP server. Health is read from the database, so every replica gives the same answer.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Db } from '../db/connect.ts';
import { describeDbError } from '../db/errors.ts';
import { projectFreshness } from '../db/runs.ts';
import { scrub, type Logger } from '../log.ts';

const HOUR = 3_600_000;

export interface ProjectHealth {
  id: string;
  /** ISO time its last successful sync finished, or null if it never succeeded. */
  lastSuccessAt: string | null;
  /** Status of its latest sync that was not skipped, or null if never synced. */
  lastStatus: string | null;
  /** No successful sync within staleAfterHours. */
  stale: boolean;
}

export interface HealthReport {
  /** ok: every project is fresh; stale: some project is not; error: the database could not be read. */
  status: 'ok' | 'stale' | 'error';
  staleAfterHours: number;
  projects: ProjectHealth[];
  error?: string;
}

export async function checkHealth(
  db: Db,
  options: { projectIds: readonly string[]; staleAfterHours: number; now?: number | undefined },
): Promise<HealthReport> {
  const now = options.now ?? Date.now();
  const projects = (await projectFreshness(db, options.projectIds)).map((f): ProjectHealth => ({
    id: f.projectId,
    lastSuccessAt: f.lastSuccessAt?.toISOString() ?? null,
    lastStatus: f.lastStatus,
    stale: f.lastSuccessAt === null || now - f.lastSuccessAt.getTime() > options.staleAfterHours * HOUR,
  }));
  return { status: projects.some((p) => p.stale) ? 'stale' : 'ok', staleAfterHours: options.staleAfterHours, projects };
}

export interface HealthServer {
  /** The address it listens on, as the socket reports it (e.g. 127.0.0.1, ::). */
  readonly host: string;
  /** The port it listens on (useful when asked for port 0). */
  readonly port: number;
  close(): Promise<void>;
}

export interface HealthServerOptions {
  port: number;
  /** Default 127.0.0.1: only this host can ask. */
  host?: string | undefined;
  registry: Registry;
  health: () => Promise<HealthReport>;
  log: Logger;
  /** Removed from every error text it answers with (a database error may quote the connection's password). */
  secrets?: readonly string[] | undefined;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const { registry, log } = options;
  // One line, like every error the CLI prints: the driver's words and SQLSTATE, never drizzle's statement dump.
  const errorText = (error: unknown) => scrub(describeDbError(error), options.secrets ?? []);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    } else if (path === '/healthz') {
      options.health().then(
        (report) => send(res, report.status === 'ok' ? 200 : 503, 'application/json', JSON.stringify(report)),
        (error: unknown) => {
          const message = errorText(error);
          log.warn({ err: message }, 'health check could not read the database');
          send(res, 503, 'application/json', JSON.stringify({ status: 'error', projects: [], error: `database unreadable: ${message}` }));
        },
      );
    } else if (path === '/metrics') {
      registry.metrics().then(
        (text) => send(res, 200, registry.contentType, text),
        (error: unknown) => send(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${errorText(error)}\n`),
      );
    } else {
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /healthz or /metrics\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address: host, port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    host,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
