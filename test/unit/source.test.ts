import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, extractDetail, getJson, isRetryableStatus, parseRetryAfter } from '../../src/source/http.ts';
import { parsePage, type Page } from '../../src/source/page.ts';
import { pages, WalkError } from '../../src/source/pages.ts';
import { withRetry } from '../../src/source/retry.ts';
import { jobIdBatches } from '../../src/source/v2.ts';

describe('retry classification', () => {
  it.each([[408, true], [409, true], [429, true], [500, true], [502, true], [503, true], [599, true],
    [400, false], [401, false], [403, false], [404, false], [422, false]])('HTTP %i retryable: %s', (status, retryable) => {
    expect(isRetryableStatus(status)).toBe(retryable);
  });

  it('lets x-should-retry override the status rule', () => {
    expect(isRetryableStatus(400, 'true')).toBe(true);
    expect(isRetryableStatus(503, 'false')).toBe(false);
  });

  it('reads retry-after-ms, then retry-after in seconds or as a date', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' }))).toBe(250);
    expect(parseRetryAfter(new Headers({ 'retry-after': '2' }))).toBe(2000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5000);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }))).toBeUndefined();
  });

  it('extracts the API detail from string, validation-list and HTML bodies', () => {
    expect(extractDetail('{"detail":"Invalid authentication token"}')).toBe('Invalid authentication token');
    expect(extractDetail('{"detail":[{"loc":["query","page_size"],"msg":"too big","type":"x"}]}')).toBe('query.page_size: too big');
    expect(extractDetail('<html><h1>502 Bad Gateway</h1></html>')).toBe('502 Bad Gateway');
    expect(extractDetail('')).toBeUndefined();
  });

  const fast = { retries: 3, minDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 5, maxElapsedMs: 10_000 };

  it('retries retryable errors until success, and reports each retry', async () => {
    let calls = 0;
    const seen: (number | undefined)[] = [];
    const value = await withRetry(async () => {
      calls += 1;
      if (calls < 3) throw new ApiError('busy', 'http', 503, 'busy', true, 1);
      return 'ok';
    }, fast, { onRetry: (e) => seen.push(e.error.status) });
    expect(value).toBe('ok');
    expect(seen).toEqual([503, 503]);
  });

  it('fails at once on a permanent error', async () => {
    let calls = 0;
    await expect(withRetry(async () => {
      calls += 1;
      throw new ApiError('no', 'http', 401, 'Not authenticated', false);
    }, fast)).rejects.toMatchObject({ status: 401 });
    expect(calls).toBe(1);
  });

  it('gives up after the retry budget', async () => {
    let calls = 0;
    await expect(withRetry(async () => {
      calls += 1;
      throw new ApiError('down', 'http', 500, undefined, true);
    }, fast)).rejects.toMatchObject({ status: 500 });
    expect(calls).toBe(4);
  });
});

describe('parsePage', () => {
  it('treats absent, null and empty next_page_token as the last page', () => {
    for (const next of [undefined, null, '']) expect(parsePage({ items: [], next_page_token: next }).nextPageToken).toBeUndefined();
    expect(parsePage({ items: [1], next_page_token: 't', total_size: 9 })).toEqual({ items: [1], nextPageToken: 't', totalSize: 9 });
  });

  it('refuses a body that is not a page, as retryable', () => {
    for (const bad of [null, [], { items: 'x' }, { nope: 1 }]) {
      expect(() => parsePage(bad)).toThrow(expect.objectContaining({ retryable: true }));
    }
  });
});

describe('pages (the walk)', () => {
  const page = (next: string | undefined): Page => ({ items: [next ?? 'last'], nextPageToken: next, totalSize: undefined });

  it('follows tokens to the end', async () => {
    const chain: Record<string, string | undefined> = { start: 'a', a: 'b', b: undefined };
    const walked = [];
    for await (const p of pages(async (t) => page(chain[t ?? 'start']), { maxPages: 10 })) walked.push([p.number, p.token]);
    expect(walked).toEqual([[1, undefined], [2, 'a'], [3, 'b']]);
  });

  it('stops a token loop with an error instead of walking forever', async () => {
    const chain: Record<string, string> = { start: 'a', a: 'b', b: 'a' };
    const walk = async () => {
      for await (const _ of pages(async (t) => page(chain[t ?? 'start']), { maxPages: 1000 })) { /* consume */ }
    };
    await expect(walk()).rejects.toThrow(WalkError);
    await expect(walk()).rejects.toThrow(/twice/);
  });

  it('stops a runaway walk at maxPages', async () => {
    let n = 0;
    const walk = async () => {
      for await (const _ of pages(async () => page(`t${n++}`), { maxPages: 5 })) { /* consume */ }
    };
    await expect(walk()).rejects.toThrow(/more than 5 pages/);
  });

  it('resumes from a saved token, counting pages on from before', async () => {
    const numbers = [];
    for await (const p of pages(async (t) => page(t === 'x' ? undefined : 'x'), { startToken: 's', pagesBefore: 4, maxPages: 10 })) numbers.push(p.number);
    expect(numbers).toEqual([5, 6]);
  });
});

describe('getJson', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"items":[${'"x",'.repeat(2000)}"x"]}`);
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('{}'), 500);
      } else if (req.url === '/auth') {
        res.end(JSON.stringify({ authorization: req.headers.authorization }));
      } else {
        res.writeHead(429, { 'retry-after': '3' }).end('{"detail":"slow down"}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const opts = { apiKey: 'secret-key', timeoutMs: 2000, maxBytes: 1 << 20 };

  it('sends the key as a Bearer token', async () => {
    expect(await getJson(new URL(`${base}/auth`), opts)).toEqual({ authorization: 'Bearer secret-key' });
  });

  it('turns an HTTP error into an ApiError with status, detail and Retry-After', async () => {
    await expect(getJson(new URL(`${base}/x`), opts)).rejects.toMatchObject({ status: 429, detail: 'slow down', retryable: true, retryAfterMs: 3000 });
  });

  it('refuses a body over the size cap, without retrying', async () => {
    await expect(getJson(new URL(`${base}/big`), { ...opts, maxBytes: 4096 })).rejects.toMatchObject({ kind: 'too-large', retryable: false });
  });

  it('times out a slow response as retryable', async () => {
    await expect(getJson(new URL(`${base}/slow`), { ...opts, timeoutMs: 50 })).rejects.toMatchObject({ kind: 'timeout', retryable: true });
  });

  it('reports a refused connection as a retryable network error', async () => {
    await expect(getJson(new URL('http://127.0.0.1:9/'), opts)).rejects.toMatchObject({ kind: 'network', retryable: true });
  });
});

describe('jobIdBatches', () => {
  it('sends 50 uuids a request, and fewer long ids so every request line stays under 8 KB', () => {
    const uuids = Array.from({ length: 120 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    expect(jobIdBatches(uuids).map((b) => b.length)).toEqual([50, 50, 20]);
    const long = Array.from({ length: 12 }, (_, i) => `${i}-${'é'.repeat(340)}`);
    const batches = jobIdBatches(long);
    expect(batches.flat()).toEqual(long);
    for (const batch of batches) expect(batch.map((id) => `&job_ids=${encodeURIComponent(id)}`).join('').length).toBeLessThanOrEqual(6000);
    expect(jobIdBatches([])).toEqual([]);
  });
});
