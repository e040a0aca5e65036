// `classify-sync demo`: the bundled simulator in-process → a real sync into an embedded database → a summary.
// Needs no key, no server and no setup; it never touches DATABASE_URL.
import { loadConfig, type ConfigOverrides } from '../config.ts';
import { openDatabase } from '../db/connect.ts';
import { createLogger } from '../log.ts';
import { loadReport } from '../report/data.ts';
import { renderTable } from '../report/table.ts';
import { simProjectId, startSimulator } from '../simulator/index.ts';
import { runSync } from '../sync/run.ts';
import { printResult, selfCommand, terminalColumns, type Io } from './shared.ts';

const DAY = 86_400_000;
const DEMO_SEED = 42;
/** The demo's closing report covers the last 30 days, like `classify-sync report`. */
const REPORT_DAYS = 30;
export const DEMO_PGLITE_DIR = './data/demo';

export async function runDemo(overrides: ConfigOverrides, io: Io): Promise<number> {
  const projects = [
    { id: simProjectId(DEMO_SEED, 0), name: 'acme', jobs: 420 },
    { id: simProjectId(DEMO_SEED, 1), name: 'globex (flaky API)', jobs: 260, faults: { rate: 0.3, retryAfterSeconds: 0.2 } },
    { id: simProjectId(DEMO_SEED, 2), name: 'initech (no access)', jobs: 50, access: 'forbidden' as const },
  ];
  // Data is dated relative to the start of today, so re-running the demo the same day changes nothing.
  const now = Math.floor(Date.now() / DAY) * DAY;
  const simulator = await startSimulator({ projects, seed: DEMO_SEED, apiKey: 'demo-key', now });
  try {
    const config = loadConfig(
      {
        ...overrides,
        projects: undefined,
        pgliteDir: overrides.pgliteDir ?? DEMO_PGLITE_DIR,
        logLevel: overrides.logLevel ?? 'silent',
        baseUrl: simulator.url,
        databaseUrl: undefined,
      },
      // Only the simulator's key; and who launched it, for the hints (config.launcher).
      { LLAMA_CLOUD_API_KEY: simulator.apiKey, npm_config_user_agent: io.env.npm_config_user_agent },
    );
    const demoConfig = Object.freeze({
      ...config,
      projects: projects.map((p) => ({
        id: p.id,
        name: p.name,
        organizationId: undefined,
        apiKeyEnv: 'LLAMA_CLOUD_API_KEY',
        apiKey: simulator.apiKey,
      })),
      // Fast retries: the simulator's faults are quick to recover from.
      retry: { ...config.retry, minDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 300 },
    });
    const log = createLogger({ level: demoConfig.logLevel, secrets: demoConfig.secrets, format: demoConfig.logFormat });
    io.stdout.write(
      `Simulated LlamaCloud at ${simulator.url}; syncing ${projects.length} projects into embedded PGlite (${demoConfig.pgliteDir})…\n`,
    );
    const database = await openDatabase(demoConfig, log);
    try {
      const result = await runSync({ config: demoConfig, database, log, trigger: 'demo' });
      io.stdout.write(`\nRun ${result.runId}: ${result.status}\n`);
      printResult(result, { ...io, stderr: io.stdout });
      const report = await loadReport(database.db, {
        projects: projects.map((p) => p.id),
        since: new Date(Date.now() - REPORT_DAYS * DAY),
        now: new Date(),
        names: new Map(projects.map((p) => [p.id, p.name])),
        database: database.description,
        timeoutMs: demoConfig.reportTimeoutMs,
      });
      io.stdout.write(`\n${renderTable(report, { short: true, width: terminalColumns(io.stdout) })}`);
      // Hints in the words that work here: no npx inside the image.
      const command = selfCommand(config.launcher, io.script, process.cwd());
      io.stdout.write(
        `\nThe whole report: ${command} report --pglite-dir ${demoConfig.pgliteDir} (add --format html --out report.html for a page with charts)\n`,
      );
      io.stdout.write(
        `\nThe failed project above is on purpose: its key may not read it (HTTP 403).\n` +
          `Next: point it at LlamaCloud with LLAMA_CLOUD_API_KEY=… DATABASE_URL=postgres://… ${command} sync --project <id>\n`,
      );
    } finally {
      await database.close();
      log.flush();
    }
    return 0;
  } finally {
    await simulator.stop();
  }
}
