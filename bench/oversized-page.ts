// Peak RSS of a sync whose API answers the first page with far more items than page_size asked
// for (100 000 items, ~45 MB), the sync in its own process (bench/sync-child.ts) so the figure is
// its own. Reproduces the "more items than page_size" row of docs/reliability.md.
//
//   DATABASE_URL=postgres://… node --import tsx bench/oversized-page.ts [--items 100000] [--projects 1] [--db pglite]
//
// With --projects N, every project gets such a page and the sync walks them N at a time.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSimulator } from '../src/simulator/index.ts';
import { freshDatabase, type DbKind } from './databases.ts';
import type { SyncChildReport } from './protocol.ts';

const SYNC_CHILD = fileURLToPath(new URL('./sync-child.ts', import.meta.url));
const MB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    items: { type: 'string', default: '100000' },
    projects: { type: 'string', default: '1' },
    db: { type: 'string', default: 'postgres' },
  },
});
const items = Number(values.items);
const projects = Array.from({ length: Number(values.projects) }, (_, i) => `ab000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const now = Date.parse('2026-11-01T00:00:00Z');
// A lean valid item (~450 bytes), as in the report: 100 000 of them make a ~45 MB page.
const item = (project: string, i: number) => ({
  id: `big-${String(i).padStart(6, '0')}-0000-4000-8000-${project.slice(-12)}`,
  project_id: project,
  user_id: 'user-1',
  status: 'SUCCESS',
  mode: 'FAST',
  rules: [{ type: 'invoice', description: 'an invoice with a number and a total' }],
  created_at: '2026-10-01T00:00:00Z',
  updated_at: '2026-10-01T00:01:00Z',
  effective_at: '2026-10-01T00:01:00Z',
  error_message: null,
  job_record_id: null,
  parsing_configuration: { lang: 'en', max_pages: 5, target_pages: [0] },
});
const oversized = new Map(projects.map((p) => [p, JSON.stringify({ items: Array.from({ length: items }, (_, i) => item(p, i)) })]));

const sim = await startSimulator({ apis: ['v1'], projects: projects.map((id) => ({ id, jobs: 250 })), now });
// The version probe asks for one item: only list pages proper are replaced. --items 0: a plain
// sync of the project's 250 jobs, for comparison.
if (items > 0)
  sim.setOnPage(({ projectId, pageIndex, body }) => (pageIndex === 0 && body.items.length > 1 ? oversized.get(projectId) : undefined));
const db = await freshDatabase(values.db as DbKind, process.env.DATABASE_URL);
try {
  const env: NodeJS.ProcessEnv = { ...process.env, LLAMA_CLOUD_BASE_URL: sim.url, LLAMA_CLOUD_API_KEY: sim.apiKey };
  delete env.DATABASE_URL;
  if (db.url) env.DATABASE_URL = db.url;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      SYNC_CHILD,
      ...projects.flatMap((p) => ['--project', p]),
      '--page-size',
      '100',
      '--concurrency',
      String(projects.length),
      ...(db.pgliteDir ? ['--pglite-dir', db.pgliteDir] : []),
    ],
    { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  let report: SyncChildReport | undefined;
  child.on('message', (message) => {
    report = message as SyncChildReport;
  });
  await new Promise((resolve) => child.once('close', resolve));
  const served = sim.stats.pages;
  process.stdout.write(
    `${JSON.stringify({
      items,
      projects: projects.length,
      pageMB: +(Buffer.byteLength(oversized.get(projects[0] as string) ?? '') / MB).toFixed(1),
      db: db.kind,
      status: report?.status,
      inserted: report?.inserted,
      pagesServed: served,
      peakRssMB: report && Math.round(report.maxRssBytes / MB),
    })}\n`,
  );
} finally {
  await db.drop();
  await sim.stop();
}
