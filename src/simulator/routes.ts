// What every simulated endpoint shares: the route contract, auth, project access, query checks,
// and the page hook. An endpoint (v1.ts, later v2.ts) only adds its query rules and item list.

import { detailReply, jsonReply, rawReply, validationReply, type Reply, type ValidationIssue } from './http.ts';
import type { PageBody, PageTokens } from './paging.ts';
import type { ApiName, SimProject } from './store.ts';

/** Body of a list page as a page hook sees it (a copy: changing it does not change the data set). */
export interface HookPageBody {
  items: unknown[];
  next_page_token?: string | null;
  total_size?: number | null;
}

/**
 * Called for every list page about to be served. Return undefined to keep the body, an object to
 * send instead (e.g. more items than page_size asked for, like an API that ignores it), or a string
 * to send as the raw response body (e.g. garbled JSON, or a prebuilt page of 45 MB).
 */
export type PageHook = (ctx: { projectId: string; pageIndex: number; body: HookPageBody }) => unknown;

/** Simulator state the routes read. */
export interface SimState {
  readonly projects: ReadonlyMap<string, SimProject>;
  readonly defaultApiKey: string;
  readonly tokens: PageTokens;
  readonly maxPageSize: number;
  readonly totalSize: boolean;
  onPage: PageHook | undefined;
}

export interface RouteContext {
  readonly url: URL;
  readonly authorization: string | undefined;
  readonly sim: SimState;
}

export interface Route {
  readonly method: 'GET';
  readonly path: string;
  /** The API version the route belongs to: a simulator not serving it answers 404 Not Found. */
  readonly api: ApiName;
  readonly handle: (ctx: RouteContext) => Reply;
}

/** Thrown by guards to answer early with `reply`. */
export class ReplyError extends Error {
  readonly reply: Reply;

  constructor(reply: Reply) {
    super(`HTTP ${reply.status}`);
    this.reply = reply;
  }
}

/**
 * The bearer key of the request. Missing → 401 "Not authenticated"; a key no project accepts →
 * 401 "Invalid authentication token". Whether the key fits the project is checked in requireProject().
 */
export function authenticate(ctx: RouteContext): string {
  const key = bearerKey(ctx.authorization);
  if (key === undefined) throw new ReplyError(detailReply(401, 'Not authenticated', { 'www-authenticate': 'Bearer' }));
  if (!isKnownKey(ctx.sim, key)) throw new ReplyError(invalidToken());
  return key;
}

/** The key of an `Authorization: Bearer <key>` header, if it has that shape. */
export function bearerKey(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** Does the simulator accept `key` at all (the default key, or some project's)? */
export function isKnownKey(sim: SimState, key: string): boolean {
  return key === sim.defaultApiKey || [...sim.projects.values()].some((project) => project.apiKey === key);
}

/**
 * The project a key may read; 404 unknown / not_found / unknown to this API version, 401 key of
 * another project, 403 forbidden.
 */
export function requireProject(ctx: RouteContext, key: string, projectId: string, api: ApiName = 'v1'): SimProject {
  const project = ctx.sim.projects.get(projectId);
  if (!project || !project.apis.includes(api)) throw new ReplyError(projectNotFound());
  if (project.apiKey !== key) throw new ReplyError(invalidToken());
  if (project.access === 'forbidden') throw new ReplyError(detailReply(403, 'You do not have access to this project'));
  if (project.access === 'not_found') throw new ReplyError(projectNotFound());
  const organizationId = queryValue(ctx.url, 'organization_id');
  if (organizationId && project.organizationId && organizationId !== project.organizationId) {
    throw new ReplyError(projectNotFound());
  }
  return project;
}

/** Collects 422 issues across query parameters, like FastAPI reports all of them at once. */
export class QueryChecks {
  readonly issues: ValidationIssue[] = [];
  readonly #url: URL;

  constructor(url: URL) {
    this.#url = url;
  }

  required(name: string): string {
    const value = queryValue(this.#url, name);
    if (value === undefined) this.issues.push({ type: 'missing', loc: ['query', name], msg: 'Field required', input: null });
    return value ?? '';
  }

  optional(name: string): string | undefined {
    return queryValue(this.#url, name);
  }

  /** An optional integer >= `min` (and <= `max` when given). */
  integer(name: string, min: number, max?: number): number | undefined {
    const value = queryValue(this.#url, name);
    if (value === undefined) return undefined;
    if (!/^\s*[+-]?\d+\s*$/.test(value)) {
      this.issues.push({
        type: 'int_parsing',
        loc: ['query', name],
        msg: 'Input should be a valid integer, unable to parse string as an integer',
        input: value,
      });
      return undefined;
    }
    const number = Number(value);
    if (number < min) {
      this.issues.push({
        type: 'greater_than_equal',
        loc: ['query', name],
        msg: `Input should be greater than or equal to ${min}`,
        input: value,
        ctx: { ge: min },
      });
      return undefined;
    }
    if (max !== undefined && number > max) {
      this.issues.push({
        type: 'less_than_equal',
        loc: ['query', name],
        msg: `Input should be less than or equal to ${max}`,
        input: value,
        ctx: { le: max },
      });
      return undefined;
    }
    return number;
  }

  /** An optional date-time (ISO 8601, as pydantic reads it); returns epoch ms. */
  dateTime(name: string, parse: (text: string) => number | null): number | undefined {
    const value = queryValue(this.#url, name);
    if (value === undefined) return undefined;
    const ms = parse(value);
    if (ms === null) {
      this.issues.push({
        type: 'datetime_from_date_parsing',
        loc: ['query', name],
        msg: 'Input should be a valid datetime or date, invalid character in year',
        input: value,
      });
      return undefined;
    }
    return ms;
  }

  /** An optional value out of `allowed` (a FastAPI enum parameter). */
  oneOf(name: string, allowed: readonly string[]): string | undefined {
    const value = queryValue(this.#url, name);
    if (value === undefined || allowed.includes(value)) return value;
    const expected = allowed.map((a) => `'${a}'`);
    this.issues.push({
      type: 'enum',
      loc: ['query', name],
      msg: `Input should be ${expected.slice(0, -1).join(', ')} or ${expected.at(-1) ?? ''}`,
      input: value,
      ctx: { expected: expected.join(', ') },
    });
    return undefined;
  }

  /** Every value of a repeated parameter (`job_ids=a&job_ids=b`). */
  all(name: string): string[] {
    return this.#url.searchParams.getAll(name);
  }

  /** Throws the 422 when any check failed. */
  done(): void {
    if (this.issues.length > 0) throw new ReplyError(validationReply(this.issues));
  }
}

/** A 200 list page, after the page hook had its say. */
export function pageReply(ctx: RouteContext, projectId: string, pageIndex: number, body: PageBody<unknown>): Reply {
  const hook = ctx.sim.onPage;
  if (hook) {
    const replaced = hook({ projectId, pageIndex, body: structuredClone(body) });
    if (typeof replaced === 'string') return { ...rawReply(200, replaced, 'application/json'), page: true };
    if (replaced !== undefined) return { ...jsonReply(200, replaced), page: true };
  }
  return { ...jsonReply(200, body), page: true };
}

/** Last value of a query parameter, as FastAPI reads a scalar parameter given twice. */
function queryValue(url: URL, name: string): string | undefined {
  return url.searchParams.getAll(name).at(-1);
}

function invalidToken(): Reply {
  return detailReply(401, 'Invalid authentication token', { 'www-authenticate': 'Bearer' });
}

function projectNotFound(): Reply {
  return detailReply(404, 'Project not found');
}
