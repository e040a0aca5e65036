// Walking a project's pages: follows next_page_token, guards against token loops and runaway walks,
// and fetches page N+1 while the caller stores page N (the network hides the database work).
import { createHash } from 'node:crypto';
import type { Page } from './page.ts';

/**
 * The longest page token a walk accepts. It goes back in the next request's URL, where servers and
 * proxies stop at about 8 KiB, and into the saved walk state: anything longer is a broken API.
 */
export const MAX_PAGE_TOKEN_CHARS = 4096;

/**
 * What the loop guard keeps of a token: 16 bytes of its SHA-256 (24 characters, a collision is
 * out of reach), so the guard grows by ~100 bytes a page whatever the tokens' own length.
 */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest().subarray(0, 16).toString('base64');
}

export class WalkError extends Error {
  override name = 'WalkError';
}

export interface WalkedPage extends Page {
  /** 1-based number of the page within this walk (a resumed walk counts from where it resumed). */
  number: number;
  /** The token this page was fetched with (undefined for the first page). */
  token: string | undefined;
}

export interface WalkOptions {
  /** Resume from this token instead of the first page. */
  startToken?: string | undefined;
  /** Pages already walked before `startToken` (so `maxPages` spans a resumed walk). */
  pagesBefore?: number | undefined;
  maxPages: number;
}

/**
 * Yields every page of a walk in order. The next page is requested as soon as a page arrives, so
 * the caller's work on page N overlaps the request for page N+1; the walk never runs further ahead.
 */
export async function* pages(
  fetchPage: (token: string | undefined) => Promise<Page>,
  options: WalkOptions,
): AsyncGenerator<WalkedPage, void, undefined> {
  const seen = new Set<string>();
  let token = options.startToken;
  if (token !== undefined) seen.add(tokenDigest(token));
  let number = (options.pagesBefore ?? 0) + 1;
  let pending = fetchPage(token);
  while (true) {
    const page = await pending;
    const next = page.nextPageToken;
    let prefetch: Promise<Page> | undefined;
    if (next !== undefined) {
      if (next.length > MAX_PAGE_TOKEN_CHARS) {
        throw new WalkError(`the API returned a page token of ${next.length} characters (more than ${MAX_PAGE_TOKEN_CHARS})`);
      }
      const digest = tokenDigest(next);
      if (seen.has(digest)) {
        throw new WalkError(`the API returned page token ${JSON.stringify(next.slice(0, 40))} twice in one walk (token loop)`);
      }
      if (number >= options.maxPages) {
        throw new WalkError(`more than ${options.maxPages} pages in one walk (maxPages): raise maxPages if the project is that large`);
      }
      seen.add(digest);
      prefetch = fetchPage(next);
      // Its failure is handled when it is awaited; never let it surface as an unhandled rejection.
      prefetch.catch(() => undefined);
    }
    yield { ...page, number, token };
    if (prefetch === undefined) return;
    pending = prefetch;
    token = next;
    number += 1;
  }
}
