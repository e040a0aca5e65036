// `--api auto`: per project v2, v1 where the deployment does not serve v2 (or does not know the project
// through it); 401/403 are auth problems, never version signals; the choice is remembered in sync_state.
import { sql } from 'drizzle-orm';
import { afterEach, describe, expect, it } from 'vitest';
import { queryRows } from '../../src/db/connect.ts';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.ts';
import { usePostgres } from '../helpers/fixtures.ts';
import { expectedRaw, storedRaw, sync, testConfig } from '../helpers/harness.ts';
import { detectedVersion, expectedRawV2, runProject } from '../helpers/v2.ts';

const NOW = Date.UTC(2026, 2, 1);
const P = '11111111-1111-4111-8111-111111111111';
const Q = '22222222-2222-4222-8222-222222222222';

const database = usePostgres();
const sims: Simulator[] = [];
afterEach(async () => {
  await Promise.all(sims.splice(0).map((s) => s.stop()));
});

async function start(opts: Partial<SimulatorOptions>): Promise<Simulator> {
  const sim = await startSimulator({ projects: [{ id: P, jobs: 80 }], now: NOW, ...opts });
  sims.push(sim);
  return sim;
}

describe('--api auto', () => {
  it('is the default, and picks v2 where v2 is served', async () => {
    const sim = await start({ apis: ['v2'] });
    const tdb = database();
    const config = testConfig(sim, { projects: [P] });
    expect(config.api).toBe('auto');
    const result = await sync(config, tdb);
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', apiVersion: 'v2', mode: 'full' });
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(sim, P));
    expect(await detectedVersion(tdb.database.db, P)).toBe('v2');
    expect(await runProject(tdb.database.db, result.runId, P)).toMatchObject({ api_version: 'v2' });
  });

  it('falls back to v1 where v2 answers the route 404, and walks v1 in full every time', async () => {
    const sim = await start({ apis: ['v1'] });
    const tdb = database();
    const config = testConfig(sim, { projects: [P] });
    const first = await sync(config, tdb);
    expect(first.projects[0]).toMatchObject({ status: 'succeeded', apiVersion: 'v1', mode: 'full' });
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRaw(sim, P));
    expect(await detectedVersion(tdb.database.db, P)).toBe('v1');
    expect(await queryRows(tdb.database.db, sql`SELECT DISTINCT api_version FROM classify_jobs`)).toEqual([{ api_version: 'v1' }]);

    const second = await sync(config, tdb);
    expect(second.projects[0]).toMatchObject({ status: 'succeeded', apiVersion: 'v1', mode: 'full', jobsSeen: 80 });
  });

  it('tries v1 when v2 does not know the project (project-level 404), and uses it when v1 does', async () => {
    const sim = await start({
      projects: [
        { id: P, jobs: 30, apis: ['v1'] },
        { id: Q, jobs: 20 },
      ],
    });
    const tdb = database();
    const result = await sync(testConfig(sim, { projects: [P, Q] }), tdb);
    expect(result.projects.map((p) => [p.projectId, p.status, p.apiVersion])).toEqual([
      [P, 'succeeded', 'v1'],
      [Q, 'succeeded', 'v2'],
    ]);
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRaw(sim, P));
    expect(await storedRaw(tdb.database.db, Q)).toEqual(expectedRawV2(sim, Q));
    expect(await detectedVersion(tdb.database.db, P)).toBe('v1');
    expect(await detectedVersion(tdb.database.db, Q)).toBe('v2');
  });

  it('reports v2\'s "Project not found" when neither version knows the project, and remembers nothing', async () => {
    const sim = await start({ projects: [{ id: Q, jobs: 5 }] });
    const tdb = database();
    const result = await sync(testConfig(sim, { projects: [P] }), tdb);
    expect(result.status).toBe('failed');
    expect(result.projects[0]?.error).toBe(`HTTP 404 Project not found: check the project id and the base URL (${sim.url})`);
    expect(await detectedVersion(tdb.database.db, P)).toBeUndefined();
    expect(await runProject(tdb.database.db, result.runId, P)).toMatchObject({ status: 'failed', api_version: null });
  });

  it('says so when neither API version is served at the base URL', async () => {
    const sim = await start({ apis: [] });
    const tdb = database();
    const result = await sync(testConfig(sim, { projects: [P] }), tdb);
    expect(result.projects[0]?.error).toBe(
      `neither /api/v2/classify nor /api/v1/classifier/jobs is served at ${sim.url} (both answer 404 Not Found): check LLAMA_CLOUD_BASE_URL`,
    );
  });

  it('treats 401 and 403 as auth problems, not as a reason to try v1', async () => {
    const sim = await start({
      projects: [
        { id: P, jobs: 5 },
        { id: Q, jobs: 5, access: 'forbidden' },
      ],
    });
    const tdb = database();
    const wrongKey = await sync(testConfig(sim, { projects: [P], env: { LLAMA_CLOUD_API_KEY: 'not-the-key' } }), tdb);
    expect(wrongKey.projects[0]?.error).toBe(
      'HTTP 401 Invalid authentication token: check LLAMA_CLOUD_API_KEY (it must be a valid key of this project)',
    );
    expect(sim.stats.requests).toBe(1);
    const forbidden = await sync(testConfig(sim, { projects: [Q] }), tdb);
    expect(forbidden.projects[0]?.error).toMatch(/^HTTP 403 You do not have access to this project: /);
    expect(sim.stats.requests).toBe(2);
    expect(await detectedVersion(tdb.database.db, P)).toBeUndefined();
  });

  it('switches to v2 once the deployment serves it, and moves the remembered version', async () => {
    // The same seeded jobs behind an old (v1-only) and an upgraded (v1+v2) deployment.
    const old = await start({ apis: ['v1'] });
    const upgraded = await start({});
    const tdb = database();
    await sync(testConfig(old, { projects: [P] }), tdb);
    expect(await detectedVersion(tdb.database.db, P)).toBe('v1');

    const result = await sync(testConfig(upgraded, { projects: [P] }), tdb);
    expect(result.projects[0]).toMatchObject({ status: 'succeeded', apiVersion: 'v2', mode: 'full', deleted: 0, inserted: 0, updated: 80 });
    expect(await detectedVersion(tdb.database.db, P)).toBe('v2');
    expect(await storedRaw(tdb.database.db, P)).toEqual(expectedRawV2(upgraded, P));
    expect(await queryRows(tdb.database.db, sql`SELECT DISTINCT api_version FROM classify_jobs`)).toEqual([{ api_version: 'v2' }]);
  });
});

describe('--api v1 / v2 (no detection)', () => {
  it('walks the named version only', async () => {
    const sim = await start({ apis: ['v1'] });
    const tdb = database();
    const v2 = await sync(testConfig(sim, { projects: [P], api: 'v2' }), tdb);
    expect(v2.projects[0]?.error).toBe(
      `${sim.url} does not serve API v2 (GET /api/v2/classify is 404 Not Found): use --api auto, or --api v1 if this deployment speaks it`,
    );
    const v1 = await sync(testConfig(sim, { projects: [P], api: 'v1' }), tdb);
    expect(v1.projects[0]).toMatchObject({ status: 'succeeded', apiVersion: 'v1' });
    expect(await detectedVersion(tdb.database.db, P)).toBeUndefined();
  });
});
