// The per-row baseline of the single-cpu scenario: the writer a first version of this tool would be.
// The same pages fetched the way the sync fetches them (projectPageFetcher, pages() with its one-page
// prefetch) and normalized the same way (normalizePage), then stored with one INSERT per row (each job,
// each rule, each parsing setting) through Drizzle, one transaction per page, into the tables of a
// freshly migrated database. It keeps no run bookkeeping, status history or checkpoint: what it is
// measured for is the cost of storing rows one statement at a time, against the sync's page statement.
import { loadConfig } from '../src/config.ts';
import { connect } from '../src/db/connect.ts';
import { classifyJobParsingSettings, classifyJobRules, classifyJobs } from '../src/db/schema.ts';
import { normalizePage } from '../src/normalize.ts';
import { projectPageFetcher } from '../src/source/client.ts';
import { pages } from '../src/source/pages.ts';
import type { BenchDatabase } from './databases.ts';
import type { SimulatorProcess } from './simulator.ts';

export interface PerRowFigures {
  jobs: number;
  /** Rows inserted: jobs + rules + parsing settings. */
  rows: number;
  pages: number;
  /** Fetching, normalizing and storing every page (connection and migrations excluded). */
  wallMs: number;
  /** CPU of this process meanwhile (PGlite's included: it runs in this process). */
  cpuMs: number;
}

/** Backfills every project of `sim` into `target`, one project after another. */
export async function perRowBackfill(
  sim: SimulatorProcess,
  target: BenchDatabase,
  options: { pageSize: number; api: 'v1' | 'v2' },
): Promise<PerRowFigures> {
  const config = loadConfig(
    { baseUrl: sim.url, projects: sim.projectIds, pageSize: options.pageSize },
    { LLAMA_CLOUD_API_KEY: sim.apiKey },
  );
  const database = await connect({ databaseUrl: target.url, pgliteDir: target.pgliteDir ?? 'unused', maxConnections: 2 });
  const figures: PerRowFigures = { jobs: 0, rows: 0, pages: 0, wallMs: 0, cpuMs: 0 };
  try {
    await database.migrate();
    const { db } = database;
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (const project of config.projects) {
      const fetchPage = projectPageFetcher(config, { ...project, apiKey: sim.apiKey }, options.api);
      for await (const page of pages(fetchPage, { maxPages: config.maxPages })) {
        const normalized = normalizePage(page.items, {
          projectId: project.id,
          organizationId: project.organizationId,
          apiVersion: options.api,
        });
        await db.transaction(async (tx) => {
          for (const { job, rules, parsing } of normalized.jobs) {
            await tx.insert(classifyJobs).values(job);
            for (const rule of rules) await tx.insert(classifyJobRules).values(rule);
            if (parsing) await tx.insert(classifyJobParsingSettings).values(parsing);
            figures.rows += 1 + rules.length + (parsing ? 1 : 0);
          }
        });
        figures.jobs += normalized.jobs.length;
        figures.pages += 1;
      }
    }
    figures.wallMs = performance.now() - started;
    const { user, system } = process.cpuUsage(cpu);
    figures.cpuMs = (user + system) / 1000;
  } finally {
    await database.close();
  }
  return figures;
}
