import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ApiError,
  extractDetail,
  getJson,
  isRetryableStatus,
  MAX_REDIRECTS,
  parseRetryAfter,
  redirectTarget,
} from '../../src/source/http.ts';
import { itemLimit, parsePage, type Page } from '../../src/source/page.ts';
import { MAX_PAGE_TOKEN_CHARS, pages, tokenDigest, WalkError } from '../../src/source/pages.ts';
import { withRetry } from '../../src/source/retry.ts';
import { jobIdBatches } from '../../src/source/v2.ts';

describe('retry classification', () => {
  it.each([
    [408, true],
    [409, true],
    [429, true],
    [500, true],
    [502, true],
    [503, true],
    [599, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [422, false],
  ])('HTTP %i retryable: %s', (status, retryable) => {
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
    const value = await withRetry(
      () => {
        calls += 1;
        if (calls < 3) return Promise.reject(new ApiError('busy', 'http', 503, 'busy', true, 1));
        return Promise.resolve('ok');
      },
      fast,
      { onRetry: (e) => seen.push(e.error.status) },
    );
    expect(value).toBe('ok');
    expect(seen).toEqual([503, 503]);
  });

  it('fails at once on a permanent error', async () => {
    let calls = 0;
    await expect(
      withRetry(() => {
        calls += 1;
        return Promise.reject(new ApiError('no', 'http', 401, 'Not authenticated', false));
      }, fast),
    ).rejects.toMatchObject({ status: 401 });
    expect(calls).toBe(1);
  });

  it('gives up after the retry budget', async () => {
    let calls = 0;
    await expect(
      withRetry(() => {
        calls += 1;
        return Promise.reject(new ApiError('down', 'http', 500, undefined, true));
      }, fast),
    ).rejects.toMatchObject({ status: 500 });
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

  it('refuses a page with more items than asked for, as retryable; exactly as many is a page', () => {
    expect(parsePage({ items: [1, 2, 3] }, 3).items).toHaveLength(3);
    expect(() => parsePage({ items: [1, 2, 3, 4] }, 3)).toThrow(
      expect.objectContaining({
        kind: 'invalid-body',
        retryable: true,
        message: 'HTTP 200 with more items than the 3 asked for (page_size)',
      }),
    );
  });
});

describe('itemLimit (counting items before the body is parsed)', () => {
  /** Feeds `body` to a fresh inspector in chunks of `size` bytes; true when it accepted the body. */
  const accepts = (body: string, maxItems: number, size = 7): boolean => {
    const inspect = itemLimit(maxItems);
    const bytes = Buffer.from(body);
    try {
      for (let i = 0; i < bytes.length; i += size) inspect(bytes.subarray(i, i + size));
      return true;
    } catch (error) {
      expect(error).toMatchObject({ kind: 'invalid-body', retryable: true });
      return false;
    }
  };

  it('counts the top-level items, whatever the chunking', () => {
    const body = JSON.stringify({ next_page_token: 'x', items: [{ a: 1 }, 'two', 3, [4, 5], null], total_size: 9 });
    for (const size of [1, 2, 3, 64, 1 << 20]) {
      expect(accepts(body, 5, size)).toBe(true);
      expect(accepts(body, 4, size)).toBe(false);
    }
    expect(accepts('{"items":[]}', 0)).toBe(true);
    expect(accepts('{ "items" : [ 1 ,\n 2 ] }', 1)).toBe(false);
  });

  it('is not fooled by nesting, strings or keys that only look like items', () => {
    const tricky = {
      x: { items: [1, 2, 3, 4] },
      'items ': [1, 2, 3, 4],
      s: 'items": [1,2,3,4], "\\"',
      items: [{ items: [1, 2, 3, 4] }, 'a,b,c,"]", [', 'é,ü,漢,😀'],
    };
    expect(accepts(JSON.stringify(tricky), 3, 1)).toBe(true);
    expect(accepts(JSON.stringify(tricky), 2, 1)).toBe(false);
    // A top-level array has no items key; parsePage refuses it after parsing.
    expect(accepts(JSON.stringify([1, 2, 3, 4]), 1)).toBe(true);
  });

  it('agrees with JSON.parse on any JSON items and keys, cut anywhere', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue(), { maxLength: 12 }),
        fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }),
        fc.integer({ min: 1, max: 64 }),
        (items, extra, size) => {
          const body = JSON.stringify({ ...extra, items });
          const n = (JSON.parse(body) as { items: unknown[] }).items.length;
          expect(accepts(body, n, size)).toBe(true);
          if (n > 0) expect(accepts(body, n - 1, size)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses early: the bytes after the first extra item are never needed', () => {
    const inspect = itemLimit(2);
    expect(() => inspect(Buffer.from('{"items":[1,2,3'))).toThrow(/more items than the 2 asked for/);
  });
});

describe('pages (the walk)', () => {
  const page = (next: string | undefined): Page => ({ items: [next ?? 'last'], nextPageToken: next, totalSize: undefined });

  it('follows tokens to the end', async () => {
    const chain: Record<string, string | undefined> = { start: 'a', a: 'b', b: undefined };
    const walked = [];
    for await (const p of pages((t) => Promise.resolve(page(chain[t ?? 'start'])), { maxPages: 10 })) walked.push([p.number, p.token]);
    expect(walked).toEqual([
      [1, undefined],
      [2, 'a'],
      [3, 'b'],
    ]);
  });

  it('stops a token loop with an error instead of walking forever', async () => {
    const chain: Record<string, string> = { start: 'a', a: 'b', b: 'a' };
    const walk = async () => {
      for await (const _ of pages((t) => Promise.resolve(page(chain[t ?? 'start'])), { maxPages: 1000 })) {
        /* consume */
      }
    };
    await expect(walk()).rejects.toThrow(WalkError);
    await expect(walk()).rejects.toThrow(/twice/);
  });

  it('keeps a fixed-size digest per token, and still tells tokens apart by their last character', async () => {
    const long = 'x'.repeat(MAX_PAGE_TOKEN_CHARS - 1);
    expect(tokenDigest(long)).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(tokenDigest(long)).toBe(tokenDigest(`${long}`));
    expect(tokenDigest(`${long}a`)).not.toBe(tokenDigest(`${long}b`));
    const chain: Record<string, string> = { start: `${long}a`, [`${long}a`]: `${long}b`, [`${long}b`]: `${long}a` };
    const walked: (string | undefined)[] = [];
    const walk = async () => {
      for await (const p of pages((t) => Promise.resolve(page(chain[t ?? 'start'])), { maxPages: 1000 })) walked.push(p.token?.slice(-1));
    };
    await expect(walk()).rejects.toThrow(/twice in one walk/);
    expect(walked).toEqual([undefined, 'a']);
  });

  it('refuses a page token longer than MAX_PAGE_TOKEN_CHARS before storing its page', async () => {
    const walked: number[] = [];
    const walk = async () => {
      for await (const p of pages(() => Promise.resolve(page('t'.repeat(MAX_PAGE_TOKEN_CHARS + 1))), { maxPages: 10 }))
        walked.push(p.number);
    };
    await expect(walk()).rejects.toThrow(
      `the API returned a page token of ${MAX_PAGE_TOKEN_CHARS + 1} characters (more than ${MAX_PAGE_TOKEN_CHARS})`,
    );
    expect(walked).toEqual([]);
  });

  it('stops a runaway walk at maxPages', async () => {
    let n = 0;
    const walk = async () => {
      for await (const _ of pages(() => Promise.resolve(page(`t${n++}`)), { maxPages: 5 })) {
        /* consume */
      }
    };
    await expect(walk()).rejects.toThrow(/more than 5 pages/);
  });

  it('resumes from a saved token, counting pages on from before', async () => {
    const numbers = [];
    for await (const p of pages((t) => Promise.resolve(page(t === 'x' ? undefined : 'x')), {
      startToken: 's',
      pagesBefore: 4,
      maxPages: 10,
    }))
      numbers.push(p.number);
    expect(numbers).toEqual([5, 6]);
  });
});

describe('redirectTarget (which redirects are followed)', () => {
  const from = new URL('https://api.example/api/v1/classifier/jobs?project_id=p&page_size=10');

  it('follows the same origin, relative or absolute', () => {
    expect(redirectTarget(from, '/moved/jobs?x=1', 307).href).toBe('https://api.example/moved/jobs?x=1');
    expect(redirectTarget(from, 'https://api.example:443/v2', 308).href).toBe('https://api.example/v2');
    expect(redirectTarget(from, 'jobs?page_token=t', 302).href).toBe('https://api.example/api/v1/classifier/jobs?page_token=t');
  });

  it.each([
    ['another host', 'https://other.example/api/v1/classifier/jobs?project_id=p', 'https://other.example'],
    ['another port', 'https://api.example:8443/x', 'https://api.example:8443'],
    ['another scheme', 'http://api.example/x', 'http://api.example'],
    ['a scheme-relative host', '//evil.example/x', 'https://evil.example'],
    ['credentials and a query', 'https://user:pass@other.example/x?token=secret', 'https://other.example'],
    ['a non-HTTP scheme', 'file:///etc/passwd', 'file:'],
  ])('refuses %s for good, printing only the origin', (_name, location, shown) => {
    let thrown: unknown;
    try {
      redirectTarget(from, location, 302);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ kind: 'redirect', status: 302, retryable: false });
    expect((thrown as Error).message).toBe(
      `the API redirected to another origin (${shown}): refusing to follow; check LLAMA_CLOUD_BASE_URL`,
    );
  });

  it('refuses a redirect without a Location', () => {
    expect(() => redirectTarget(from, null, 301)).toThrow(expect.objectContaining({ kind: 'redirect', retryable: false }));
  });
});

describe('getJson', () => {
  let server: Server;
  let other: Server;
  let base: string;
  let otherBase: string;
  let otherRequests = 0;
  beforeAll(async () => {
    other = createServer((req, res) => {
      otherRequests += 1;
      res.end('{"items":["from the other origin"]}');
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    server = createServer((req, res) => {
      const hops = /^\/loop\/(\d+)$/.exec(req.url ?? '');
      if (hops) {
        res.writeHead(302, { location: `/loop/${Number(hops[1]) + 1}` }).end();
      } else if (req.url?.startsWith('/hop/')) {
        res.writeHead(Number(req.url.slice(5, 8)), { location: req.url.slice(8) || '/auth' }).end('moved');
      } else if (req.url === '/away') {
        res.writeHead(302, { location: `${otherBase}/auth` }).end();
      } else if (req.url === '/big') {
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
  afterAll(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        other.closeAllConnections();
        other.close();
        server.close(() => resolve());
      }),
  );
  const opts = { apiKey: 'secret-key', timeoutMs: 2000, maxBytes: 1 << 20 };

  it.each([301, 302, 303, 307, 308])('follows a same-origin %i, keeping the key', async (status) => {
    expect(await getJson(new URL(`${base}/hop/${status}`), opts)).toEqual({ authorization: 'Bearer secret-key' });
  });

  it('refuses a cross-origin redirect without asking the other origin', async () => {
    await expect(getJson(new URL(`${base}/away`), opts)).rejects.toMatchObject({
      kind: 'redirect',
      retryable: false,
      message: `the API redirected to another origin (${otherBase}): refusing to follow; check LLAMA_CLOUD_BASE_URL`,
    });
    expect(otherRequests).toBe(0);
  });

  it(`stops a redirect loop after ${MAX_REDIRECTS} hops`, async () => {
    await expect(getJson(new URL(`${base}/loop/0`), opts)).rejects.toMatchObject({
      kind: 'redirect',
      retryable: false,
      message: /more than 5 redirects/,
    });
  });

  it('hands each chunk to the inspector, which may refuse the body', async () => {
    await expect(getJson(new URL(`${base}/big`), { ...opts, inspect: itemLimit(10) })).rejects.toMatchObject({
      kind: 'invalid-body',
      retryable: true,
    });
  });

  it('sends the key as a Bearer token', async () => {
    expect(await getJson(new URL(`${base}/auth`), opts)).toEqual({ authorization: 'Bearer secret-key' });
  });

  it('turns an HTTP error into an ApiError with status, detail and Retry-After', async () => {
    await expect(getJson(new URL(`${base}/x`), opts)).rejects.toMatchObject({
      status: 429,
      detail: 'slow down',
      retryable: true,
      retryAfterMs: 3000,
    });
  });

  it('refuses a body over the size cap, without retrying', async () => {
    await expect(getJson(new URL(`${base}/big`), { ...opts, maxBytes: 4096 })).rejects.toMatchObject({
      kind: 'too-large',
      retryable: false,
    });
  });

  it('times out a slow response as retryable', async () => {
    await expect(getJson(new URL(`${base}/slow`), { ...opts, timeoutMs: 50 })).rejects.toMatchObject({ kind: 'timeout', retryable: true });
  });

  it('reports a refused connection as a retryable network error, naming the address', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(getJson(new URL(`http://127.0.0.1:${port}/x?y=1`), opts)).rejects.toMatchObject({
      kind: 'network',
      retryable: true,
      message: `network error reaching http://127.0.0.1:${port}: ECONNREFUSED`,
    });
  });

  it('a port fetch refuses to send to is no retryable error', async () => {
    await expect(getJson(new URL('http://127.0.0.1:9/'), opts)).rejects.toMatchObject({ kind: 'network', retryable: false });
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
