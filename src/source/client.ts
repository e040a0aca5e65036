// The LlamaCloud list client: one function that fetches one page of one project, with retries.
import type { ApiVersion, Config, ProjectConfig } from '../config.ts';
import type { RequestBudget } from './budget.ts';
import { ApiError, getJson } from './http.ts';
import { itemLimit, parsePage, type Page, type PageParams } from './page.ts';
import { withRetry, type RetryEvent } from './retry.ts';
import { v1PageUrl } from './v1.ts';
import { v2PageUrl, type ListFilter } from './v2.ts';

export type PageUrlBuilder = (baseUrl: string, params: PageParams, filter?: ListFilter) => URL;

const URL_BUILDERS: Record<ApiVersion, PageUrlBuilder> = {
  v1: v1PageUrl,
  v2: v2PageUrl,
};

export interface FetchPageOptions {
  signal?: AbortSignal | undefined;
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Only the jobs matching this (v2 only: v1 cannot filter, so a filtered v1 walk is refused). */
  filter?: ListFilter | undefined;
  /** Overrides config.pageSize (the version probe asks for one item). */
  pageSize?: number | undefined;
  /** Called after every HTTP attempt: its status (or error kind when none came back) and duration. */
  onResponse?: ((event: { status: string; durationMs: number }) => void) | undefined;
  /** The key's shared budget: every attempt waits for its place (in flight, rate, a 429's pause). */
  budget?: RequestBudget | undefined;
}

export type FetchPage = (token: string | undefined) => Promise<Page>;

/** A page fetcher bound to one project and API version. */
export function projectPageFetcher(
  config: Pick<Config, 'baseUrl' | 'pageSize' | 'requestTimeoutMs' | 'maxResponseBytes' | 'retry'>,
  project: ProjectConfig & { apiKey: string },
  version: ApiVersion,
  options: FetchPageOptions = {},
): FetchPage {
  const buildUrl = URL_BUILDERS[version];
  if (version === 'v1' && options.filter !== undefined) throw new Error('the v1 list cannot filter: walk it whole');
  return (token) => {
    const url = buildUrl(
      config.baseUrl,
      {
        projectId: project.id,
        organizationId: project.organizationId,
        pageSize: options.pageSize ?? config.pageSize,
        pageToken: token,
      },
      options.filter,
    );
    // What the request asked for, after the version's own cap (v2 sends at most 100).
    const asked = url.searchParams.get('page_size');
    const maxItems = asked === null ? Infinity : Number(asked);
    return withRetry(
      async () => {
        const release = await options.budget?.acquire(options.signal);
        const started = performance.now();
        let status = '200';
        try {
          return parsePage(
            await getJson(url, {
              apiKey: project.apiKey,
              timeoutMs: config.requestTimeoutMs,
              maxBytes: config.maxResponseBytes,
              signal: options.signal,
              inspect: itemLimit(maxItems),
            }),
            maxItems,
          );
        } catch (error) {
          status = error instanceof ApiError ? String(error.status ?? error.kind) : 'aborted';
          release?.(
            error instanceof ApiError && error.status === 429
              ? { kind: 'rate-limited', retryAfterMs: error.retryAfterMs }
              : { kind: 'other' },
          );
          throw error;
        } finally {
          release?.({ kind: 'ok' });
          options.onResponse?.({ status, durationMs: performance.now() - started });
        }
      },
      config.retry,
      options,
    );
  };
}
