// The simulator's per-key rate limit (token bucket): counts, headers and keys, never timings. The
// buckets' clock stands still unless a test moves it, so a slow machine cannot refill one mid-burst.

import { afterEach, describe, expect, it } from 'vitest';
import { runSimulatorCli } from '../../src/commands/simulator.ts';
import { startSimulator, simProjectId, type Simulator, type SimulatorOptions } from '../../src/simulator/index.ts';
import { parseRetryAfter } from '../../src/source/http.ts';

const NOW = Date.UTC(2026, 2, 1);
const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const V1 = '/api/v1/classifier/jobs';
const V2 = '/api/v2/classify';

const running: Simulator[] = [];
/** The rate limit's clock, in ms: moved only by the tests. */
let clockMs = 0;
afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
  clockMs = 0;
});

async function start(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ projects: [{ id: A, jobs: 5 }], now: NOW, rateLimitClock: () => clockMs, ...opts });
  running.push(sim);
  return sim;
}

function get(sim: Simulator, projectId = A, key: string | null = sim.apiKey, path = V1): Promise<Response> {
  const headers: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
  return fetch(`${sim.url}${path}?project_id=${projectId}`, { headers });
}

/** `n` requests sent at once; their responses with the bodies read. */
async function burst(n: number, send: () => Promise<Response>): Promise<{ status: number; headers: Headers; body: unknown }[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const res = await send();
      return { status: res.status, headers: res.headers, body: await res.json() };
    }),
  );
}

function statuses(responses: { status: number }[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const { status } of responses) counts[status] = (counts[status] ?? 0) + 1;
  return counts;
}

/** The client's reading of Retry-After, in ms; asserts the header is there and readable. */
function retryAfterMs(headers: Headers): number {
  const header = headers.get('retry-after') ?? '';
  expect(header).toMatch(/^\d+\.\d{3}$/);
  const ms = parseRetryAfter(headers);
  expect(ms).toBe(Math.ceil(Number(header) * 1000));
  return ms ?? 0;
}

describe('rate limit', () => {
  it('answers a burst of 6 at 2 requests/s with exactly 2 pages and 4 × 429 with Retry-After > 0', async () => {
    const sim = await start({ rateLimit: 2 });
    const responses = await burst(6, () => get(sim));
    expect(statuses(responses)).toEqual({ 200: 2, 429: 4 });
    for (const res of responses.filter((r) => r.status === 429)) {
      expect(res.body).toEqual({ detail: 'Rate limit exceeded' });
      expect(res.headers.get('content-type')).toBe('application/json');
      const ms = retryAfterMs(res.headers);
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThanOrEqual(500);
    }
    expect(sim.stats).toMatchObject({ requests: 6, pages: 2, rateLimited: 4, byStatus: { 200: 2, 429: 4 } });
  });

  it('serves the next request once Retry-After has passed', async () => {
    const sim = await start({ rateLimit: 2 });
    const responses = await burst(3, () => get(sim));
    expect(statuses(responses)).toEqual({ 200: 2, 429: 1 });
    const refused = responses.find((r) => r.status === 429);
    clockMs += retryAfterMs(refused?.headers ?? new Headers());
    expect((await get(sim)).status).toBe(200);
    // That request took the one token the wait refilled.
    expect((await get(sim)).status).toBe(429);
    expect(sim.stats.rateLimited).toBe(2);
  });

  it('takes fractions: 0.5 requests/s allows a burst of 1 and asks for up to 2 s', async () => {
    const sim = await start({ rateLimit: 0.5 });
    const responses = await burst(3, () => get(sim));
    expect(statuses(responses)).toEqual({ 200: 1, 429: 2 });
    for (const res of responses.filter((r) => r.status === 429)) {
      const ms = retryAfterMs(res.headers);
      expect(ms).toBeGreaterThan(0);
      expect(ms).toBeLessThanOrEqual(2000);
    }
  });

  it('keeps one bucket per key: exhausting one key leaves another accepted key untouched', async () => {
    const sim = await start({
      rateLimit: 1,
      projects: [
        { id: A, jobs: 5 },
        { id: B, jobs: 5, apiKey: 'key-b' },
      ],
    });
    expect(statuses(await burst(3, () => get(sim, A)))).toEqual({ 200: 1, 429: 2 });
    expect(statuses(await burst(3, () => get(sim, B, 'key-b')))).toEqual({ 200: 1, 429: 2 });
    expect(sim.stats.rateLimited).toBe(4);
  });

  it('answers a missing or unknown key 401 whatever the limit, without taking a token', async () => {
    const sim = await start({ rateLimit: 1 });
    expect(statuses(await burst(3, () => get(sim, A, 'wrong-key')))).toEqual({ 401: 3 });
    expect((await get(sim, A, null)).status).toBe(401);
    expect((await get(sim)).status).toBe(200);
    expect((await get(sim)).status).toBe(429);
    expect(sim.stats).toMatchObject({ requests: 6, rateLimited: 1, byStatus: { 401: 4, 200: 1, 429: 1 } });
  });

  it('applies to v1 and v2 alike, from one bucket per key', async () => {
    const sim = await start({ rateLimit: 1 });
    expect((await get(sim, A, sim.apiKey, V2)).status).toBe(200);
    const v1 = await get(sim, A, sim.apiKey, V1);
    const v2 = await get(sim, A, sim.apiKey, V2);
    for (const res of [v1, v2]) {
      expect(res.status).toBe(429);
      expect(await res.json()).toEqual({ detail: 'Rate limit exceeded' });
      expect(retryAfterMs(res.headers)).toBeGreaterThan(0);
    }
  });

  it('leaves fault injection as it is: a refused request draws no fault', async () => {
    const sim = await start({ rateLimit: 1, faults: { rate: 1, kinds: ['503'] } });
    expect((await get(sim)).status).toBe(503);
    const refused = await get(sim);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ detail: 'Rate limit exceeded' });
    expect(sim.stats.faults['503']).toBe(1);
    expect(sim.stats.rateLimited).toBe(1);
  });

  it('is off by default', async () => {
    const sim = await start();
    expect(statuses(await burst(20, () => get(sim)))).toEqual({ 200: 20 });
    expect(sim.stats.rateLimited).toBe(0);
  });

  it('refuses a rateLimit that is not a positive number', async () => {
    for (const rateLimit of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(startSimulator({ projects: [], rateLimit })).rejects.toThrow(/rateLimit must be a positive number/);
    }
  });
});

describe('runSimulatorCli --rate-limit', () => {
  it('limits the served simulator and says so', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const done = runSimulatorCli(['--port', '0', '--projects', '1', '--jobs', '3', '--rate-limit', '0.5'], {
      write: (line) => lines.push(line),
      signal: controller.signal,
    });
    await expect.poll(() => lines.some((line) => line.includes('LLAMA_CLOUD_BASE_URL='))).toBe(true);
    expect(lines.join('\n')).toContain('rate limit 0.5 requests/s per key');
    const url = /LLAMA_CLOUD_BASE_URL=(\S+)/.exec(lines.join('\n'))?.[1] ?? '';
    const send = () => fetch(`${url}${V1}?project_id=${simProjectId(1, 0)}`, { headers: { authorization: 'Bearer sim-key' } });
    expect((await send()).status).toBe(200);
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(retryAfterMs(refused.headers)).toBeGreaterThan(0);
    await refused.body?.cancel();
    controller.abort();
    await done;
  });

  it('lists the flag in its usage', async () => {
    const lines: string[] = [];
    await runSimulatorCli(['--help'], { write: (line) => lines.push(line) });
    expect(lines.join('\n')).toMatch(/--rate-limit <r>\s+requests\/s/);
  });

  it('rejects values that are not a positive number', async () => {
    for (const value of ['0', '-2', 'abc', '', ' ', 'Infinity', '1e400']) {
      await expect(runSimulatorCli([`--rate-limit=${value}`])).rejects.toThrow(
        `--rate-limit must be a positive number of requests per second, got "${value}"`,
      );
    }
  });
});
