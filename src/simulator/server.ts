// The simulator's HTTP server: routing, latency, fault injection, and the control surface tests use.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { seedProjectJobs, type SeedOptions, type V1Job } from './data.ts';
import { hostileItems } from './hostile.ts';
import { toV2Job, type V2Job } from './data-v2.ts';
import { assertFaultSpec, DEFAULT_HANG_MS, FAULT_KINDS, faultReply, FaultPlan, type FaultKind, type FaultSpec } from './faults.ts';
import { detailReply, type Reply } from './http.ts';
import { PageTokens } from './paging.ts';
import { randomUuid, seededRandom } from './prng.ts';
import { RateLimiter, rateLimitReply } from './rate-limit.ts';
import { bearerKey, isKnownKey, ReplyError, type PageHook, type Route, type RouteContext, type SimState } from './routes.ts';
import { ItemList, type ApiName, type ProjectAccess, type SimProject } from './store.ts';
import { v1ListJobs } from './v1.ts';
import { v2ListJobs } from './v2.ts';

export type { FaultKind, FaultSpec } from './faults.ts';
export type { PageHook } from './routes.ts';

/** Every endpoint the simulator serves; a new API version adds its route here. */
const ROUTES: readonly Route[] = [v1ListJobs, v2ListJobs];
const ALL_APIS: readonly ApiName[] = ['v1', 'v2'];

export const DEFAULT_API_KEY = 'sim-key';
export const DEFAULT_MAX_PAGE_SIZE = 100;
export const DEFAULT_SEED = 1;

/** The id of the index-th project under `seed`: stable, so a config file can name it. */
export function simProjectId(seed: number, index: number): string {
  return randomUuid(seededRandom(seed, `project:${index}`));
}
/** Where a same-origin redirect sends a request: the same path and query under this prefix. */
export const MOVED_PREFIX = '/moved';

/** List requests answered with a redirect instead of a page (before auth and faults, like a proxy would). */
export interface RedirectSpec {
  status: 301 | 302 | 303 | 307 | 308;
  /**
   * Another origin or base URL (e.g. a second local server): the Location is it plus the request's
   * path and query. Absent: this simulator, under MOVED_PREFIX, where the request is then served.
   */
  to?: string;
}

export interface SimProjectSpec {
  id: string;
  /** When set, a request whose organization_id differs gets 404. */
  organizationId?: string;
  name?: string;
  /** Number of seeded jobs. */
  jobs: number;
  /** The only key accepted for this project. Default: the simulator's apiKey. */
  apiKey?: string;
  access?: ProjectAccess;
  /** Overrides the simulator-wide faults for requests naming this project. */
  faults?: FaultSpec;
  /** Seed odd-but-valid items too. Default true. */
  oddities?: boolean;
  /** Opt-in shapes of the seeded data: jobs without created_at, a very long error message. */
  data?: Pick<SeedOptions, 'withoutCreatedAtShare' | 'longErrorChars'>;
  /** API versions that know this project; the others answer 404 "Project not found". Default both. */
  apis?: ApiName[];
  /** Also serve the items of hostile.ts (data Postgres would refuse), as raw items. Default false. */
  hostile?: boolean;
}

export interface SimulatorOptions {
  projects: SimProjectSpec[];
  /** Fixes the data and the fault sequence. Default 1. */
  seed?: number;
  /** Default accepted key. Default "sim-key". */
  apiKey?: string;
  /** Larger page_size values are clamped to this. Default 100. */
  maxPageSize?: number;
  /** Delay before every response. Default 0. */
  latencyMs?: number;
  faults?: FaultSpec;
  /** Include total_size in pages. Default true. */
  totalSize?: boolean;
  /** Epoch ms the seeded history ends at. Default Date.now(); pass it for identical data across runs. */
  now?: number;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  onPage?: PageHook;
  /** Answer every list request with this redirect; see also setRedirect(). */
  redirect?: RedirectSpec;
  /**
   * API versions served. Default both. The other version's path answers FastAPI's unknown-route
   * 404 `{"detail":"Not Found"}`, like a deployment that never had it or no longer publishes it.
   */
  apis?: ApiName[];
  /**
   * 4xx details end with the request's Authorization header, as a careless gateway in front of the API
   * might answer: for checking that a client scrubs the key it really sent. Default false.
   */
  echoAuthorization?: boolean;
  /**
   * Requests per second allowed per API key (fractions allowed), a token bucket of capacity
   * max(1, rateLimit) that refills continuously; shared by the v1 and v2 list routes. A request
   * without a token is answered 429 `{"detail":"Rate limit exceeded"}` with `Retry-After` (seconds,
   * three decimals) until the next token. Checked like a gateway would, after redirects and before
   * faults and the app: only keys the simulator accepts are limited (a missing or unknown key gets
   * its 401 and takes no token), and a refused request draws no fault. Default: no limit.
   */
  rateLimit?: number;
  /** Milliseconds the rate limit's buckets refill by (default performance.now(); tests hold it still). */
  rateLimitClock?: () => number;
}

export interface SimulatorStats {
  /** Every HTTP request received. */
  requests: number;
  /** Complete list pages served. */
  pages: number;
  faults: Record<FaultKind, number>;
  /** Responses by status code ("200", "429", ...); a truncated page counts under its status. */
  byStatus: Record<string, number>;
  /** Requests refused by the rate limit (also counted in requests and under byStatus["429"]). */
  rateLimited: number;
}

export interface Simulator {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:54321. */
  readonly url: string;
  /** The default accepted key. */
  readonly apiKey: string;
  /** Closes the server and every open socket (hung requests too) at once. Idempotent. */
  stop(): Promise<void>;
  /** Deep copy of the project's current data set in v1 shape (what a v1 sync must end with), raw items excluded. */
  jobs(projectId: string): V1Job[];
  /** The same in v2 shape (what a v2 sync must end with). */
  jobsV2(projectId: string): V2Job[];
  /** Adds or replaces a job by id (an upstream change), in both shapes (v2's derived as seeded jobs are). */
  upsertJob(projectId: string, job: V1Job): void;
  /** Adds or replaces a job by id in the v2 list only (a change only v2 can express, e.g. RUNNING → COMPLETED). */
  upsertJobV2(projectId: string, job: V2Job): void;
  /** Deletes a job upstream (from both lists). */
  removeJob(projectId: string, id: string): void;
  /** Serves any JSON value as a v1 item, e.g. a malformed job; not part of jobs(). */
  insertRawItem(projectId: string, item: unknown): void;
  /** Serves any JSON value as a v2 item; not part of jobsV2(). */
  insertRawItemV2(projectId: string, item: unknown): void;
  /** Replaces the simulator-wide faults, or one project's override (undefined clears it). */
  setFaults(faults: FaultSpec | undefined, projectId?: string): void;
  setLatency(ms: number): void;
  /** Every page token issued so far is answered 400 "Invalid page token" from now on. */
  invalidateTokens(): void;
  setOnPage(hook: PageHook | undefined): void;
  /** Redirects list requests (of one project, when given) from now on; undefined stops it. */
  setRedirect(redirect: RedirectSpec | undefined, projectId?: string): void;
  /** Live counters. */
  readonly stats: SimulatorStats;
}

export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const now = opts.now ?? Date.now();
  const defaultApiKey = opts.apiKey ?? DEFAULT_API_KEY;
  const maxPageSize = opts.maxPageSize ?? DEFAULT_MAX_PAGE_SIZE;
  if (!Number.isInteger(maxPageSize) || maxPageSize < 1) throw new Error(`maxPageSize must be an integer >= 1, got ${maxPageSize}`);
  assertLatency(opts.latencyMs ?? 0);
  assertFaultSpec(opts.faults, 'faults');
  const servedApis = new Set(assertApis(opts.apis ?? ALL_APIS, 'apis'));
  const limiter = opts.rateLimit === undefined ? undefined : new RateLimiter(opts.rateLimit, opts.rateLimitClock);

  const projects = new Map<string, SimProject>();
  for (const spec of opts.projects) {
    if (projects.has(spec.id)) throw new Error(`project ${spec.id} is listed twice`);
    if (!Number.isInteger(spec.jobs) || spec.jobs < 0) throw new Error(`project ${spec.id}: jobs must be an integer >= 0`);
    assertFaultSpec(spec.faults, `project ${spec.id} faults`);
    const seeded = seedProjectJobs(spec.id, spec.jobs, { seed, now, oddities: spec.oddities ?? true, ...spec.data });
    projects.set(spec.id, {
      id: spec.id,
      organizationId: spec.organizationId,
      name: spec.name,
      apiKey: spec.apiKey ?? defaultApiKey,
      access: spec.access ?? 'ok',
      faults: spec.faults,
      apis: assertApis(spec.apis ?? ALL_APIS, `project ${spec.id} apis`),
      v1: new ItemList(seeded),
      v2: new ItemList(seeded.map((job) => toV2Job(job, seed))),
    });
    const project = projects.get(spec.id);
    for (const item of spec.hostile ? hostileItems(spec.id, { seed, now }) : []) {
      project?.v1.insertRaw(item.v1);
      project?.v2.insertRaw(item.v2);
    }
  }

  const state: SimState = {
    projects,
    defaultApiKey,
    tokens: new PageTokens(),
    maxPageSize,
    totalSize: opts.totalSize ?? true,
    onPage: opts.onPage,
  };
  const stats: SimulatorStats = {
    requests: 0,
    pages: 0,
    faults: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>,
    byStatus: {},
    rateLimited: 0,
  };
  const faultPlan = new FaultPlan(seed);
  let globalFaults = opts.faults;
  let latencyMs = opts.latencyMs ?? 0;
  let globalRedirect = opts.redirect;
  const projectRedirects = new Map<string, RedirectSpec>();
  /** Aborted by stop(): ends every pending latency/hang wait. */
  const stopping = new AbortController();

  function faultSpecFor(url: URL): FaultSpec | undefined {
    const project = projects.get(url.searchParams.get('project_id') ?? '');
    return project?.faults ?? globalFaults;
  }

  function send(res: ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    count(reply);
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(Buffer.byteLength(reply.body)) });
    res.end(reply.body);
  }

  /** Status and headers of `reply` (with its full Content-Length), half its body, then a dropped connection. */
  function sendTruncated(res: ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    count({ ...reply, page: false });
    const body = Buffer.from(reply.body);
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(body.length) });
    res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
  }

  function count(reply: Reply): void {
    stats.byStatus[reply.status] = (stats.byStatus[reply.status] ?? 0) + 1;
    if (reply.page) stats.pages++;
  }

  /** Waits `ms`; false when the request or the simulator went away meanwhile. */
  async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
    if (ms <= 0) return !signal.aborted;
    try {
      await delay(ms, undefined, { signal });
      return true;
    } catch {
      return false;
    }
  }

  function answer(route: Route, ctx: RouteContext): Reply {
    const reply = run(route, ctx);
    return opts.echoAuthorization ? echoAuthorization(reply, ctx.authorization) : reply;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests++;
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const signal = AbortSignal.any([stopping.signal, gone.signal]);

    const url = new URL(req.url ?? '/', 'http://simulator');
    // The target of a same-origin redirect is served like the original request.
    const moved = url.pathname.startsWith(`${MOVED_PREFIX}/`);
    if (moved) url.pathname = url.pathname.slice(MOVED_PREFIX.length);
    const route = ROUTES.find((candidate) => candidate.path === url.pathname && servedApis.has(candidate.api));
    if (!route || req.method !== route.method) {
      if (!(await wait(latencyMs, signal))) return;
      send(res, route ? detailReply(405, 'Method Not Allowed') : detailReply(404, 'Not Found'));
      return;
    }

    const redirect = moved ? undefined : (projectRedirects.get(url.searchParams.get('project_id') ?? '') ?? globalRedirect);
    if (redirect) {
      if (!(await wait(latencyMs, signal))) return;
      const base = redirect.to?.replace(/\/+$/, '') ?? MOVED_PREFIX;
      send(res, detailReply(redirect.status, 'Redirect', { location: `${base}${url.pathname}${url.search}` }));
      return;
    }

    // Like a gateway in front of the app: only accepted keys are limited; a refused request never
    // reaches the fault plan, so the faults of the requests that pass keep their seeded sequence.
    const key = bearerKey(req.headers.authorization);
    const decision = limiter && key !== undefined && isKnownKey(state, key) ? limiter.take(key) : undefined;
    if (limiter && decision?.ok === false) {
      stats.rateLimited++;
      if (!(await wait(latencyMs, signal))) return;
      send(res, rateLimitReply(decision.nextTokenAt, limiter.now()));
      return;
    }

    // Decided before auth and validation, so faults hit any project and any request.
    const faultSpec = faultSpecFor(url);
    const fault = faultPlan.decide(faultSpec);
    if (!(await wait(latencyMs, signal))) return;
    const ctx: RouteContext = { url, authorization: req.headers.authorization, sim: state };
    if (fault === undefined || faultSpec === undefined) {
      send(res, answer(route, ctx));
      return;
    }

    const occurrence = stats.faults[fault]++;
    switch (fault) {
      case '429':
      case '500':
      case '502':
      case '503':
        send(res, faultReply(fault, faultSpec, occurrence));
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'truncated':
        sendTruncated(res, answer(route, ctx));
        return;
      case 'hang':
        if (!(await wait(faultSpec.hangMs ?? DEFAULT_HANG_MS, signal))) return;
        send(res, answer(route, ctx));
        return;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let stopped: Promise<void> | undefined;

  function project(projectId: string): SimProject {
    const found = projects.get(projectId);
    if (!found) throw new Error(`simulator has no project ${projectId}`);
    return found;
  }

  return {
    url: `http://${host}:${address.port}`,
    apiKey: defaultApiKey,
    stats,
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        stopping.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return stopped;
    },
    jobs: (projectId) => project(projectId).v1.items(),
    jobsV2: (projectId) => project(projectId).v2.items(),
    upsertJob(projectId, job) {
      project(projectId).v1.upsert(job);
      project(projectId).v2.upsert(toV2Job(job, seed));
    },
    upsertJobV2: (projectId, job) => project(projectId).v2.upsert(job),
    removeJob(projectId, id) {
      project(projectId).v1.remove(id);
      project(projectId).v2.remove(id);
    },
    insertRawItem: (projectId, item) => project(projectId).v1.insertRaw(item),
    insertRawItemV2: (projectId, item) => project(projectId).v2.insertRaw(item),
    setFaults(faults, projectId) {
      assertFaultSpec(faults, projectId === undefined ? 'faults' : `project ${projectId} faults`);
      if (projectId === undefined) globalFaults = faults;
      else project(projectId).faults = faults;
    },
    setLatency(ms) {
      assertLatency(ms);
      latencyMs = ms;
    },
    invalidateTokens: () => state.tokens.invalidateAll(),
    setOnPage(hook) {
      state.onPage = hook;
    },
    setRedirect(redirect, projectId) {
      if (projectId === undefined) globalRedirect = redirect;
      else if (redirect === undefined) projectRedirects.delete(project(projectId).id);
      else projectRedirects.set(project(projectId).id, redirect);
    },
  };
}

/** Runs a route; guard failures become their reply, anything else a 500 like an unhandled exception. */
function run(route: Route, ctx: RouteContext): Reply {
  try {
    return route.handle(ctx);
  } catch (error) {
    if (error instanceof ReplyError) return error.reply;
    return detailReply(500, 'Internal Server Error');
  }
}

/** A 4xx `{"detail": "..."}` reply with `; Authorization: <header>` appended to its detail. */
function echoAuthorization(reply: Reply, authorization: string | undefined): Reply {
  if (reply.status < 400 || reply.status >= 500) return reply;
  let detail: unknown;
  try {
    detail = (JSON.parse(reply.body) as { detail?: unknown }).detail;
  } catch {
    return reply;
  }
  if (typeof detail !== 'string') return reply;
  return detailReply(reply.status, `${detail}; Authorization: ${authorization ?? '(none)'}`, reply.headers);
}

function assertApis(apis: readonly ApiName[], where: string): ApiName[] {
  const unknown = apis.find((api) => !ALL_APIS.includes(api));
  if (unknown !== undefined) throw new Error(`${where} has unknown API ${JSON.stringify(unknown)} (use v1 and/or v2)`);
  return [...apis];
}

function assertLatency(ms: number): void {
  if (!(ms >= 0)) throw new Error(`latencyMs must be >= 0, got ${ms}`);
}
