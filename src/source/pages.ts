// Walking a project's pages: follows next_page_token, guards against token loops and runaway walks,
// and fetches page N+1 while the caller stores page N (the network hides the database work).
import type { Page } from './page.ts';

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
  if (token !== undefined) seen.add(token);
  let number = (options.pagesBefore ?? 0) + 1;
  let pending = fetchPage(token);
  while (true) {
    const page = await pending;
    const next = page.nextPageToken;
    let prefetch: Promise<Page> | undefined;
    if (next !== undefined) {
      if (seen.has(next)) {
        throw new WalkError(`the API returned page token ${JSON.stringify(next.slice(0, 40))} twice in one walk (token loop)`);
      }
      if (number >= options.maxPages) {
        throw new WalkError(`more than ${options.maxPages} pages in one walk (maxPages): raise maxPages if the project is that large`);
      }
      seen.add(next);
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
