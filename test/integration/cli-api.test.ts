// The command line as an operator meets it: --api (auto by default), --full, and what each run prints.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.ts';
import { EXIT, type Io } from '../../src/commands/shared.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';

const P = '11111111-1111-4111-8111-111111111111';

let sim: Simulator | undefined;
let tdb: TestDatabase | undefined;
afterEach(async () => {
  await sim?.stop();
  await tdb?.close();
  sim = undefined;
  tdb = undefined;
});

function capture(env: Record<string, string | undefined> = {}): Io & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        append(chunk.toString());
        done();
      },
    });
  return {
    env,
    stdout: sink((text) => {
      out += text;
    }),
    stderr: sink((text) => {
      err += text;
    }),
    out: () => out,
    err: () => err,
  };
}

describe('classify-sync --api', () => {
  it('documents auto as the default, and --full', async () => {
    const io = capture();
    expect(await main(['--help'], io)).toBe(EXIT.ok);
    expect(io.out()).toContain('--api <auto|v1|v2>     API version to speak (default auto: v2, or v1 where v2 is not served)');
    expect(io.out()).toContain('--full');
  });

  it('refuses an unknown version before doing anything', async () => {
    const io = capture({ LLAMA_CLOUD_API_KEY: 'k' });
    expect(await main(['sync', '--project', P, '--api', 'v3'], io)).toBe(EXIT.cannotRun);
    expect(io.err()).toMatch(/^classify-sync: --api: .*"v1".*"v2".*"auto"/);
  });

  it('syncs v2 in full, then incrementally without deletions, then in full with them (--full)', async () => {
    sim = await startSimulator({ projects: [{ id: P, jobs: 300 }] });
    tdb = await openTestDatabase('postgres');
    const env = { DATABASE_URL: tdb.url, LLAMA_CLOUD_BASE_URL: sim.url, LLAMA_CLOUD_API_KEY: sim.apiKey };
    const args = ['sync', '--project', P, '--log-level', 'silent', '--page-size', '50'];

    const first = capture(env);
    expect(await main(args, first)).toBe(EXIT.ok);
    expect(first.err()).toBe(
      `classify-sync: project ${P} succeeded (v2, full): 6 pages, 300 jobs (300 new, 0 updated, 0 unchanged, 0 deleted), 0 rejected, 0 retries\n`,
    );

    const gone = sim.jobsV2(P)[100]?.id ?? '';
    sim.removeJob(P, gone);
    const second = capture(env);
    expect(await main(args, second)).toBe(EXIT.ok);
    expect(second.err()).toMatch(
      new RegExp(
        `^classify-sync: project ${P} succeeded \\(v2, incremental\\): [12] pages, [45] fewer than a full walk, \\d+ jobs \\(0 new, 0 updated, \\d+ unchanged, 0 deleted\\)`,
      ),
    );

    const third = capture(env);
    expect(await main([...args, '--full'], third)).toBe(EXIT.ok);
    expect(third.err()).toBe(
      `classify-sync: project ${P} succeeded (v2, full): 6 pages, 299 jobs (0 new, 0 updated, 299 unchanged, 1 deleted), 0 rejected, 0 retries\n`,
    );
  });

  it('says which version auto chose, and exits 2 when a project fails', async () => {
    sim = await startSimulator({ projects: [{ id: P, jobs: 20 }], apis: ['v1'] });
    tdb = await openTestDatabase('postgres');
    const env = { DATABASE_URL: tdb.url, LLAMA_CLOUD_BASE_URL: sim.url, LLAMA_CLOUD_API_KEY: sim.apiKey };
    const ok = capture(env);
    expect(await main(['sync', '--project', P, '--log-level', 'silent'], ok)).toBe(EXIT.ok);
    expect(ok.err()).toContain(`project ${P} succeeded (v1, full): 1 pages, 20 jobs`);

    const forced = capture(env);
    expect(await main(['sync', '--project', P, '--log-level', 'silent', '--api', 'v2'], forced)).toBe(EXIT.someFailed);
    expect(forced.err()).toBe(
      `classify-sync: project ${P} failed: ${sim.url} does not serve API v2 (GET /api/v2/classify is 404 Not Found): use --api auto, or --api v1 if this deployment speaks it\n`,
    );
  });
});
