// The simulator as a client sees it: real HTTP requests with fetch against a running instance.

import { afterEach, describe, expect, it } from 'vitest';
import { runSimulatorCli } from '../../src/commands/simulator.ts';
import {
  seedProjectJobs,
  simProjectId,
  MOVED_PREFIX,
  startSimulator,
  V1_LANGS,
  type Simulator,
  type SimulatorOptions,
  type V1Job,
} from '../../src/simulator/index.ts';

const NOW = Date.UTC(2026, 2, 1);
const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';
const PATH = '/api/v1/classifier/jobs';

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
});

async function start(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ projects: [{ id: A, jobs: 50 }], now: NOW, ...opts });
  running.push(sim);
  return sim;
}

type Query = Record<string, string | number | undefined>;

function list(sim: Simulator, query: Query, key: string | null = sim.apiKey, init: RequestInit = {}): Promise<Response> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value));
  const headers: Record<string, string> = key === null ? {} : { authorization: `Bearer ${key}` };
  return fetch(`${sim.url}${PATH}?${params.toString()}`, { ...init, headers });
}

interface Page {
  items: Record<string, unknown>[];
  next_page_token?: string | null;
  total_size?: number;
}

async function page(sim: Simulator, query: Query): Promise<Page> {
  const res = await list(sim, query);
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}

/** Follows next_page_token to the end. */
async function walk(sim: Simulator, projectId: string, pageSize: number) {
  const pages: Page[] = [];
  let token: string | undefined;
  do {
    const body = await page(sim, { project_id: projectId, page_size: pageSize, page_token: token });
    pages.push(body);
    token = body.next_page_token ?? undefined;
  } while (token !== undefined && pages.length < 1000);
  return { pages, items: pages.flatMap((p) => p.items) };
}

describe('paging', () => {
  it('walks every job exactly once with page_size 7, and ends without next_page_token', async () => {
    const sim = await start();
    const { pages, items } = await walk(sim, A, 7);
    const expected = sim.jobs(A);

    expect(pages).toHaveLength(Math.ceil(50 / 7));
    expect(items).toEqual(expected);
    expect(new Set(items.map((item) => item.id)).size).toBe(50);
    expect(pages.every((p) => p.total_size === 50)).toBe(true);
    expect(pages.slice(0, -1).every((p) => p.items.length === 7)).toBe(true);
    expect('next_page_token' in (pages.at(-1) ?? {})).toBe(false);
    expect(sim.stats.pages).toBe(pages.length);
  });

  it('issues opaque tokens that cannot be forged or moved to another project', async () => {
    const sim = await start({
      projects: [
        { id: A, jobs: 30 },
        { id: B, jobs: 30 },
      ],
    });
    const first = await page(sim, { project_id: A, page_size: 5 });
    const token = first.next_page_token ?? '';
    expect(token).not.toMatch(/^\d+$/);

    const [payload, signature] = token.split('.');
    const forged = Buffer.from(JSON.stringify({ o: 10, i: 1, g: 0 })).toString('base64url');
    for (const bad of [`${forged}.${signature}`, `${payload}.AAAA`, 'garbage', '%%%']) {
      const res = await list(sim, { project_id: A, page_token: bad });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ detail: 'Invalid page token' });
    }
    expect((await list(sim, { project_id: B, page_token: token })).status).toBe(400);
    expect((await list(sim, { project_id: A, page_token: token })).status).toBe(200);
  });

  it('answers 400 to every token issued before invalidateTokens()', async () => {
    const sim = await start();
    const old = (await page(sim, { project_id: A, page_size: 10 })).next_page_token ?? '';
    sim.invalidateTokens();
    const res = await list(sim, { project_id: A, page_token: old });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ detail: 'Invalid page token' });
    // A fresh walk works again.
    expect((await walk(sim, A, 10)).items).toHaveLength(50);
  });

  it('defaults page_size to 50 and clamps it to maxPageSize (100)', async () => {
    const sim = await start({ projects: [{ id: A, jobs: 120 }] });
    expect((await page(sim, { project_id: A })).items).toHaveLength(50);
    expect((await page(sim, { project_id: A, page_size: 500 })).items).toHaveLength(100);
    const small = await start({ projects: [{ id: A, jobs: 120 }], maxPageSize: 20 });
    expect((await page(small, { project_id: A, page_size: 50 })).items).toHaveLength(20);
  });

  it('omits total_size when totalSize is false', async () => {
    const sim = await start({ totalSize: false });
    expect('total_size' in (await page(sim, { project_id: A }))).toBe(false);
  });

  it('serves an empty project as one empty page', async () => {
    const sim = await start({ projects: [{ id: A, jobs: 0 }] });
    expect(await page(sim, { project_id: A })).toEqual({ items: [], total_size: 0 });
  });
});

describe('errors', () => {
  it('answers 401 without a key or with a key the project does not accept', async () => {
    const sim = await start({
      projects: [
        { id: A, jobs: 3 },
        { id: B, jobs: 3, apiKey: 'key-b' },
      ],
    });
    const missing = await list(sim, { project_id: A }, null);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ detail: 'Not authenticated' });

    for (const [projectId, key] of [
      [A, 'wrong'],
      [A, 'key-b'],
      [B, sim.apiKey],
    ] as const) {
      const res = await list(sim, { project_id: projectId }, key);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ detail: 'Invalid authentication token' });
    }
    expect((await list(sim, { project_id: B }, 'key-b')).status).toBe(200);
  });

  it('echoAuthorization: 4xx details end with the Authorization header received (a 200 and a 422 list are left alone)', async () => {
    const sim = await start({
      projects: [
        { id: A, jobs: 3 },
        { id: B, jobs: 3, access: 'forbidden' },
      ],
      echoAuthorization: true,
    });
    const wrong = await list(sim, { project_id: A }, 'llx-wrong');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
    expect(await wrong.json()).toEqual({ detail: 'Invalid authentication token; Authorization: Bearer llx-wrong' });
    expect(await (await list(sim, { project_id: B })).json()).toEqual({
      detail: `You do not have access to this project; Authorization: Bearer ${sim.apiKey}`,
    });
    expect(await (await list(sim, { project_id: A }, null)).json()).toEqual({ detail: 'Not authenticated; Authorization: (none)' });
    expect((await list(sim, { project_id: A })).status).toBe(200);
    const invalid = await list(sim, { project_id: A, page_size: 'x' });
    expect(invalid.status).toBe(422);
    expect(Array.isArray(((await invalid.json()) as { detail: unknown }).detail)).toBe(true);
  });

  it('answers 403/404 for projects the key may not read, and 404 for other paths', async () => {
    const sim = await start({
      projects: [
        { id: A, jobs: 3, access: 'forbidden' },
        { id: B, jobs: 3, access: 'not_found' },
      ],
    });
    const forbidden = await list(sim, { project_id: A });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ detail: 'You do not have access to this project' });
    for (const projectId of [B, 'no-such-project']) {
      const res = await list(sim, { project_id: projectId });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ detail: 'Project not found' });
    }
    const other = await fetch(`${sim.url}/api/v1/projects`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ detail: 'Not Found' });
  });

  it('answers 422 in FastAPI shape for a missing project_id or a bad page_size', async () => {
    const sim = await start();
    const cases: [Query, string][] = [
      [{}, 'project_id'],
      [{ project_id: A, page_size: 'abc' }, 'page_size'],
      [{ project_id: A, page_size: 0 }, 'page_size'],
      [{ project_id: A, page_size: 2.5 }, 'page_size'],
    ];
    for (const [query, field] of cases) {
      const res = await list(sim, query);
      expect(res.status).toBe(422);
      const body = (await res.json()) as { detail: { loc: string[]; msg: string; type: string }[] };
      expect(body.detail[0]).toMatchObject({
        loc: ['query', field],
        msg: expect.any(String) as string,
        type: expect.any(String) as string,
      });
    }
  });
});

describe('data', () => {
  it('is identical for the same seed and differs for another seed', async () => {
    const one = await start({ seed: 7 });
    const two = await start({ seed: 7 });
    const other = await start({ seed: 8 });
    const [a, b, c] = await Promise.all([walk(one, A, 7), walk(two, A, 7), walk(other, A, 7)]);
    expect(b.items).toEqual(a.items);
    expect(c.items).not.toEqual(a.items);
    expect(seedProjectJobs(A, 20, { seed: 7, now: NOW })).toEqual(seedProjectJobs(A, 20, { seed: 7, now: NOW }));
    expect(seedProjectJobs(B, 20, { seed: 7, now: NOW })).not.toEqual(seedProjectJobs(A, 20, { seed: 7, now: NOW }));
  });

  it('looks like real v1 jobs: spread statuses, valid rules and parsing settings, 90 days of history', () => {
    const jobs = seedProjectJobs(A, 1000, { seed: 3, now: NOW, oddities: false });
    const statuses = new Set(jobs.map((job) => job.status));
    expect([...statuses].sort()).toEqual(['CANCELLED', 'ERROR', 'PARTIAL_SUCCESS', 'PENDING', 'SUCCESS']);
    expect(jobs.filter((job) => job.status === 'SUCCESS').length).toBeGreaterThan(500);
    expect(jobs.filter((job) => job.mode === 'MULTIMODAL').length).toBeGreaterThan(50);
    for (const job of jobs) {
      expect(job.project_id).toBe(A);
      expect(job.rules.length).toBeGreaterThanOrEqual(1);
      expect(job.rules.length).toBeLessThanOrEqual(5);
      for (const rule of job.rules) {
        expect(rule.description.length).toBeGreaterThanOrEqual(10);
        expect(rule.description.length).toBeLessThanOrEqual(500);
      }
      const created = Date.parse(job.created_at ?? '');
      expect(created).toBeLessThanOrEqual(NOW);
      expect(created).toBeGreaterThanOrEqual(NOW - 90 * 86_400_000);
      if (job.status === 'ERROR') expect(job.error_message).toEqual(expect.any(String));
      const parsing = job.parsing_configuration;
      if (parsing) {
        expect(V1_LANGS).toContain(parsing.lang);
        for (const p of parsing.target_pages ?? []) expect(Number.isInteger(p) && p >= 0).toBe(true);
      }
    }
    const messages = new Set(jobs.filter((job) => job.status === 'ERROR').map((job) => job.error_message));
    expect(messages.size).toBeGreaterThan(6); // variable parts make the raw messages differ
  });

  it('includes odd-but-valid items by default', () => {
    const jobs = seedProjectJobs(A, 500, { seed: 3, now: NOW });
    const created = jobs.map((job) => job.created_at ?? '');
    expect(created.some((at) => /T\d\d:\d\d:\d\d$/.test(at))).toBe(true);
    expect(created.some((at) => /\.\d{6}Z$/.test(at))).toBe(true);
    expect(created.some((at) => /[+-]\d\d:\d\d$/.test(at))).toBe(true);
    expect(jobs.some((job) => 'x_extra' in job)).toBe(true);
    expect(jobs.some((job) => job.rules.some((rule) => rule.description.includes("'; DROP TABLE")))).toBe(true);
    expect(jobs.filter((job) => !['PENDING', 'SUCCESS', 'ERROR', 'PARTIAL_SUCCESS', 'CANCELLED'].includes(job.status))).toEqual([]);
    const odd = jobs.filter((job) => !/\.\d{3}Z$/.test(job.created_at ?? '') || 'x_extra' in job);
    expect(odd.length).toBeLessThan(jobs.length / 4);
  });
});

describe('upstream changes', () => {
  it('reflects upserts, removals and raw items in later pages', async () => {
    const sim = await start({ projects: [{ id: A, jobs: 10 }] });
    const [first, second] = sim.jobs(A);
    if (!first || !second) throw new Error('expected seeded jobs');

    const added: V1Job = { ...first, id: 'new-job', created_at: new Date(NOW).toISOString(), status: 'PENDING' };
    sim.upsertJob(A, added);
    sim.upsertJob(A, { ...second, status: 'CANCELLED' });
    sim.removeJob(A, first.id);
    sim.insertRawItem(A, { id: 42, rules: 'not-a-list' });

    const { items } = await walk(sim, A, 4);
    expect(items[0]).toEqual(added);
    expect(items.find((item) => item.id === second.id)?.status).toBe('CANCELLED');
    expect(items.some((item) => item.id === first.id)).toBe(false);
    expect(items).toContainEqual({ id: 42, rules: 'not-a-list' });
    expect(items).toHaveLength(11);
    expect(sim.jobs(A)).toHaveLength(10);
    expect(sim.jobs(A)).toEqual(items.filter((item) => item.id !== 42));
  });

  it('lets a page hook see, replace or garble pages without touching the data', async () => {
    const seen: number[] = [];
    const sim = await start({
      projects: [{ id: A, jobs: 9 }],
      onPage: ({ projectId, pageIndex, body }) => {
        expect(projectId).toBe(A);
        seen.push(pageIndex);
        const item = body.items[0] as Record<string, unknown>;
        item.status = 'MUTATED';
        if (pageIndex === 1) return { ...body, items: [{ replaced: true }] };
        if (pageIndex === 2) return '{"items": [';
        return undefined;
      },
    });
    const first = await page(sim, { project_id: A, page_size: 3 });
    expect(first.items).toHaveLength(3);
    const second = await page(sim, { project_id: A, page_size: 3, page_token: first.next_page_token ?? '' });
    expect(second.items).toEqual([{ replaced: true }]);
    const third = await list(sim, { project_id: A, page_size: 3, page_token: second.next_page_token ?? '' });
    await expect(third.json()).rejects.toThrow();
    expect(seen).toEqual([0, 1, 2]);
    expect(sim.jobs(A).some((job) => job.status === 'MUTATED')).toBe(false);

    sim.setOnPage(undefined);
    expect((await page(sim, { project_id: A, page_size: 3 })).items[0]?.status).not.toBe('MUTATED');
  });
});

describe('faults', () => {
  it('answers 429 with Retry-After', async () => {
    const sim = await start({ faults: { rate: 1, kinds: ['429'], retryAfterSeconds: 3 } });
    const res = await list(sim, { project_id: A });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(await res.json()).toEqual({ detail: expect.any(String) as string });
    expect(sim.stats.faults['429']).toBe(1);
    expect(sim.stats.byStatus['429']).toBe(1);
  });

  it('rotates 5xx bodies between an HTML page, an empty body and a JSON detail', async () => {
    for (const kind of ['500', '502', '503'] as const) {
      const sim = await start({ faults: { rate: 1, kinds: [kind] } });
      const bodies: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await list(sim, { project_id: A });
        expect(res.status).toBe(Number(kind));
        bodies.push(await res.text());
      }
      expect(bodies[0]).toContain('<html>');
      expect(bodies[1]).toBe('');
      expect(JSON.parse(bodies[2] ?? '')).toEqual({ detail: expect.any(String) as string });
    }
  });

  it('resets the connection without a response', async () => {
    const sim = await start({ faults: { rate: 1, kinds: ['reset'] } });
    await expect(list(sim, { project_id: A })).rejects.toThrow();
    expect(sim.stats.faults.reset).toBe(1);
  });

  it('truncates a 200 page mid-body', async () => {
    const sim = await start({ faults: { rate: 1, kinds: ['truncated'] } });
    const res = await list(sim, { project_id: A });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    await expect(res.text().then((text): unknown => JSON.parse(text))).rejects.toThrow();
    expect(sim.stats.pages).toBe(0);
  });

  it('hangs a request until hangMs, and stop() does not wait for a hung request', async () => {
    const sim = await start({ faults: { rate: 1, kinds: ['hang'], hangMs: 50 } });
    const started = Date.now();
    expect((await list(sim, { project_id: A })).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    await expect(list(sim, { project_id: A }, sim.apiKey, { signal: AbortSignal.timeout(10) })).rejects.toThrow();

    sim.setFaults({ rate: 1, kinds: ['hang'], hangMs: 120_000 });
    const hung = list(sim, { project_id: A });
    const hungOutcome = hung.then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    const stopping = Date.now();
    await sim.stop();
    expect(Date.now() - stopping).toBeLessThan(1000);
    expect(await hungOutcome).toBe('failed');
  });

  it('strikes before auth, honours per-project overrides, and can be switched off', async () => {
    const sim = await start({
      projects: [
        { id: A, jobs: 5 },
        { id: B, jobs: 5, faults: { rate: 0 } },
      ],
      faults: { rate: 1, kinds: ['503'] },
    });
    expect((await list(sim, { project_id: A }, null)).status).toBe(503);
    expect((await list(sim, { project_id: B })).status).toBe(200);
    sim.setFaults(undefined);
    expect((await list(sim, { project_id: A })).status).toBe(200);
    sim.setFaults({ rate: 1, kinds: ['429'] }, B);
    expect((await list(sim, { project_id: B })).status).toBe(429);
  });

  it('draws the same fault sequence for the same seed', async () => {
    const statuses = async (sim: Simulator) => {
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await list(sim, { project_id: A })).status);
      return out;
    };
    const faults = { rate: 0.5, kinds: ['429', '500'] as ('429' | '500')[] };
    const one = await statuses(await start({ seed: 5, faults }));
    const two = await statuses(await start({ seed: 5, faults }));
    expect(two).toEqual(one);
    expect(new Set(one).size).toBeGreaterThan(1);
  });
});

describe('redirects', () => {
  it('redirects list requests to another origin with their path and query, per project or for all', async () => {
    const sim = await start({
      projects: [
        { id: A, jobs: 5 },
        { id: B, jobs: 5 },
      ],
    });
    sim.setRedirect({ status: 308, to: 'http://other.example/base/' }, A);
    const moved = await list(sim, { project_id: A, page_size: 2 }, sim.apiKey, { redirect: 'manual' });
    expect(moved.status).toBe(308);
    expect(moved.headers.get('location')).toBe(`http://other.example/base${PATH}?project_id=${A}&page_size=2`);
    expect((await list(sim, { project_id: B }, sim.apiKey, { redirect: 'manual' })).status).toBe(200);
    sim.setRedirect(undefined, A);
    sim.setRedirect({ status: 302, to: 'http://other.example' });
    expect((await list(sim, { project_id: B }, sim.apiKey, { redirect: 'manual' })).status).toBe(302);
    expect(sim.stats.byStatus).toMatchObject({ 302: 1, 308: 1, 200: 1 });
  });

  it('serves a same-origin redirect under MOVED_PREFIX, where it is not redirected again', async () => {
    const sim = await start({ redirect: { status: 307 } });
    const first = await list(sim, { project_id: A, page_size: 2 }, sim.apiKey, { redirect: 'manual' });
    expect(first.status).toBe(307);
    expect(first.headers.get('location')).toBe(`${MOVED_PREFIX}${PATH}?project_id=${A}&page_size=2`);
    // fetch itself follows it (same origin, so it keeps the key here too).
    const followed = await list(sim, { project_id: A, page_size: 2 });
    expect(followed.status).toBe(200);
    expect(((await followed.json()) as Page).items).toHaveLength(2);
  });
});

describe('latency and stats', () => {
  it('delays responses by latencyMs and counts requests', async () => {
    const sim = await start();
    sim.setLatency(40);
    const started = Date.now();
    await list(sim, { project_id: A });
    expect(Date.now() - started).toBeGreaterThanOrEqual(35);
    sim.setLatency(0);
    await list(sim, { project_id: A }, null);
    expect(sim.stats.requests).toBe(2);
    expect(sim.stats.byStatus).toEqual({ 200: 1, 401: 1 });
  });
});

describe('runSimulatorCli', () => {
  it('prints deterministic project ids and the env to use, serves them, and stops on abort', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const done = runSimulatorCli(['--port', '0', '--projects', '2', '--jobs', '12', '--seed', '9'], {
      write: (line) => lines.push(line),
      signal: controller.signal,
    });
    await expect.poll(() => lines.some((line) => line.includes('LLAMA_CLOUD_BASE_URL='))).toBe(true);
    const ids = [simProjectId(9, 0), simProjectId(9, 1)];
    expect(ids[0]).not.toBe(ids[1]);
    expect(simProjectId(9, 0)).toBe(ids[0]);
    for (const id of ids) expect(lines.join('\n')).toContain(id);

    const url = /LLAMA_CLOUD_BASE_URL=(\S+)/.exec(lines.join('\n'))?.[1] ?? '';
    const res = await fetch(`${url}${PATH}?project_id=${ids[1]}`, { headers: { authorization: 'Bearer sim-key' } });
    expect(((await res.json()) as Page).items).toHaveLength(12);

    controller.abort();
    await done;
    expect(lines.at(-1)).toBe('Simulator stopped.');
  });
});
