// Offset paging with opaque, signed page tokens; independent of the item shape (v1 or v2).
// Offsets are resolved against the list at request time, so a list that changes while it is walked
// behaves like upstream's: items can repeat across pages or shift past a page boundary.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Where the next page starts. */
export interface Cursor {
  offset: number;
  /** 0 for the first page; lets hooks and tests address "page 3" of a walk. */
  pageIndex: number;
}

/** The list envelope shared by v1 and v2: `{ items, next_page_token?, total_size? }`. */
export interface PageBody<T> {
  items: T[];
  next_page_token?: string;
  total_size?: number;
}

/**
 * Issues and checks page tokens: base64url JSON of the cursor plus an HMAC over it and a scope
 * (route + project), keyed by a random per-simulator secret. Clients cannot forge or move tokens
 * between projects, and invalidateAll() retires every token issued so far.
 */
export class PageTokens {
  readonly #secret = randomBytes(32);
  #generation = 0;

  issue(scope: string, cursor: Cursor): string {
    const payload = Buffer.from(JSON.stringify({ o: cursor.offset, i: cursor.pageIndex, g: this.#generation })).toString('base64url');
    return `${payload}.${this.#sign(scope, payload).toString('base64url')}`;
  }

  /** The cursor of a token issued for `scope` since the last invalidateAll(), else undefined. */
  read(scope: string, token: string): Cursor | undefined {
    const [payload, signature, ...rest] = token.split('.');
    if (!payload || !signature || rest.length > 0) return undefined;
    const expected = this.#sign(scope, payload);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null) return undefined;
      const { o, i, g } = parsed as Record<string, unknown>;
      if (g !== this.#generation || !isIndex(o) || !isIndex(i)) return undefined;
      return { offset: o, pageIndex: i };
    } catch {
      return undefined;
    }
  }

  invalidateAll(): void {
    this.#generation++;
  }

  #sign(scope: string, payload: string): Buffer {
    return createHmac('sha256', this.#secret).update(`${scope}\n${payload}`).digest().subarray(0, 16);
  }
}

export interface PaginateOptions {
  tokens: PageTokens;
  /** Binds tokens to one listing, e.g. `v1:<projectId>`. */
  scope: string;
  /** Include `total_size`. */
  totalSize: boolean;
}

export type PaginateResult<T> = { ok: true; body: PageBody<T>; pageIndex: number } | { ok: false; reason: 'invalid_token' };

/** One page of `items` starting where `token` points (the start when absent). */
export function paginate<T>(
  items: readonly T[],
  pageSize: number,
  token: string | undefined,
  { tokens, scope, totalSize }: PaginateOptions,
): PaginateResult<T> {
  const cursor = token === undefined ? { offset: 0, pageIndex: 0 } : tokens.read(scope, token);
  if (!cursor) return { ok: false, reason: 'invalid_token' };

  const end = cursor.offset + pageSize;
  const body: PageBody<T> = { items: items.slice(cursor.offset, end) };
  // Upstream omits next_page_token on the last page (spec: "If this field is omitted, there are no subsequent pages").
  if (end < items.length) body.next_page_token = tokens.issue(scope, { offset: end, pageIndex: cursor.pageIndex + 1 });
  if (totalSize) body.total_size = items.length;
  return { ok: true, body, pageIndex: cursor.pageIndex };
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
