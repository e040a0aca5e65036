// The simulator's v2 endpoint as a client sees it, and serving only one API version.

import { afterEach, describe, expect, it } from 'vitest';
import { runSimulatorCli } from '../../src/commands/simulator.ts';
import { simProjectId, startSimulator, V2_STATUSES, type Simulator, type SimulatorOptions, type V2Job } from '../../src/simulator/index.ts';

const NOW = Date.UTC(2026, 2, 1);
const DAY = 86_400_000;
const A = '11111111-1111-4111-8111-111111111111';
const V1 = '/api/v1/classifier/jobs';
const V2 = '/api/v2/classify';

const running: Simulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sim) => sim.stop()));
});

async function start(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const sim = await startSimulator({ projects: [{ id: A, jobs: 200 }], now: NOW, ...opts });
  running.push(sim);
  return sim;
}

/** GET with a query; arrays become repeated keys. */
function get(sim: Simulator, path: string, query: Record<string, string | number | string[] | undefined>): Promise<Response> {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) for (const v of value) params.append(name, v);
    else if (value !== undefined) params.set(name, String(value));
  }
  return fetch(`${sim.url}${path}?${params.toString()}`, { headers: { authorization: `Bearer ${sim.apiKey}` } });
}

interface Page {
  items: V2Job[];
  next_page_token?: string;
  total_size?: number;
}

async function walkV2(sim: Simulator, query: Record<string, string | number | string[] | undefined>): Promise<V2Job[]> {
  const items: V2Job[] = [];
  let token: string | undefined;
  for (let i = 0; i < 100; i++) {
    const res = await get(sim, V2, { project_id: A, page_size: 30, ...query, page_token: token });
    expect(res.status).toBe(200);
    const page = (await res.json()) as Page;
    items.push(...page.items);
    token = page.next_page_token;
    if (token === undefined) break;
  }
  return items;
}

describe('v2 list', () => {
  it('serves the seeded jobs in v2 shape, the same jobs as v1', async () => {
    const sim = await start();
    const items = await walkV2(sim, {});
    expect(items).toEqual(sim.jobsV2(A));
    expect(items.map((j) => j.id)).toEqual(sim.jobs(A).map((j) => j.id));
    for (const job of items) {
      expect(job).toMatchObject({
        project_id: A,
        file_input: expect.any(String) as string,
        configuration: { rules: expect.any(Array) as unknown[], mode: 'FAST' },
      });
      expect(['url', 'file_id', 'parse_job_id']).toContain(job.document_input_type);
      if (job.status === 'COMPLETED' && 'result' in job)
        expect(job.result).toMatchObject({ confidence: expect.any(Number) as number, reasoning: expect.any(String) as string });
      const spec = job.configuration.parsing_configuration?.target_pages;
      if (typeof spec === 'string') expect(spec).toMatch(/^\d+(-\d+)?(, ?\d+(-\d+)?)*$/);
    }
  });

  it('maps statuses: SUCCESS→COMPLETED, ERROR→FAILED, PARTIAL_SUCCESS→COMPLETED or RUNNING, PENDING→PENDING or RUNNING', async () => {
    const sim = await start({ projects: [{ id: A, jobs: 1000 }] });
    const v1 = new Map(sim.jobs(A).map((j) => [j.id, j.status]));
    const pairs = new Set(sim.jobsV2(A).map((j) => `${v1.get(j.id)}→${j.status}`));
    expect([...pairs].sort()).toEqual([
      'CANCELLED→CANCELLED',
      'ERROR→FAILED',
      'PARTIAL_SUCCESS→COMPLETED',
      'PARTIAL_SUCCESS→RUNNING',
      'PENDING→PENDING',
      'PENDING→RUNNING',
      'SUCCESS→COMPLETED',
    ]);
    expect(new Set(sim.jobsV2(A).map((j) => j.status))).toEqual(new Set(V2_STATUSES));
  });

  it('answers 422 above page_size 100, like the real v2', async () => {
    const sim = await start();
    expect((await get(sim, V2, { project_id: A, page_size: 100 })).status).toBe(200);
    const res = await get(sim, V2, { project_id: A, page_size: 101 });
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({
      detail: [
        expect.objectContaining({ loc: ['query', 'page_size'], type: 'less_than_equal', msg: 'Input should be less than or equal to 100' }),
      ],
    });
  });

  it('filters on creation time (inclusive), status, configuration and repeated job_ids', async () => {
    const sim = await start();
    const all = sim.jobsV2(A);
    const createdMs = (job: V2Job) => Date.parse(job.created_at ?? '');
    const withZone = all.filter((j) => /Z$/.test(j.created_at ?? ''));
    const boundary = withZone[20]?.created_at ?? '';
    const after = await walkV2(sim, { created_at_on_or_after: boundary });
    expect(after.map((j) => j.id)).toContain(withZone[20]?.id);
    expect(after.every((j) => createdMs(j) >= Date.parse(boundary))).toBe(true);
    const before = await walkV2(sim, { created_at_on_or_before: boundary });
    expect(before.map((j) => j.id)).toContain(withZone[20]?.id);
    expect(after.length + before.length).toBe(all.filter((j) => j.created_at).length + 1);

    const window = await walkV2(sim, {
      created_at_on_or_after: new Date(NOW - 10 * DAY).toISOString(),
      created_at_on_or_before: new Date(NOW - 5 * DAY).toISOString(),
    });
    expect(window.length).toBeGreaterThan(0);
    expect(window.every((j) => createdMs(j) >= NOW - 10 * DAY && createdMs(j) <= NOW - 5 * DAY)).toBe(true);

    const running = await walkV2(sim, { status: 'RUNNING' });
    expect(running.length).toBe(all.filter((j) => j.status === 'RUNNING').length);
    const configurationId = all.find((j) => j.configuration_id)?.configuration_id ?? '';
    expect((await walkV2(sim, { configuration_id: configurationId })).every((j) => j.configuration_id === configurationId)).toBe(true);

    const ids = [all[3]?.id ?? '', all[150]?.id ?? '', 'no-such-job'];
    expect((await walkV2(sim, { job_ids: ids })).map((j) => j.id).sort()).toEqual(ids.slice(0, 2).sort());
  });

  it('answers 422 to a bad date-time or status', async () => {
    const sim = await start();
    for (const [name, value] of [
      ['created_at_on_or_after', 'yesterday'],
      ['status', 'SUCCESS'],
    ]) {
      const res = await get(sim, V2, { project_id: A, [name as string]: value });
      expect(res.status).toBe(422);
      expect(((await res.json()) as { detail: { loc: string[] }[] }).detail[0]?.loc).toEqual(['query', name]);
    }
  });

  it('binds a page token to its filters', async () => {
    const sim = await start();
    const filter = { created_at_on_or_after: new Date(NOW - 60 * DAY).toISOString() };
    const first = (await (await get(sim, V2, { project_id: A, page_size: 10, ...filter })).json()) as Page;
    const token = first.next_page_token ?? '';
    expect((await get(sim, V2, { project_id: A, page_size: 10, ...filter, page_token: token })).status).toBe(200);
    const other = await get(sim, V2, { project_id: A, page_size: 10, page_token: token });
    expect(other.status).toBe(400);
    expect(await other.json()).toEqual({ detail: 'Invalid page token' });
  });
});

describe('upstream changes', () => {
  it('applies v1 upserts to both shapes, v2 upserts to v2 only, and removals to both', async () => {
    const sim = await start({ projects: [{ id: A, jobs: 5 }] });
    const [first, second] = sim.jobs(A);
    if (!first || !second) throw new Error('expected seeded jobs');
    sim.upsertJob(A, { ...first, status: 'ERROR' });
    expect(sim.jobsV2(A).find((j) => j.id === first.id)?.status).toBe('FAILED');
    const v2 = sim.jobsV2(A).find((j) => j.id === second.id) as V2Job;
    sim.upsertJobV2(A, { ...v2, status: 'CANCELLED' });
    expect(sim.jobsV2(A).find((j) => j.id === second.id)?.status).toBe('CANCELLED');
    expect(sim.jobs(A).find((j) => j.id === second.id)?.status).toBe(second.status);
    sim.removeJob(A, first.id);
    expect(sim.jobs(A).some((j) => j.id === first.id)).toBe(false);
    expect(sim.jobsV2(A).some((j) => j.id === first.id)).toBe(false);
    sim.insertRawItemV2(A, { id: 7 });
    expect(await walkV2(sim, {})).toContainEqual({ id: 7 });
    expect(sim.jobsV2(A)).toHaveLength(4);
  });
});

describe('serving one API version', () => {
  it("answers the other version's path with FastAPI's route 404", async () => {
    for (const [apis, served, missing] of [
      [['v1'], V1, V2],
      [['v2'], V2, V1],
    ] as const) {
      const sim = await start({ apis: [...apis] });
      expect((await get(sim, served, { project_id: A })).status).toBe(200);
      const res = await get(sim, missing, { project_id: A });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ detail: 'Not Found' });
    }
  });

  it('answers a project-level 404 where a version does not know the project', async () => {
    const sim = await start({ projects: [{ id: A, jobs: 3, apis: ['v1'] }] });
    expect((await get(sim, V1, { project_id: A })).status).toBe(200);
    const res = await get(sim, V2, { project_id: A });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: 'Project not found' });
  });

  it('refuses unknown API names', async () => {
    await expect(startSimulator({ projects: [], apis: ['v3' as 'v1'] })).rejects.toThrow(/unknown API "v3"/);
  });

  it('takes --apis on the command line', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const done = runSimulatorCli(['--port', '0', '--projects', '1', '--jobs', '4', '--apis', 'v2'], {
      write: (line) => lines.push(line),
      signal: controller.signal,
    });
    await expect.poll(() => lines.some((line) => line.includes('LLAMA_CLOUD_BASE_URL='))).toBe(true);
    expect(lines[0]).toContain(`GET ${V2}`);
    expect(lines[0]).not.toContain(V1);
    const url = /LLAMA_CLOUD_BASE_URL=(\S+)/.exec(lines.join('\n'))?.[1] ?? '';
    const id = simProjectId(1, 0);
    const headers = { authorization: 'Bearer sim-key' };
    expect(((await (await fetch(`${url}${V2}?project_id=${id}`, { headers })).json()) as Page).items).toHaveLength(4);
    expect((await fetch(`${url}${V1}?project_id=${id}`, { headers })).status).toBe(404);
    controller.abort();
    await done;
    await expect(runSimulatorCli(['--apis', 'v3'])).rejects.toThrow(/--apis/);
  });
});
