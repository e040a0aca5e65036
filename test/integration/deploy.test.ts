// deploy/: the Grafana dashboard and the Prometheus alert rules read only metrics the worker exports,
// checked against a real scrape of /metrics after a worker run (so labelled series and histograms exist).
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { projectFreshness } from '../../src/db/runs.ts';
import { silentLogger } from '../../src/log.ts';
import { startSimulator, type Simulator } from '../../src/simulator/index.ts';
import { checkHealth, startHealthServer, type HealthServer } from '../../src/worker/health.ts';
import { createMetrics } from '../../src/worker/metrics.ts';
import { createWorker } from '../../src/worker/schedule.ts';
import { useBackend } from '../helpers/fixtures.ts';
import { testConfig } from '../helpers/harness.ts';
import { metricNames, ruleExpressions, templateQueryMetrics } from '../helpers/promql.ts';
import { parsePrometheus } from '../helpers/worker.ts';

const A = 'aaaaaaaa-0000-4000-8000-0000000000d1';
const DASHBOARD = new URL('../../deploy/grafana-dashboard.json', import.meta.url);
const ALERTS = new URL('../../deploy/prometheus-alerts.yml', import.meta.url);
/** Series Prometheus makes itself for every scrape target, not the worker. */
const PROMETHEUS_OWN = new Set(['up']);

interface Panel {
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string }[];
  panels?: Panel[];
}
interface Dashboard {
  __inputs: { name: string; type: string; pluginId: string }[];
  panels: Panel[];
  templating: { list: { name: string; query: string | { query: string } }[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const alerts = readFileSync(ALERTS, 'utf8');

function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Every PromQL expression of the dashboard, by where it is (panel title or variable). */
function dashboardExpressions(): { where: string; metrics: string[] }[] {
  const panels = allPanels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title ?? '?'}"`, metrics: metricNames(t.expr ?? '') })),
  );
  const variables = dashboard.templating.list.map((v) => ({
    where: `variable $${v.name}`,
    metrics: templateQueryMetrics(typeof v.query === 'string' ? v.query : v.query.query),
  }));
  return [...panels, ...variables];
}

let sim: Simulator | undefined;
let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  await sim?.stop();
});

describe('deploy/: dashboard and alert rules', () => {
  const tdb = useBackend('pglite');

  it('finds the metric names of PromQL, so an unknown one cannot slip through', () => {
    expect(
      metricNames(
        'sum by (project, le) (rate(classify_sync_nope_total{status="429", project=~"$project"}[$__rate_interval])) / on (project) group_left up > 36 * 3600',
      ),
    ).toEqual(['classify_sync_nope_total', 'up']);
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket[1h]))) and b offset 1d')).toEqual([
      'a_seconds_bucket',
      'b',
    ]);
    expect(templateQueryMetrics('label_values(classify_sync_unknown, project)')).toEqual(['classify_sync_unknown']);
    expect(
      ruleExpressions(
        '    rules:\n      - alert: X\n        expr: |\n          rate(x_total[5m])\n            > 1\n        for: 5m\n      - expr: "y > 0"\n',
      ),
    ).toEqual(['rate(x_total[5m]) > 1', 'y > 0']);
  });

  it('the dashboard is importable: a Prometheus input, and every panel queries it', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const queried = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThan(10);
    for (const panel of queried) {
      expect({ title: panel.title, datasource: panel.datasource }).toEqual({
        title: panel.title,
        datasource: { type: 'prometheus', uid: '${DS_PROMETHEUS}' },
      });
      expect({ title: panel.title, targets: panel.targets?.length ?? 0 }).not.toEqual({ title: panel.title, targets: 0 });
    }
  });

  it('the alert rules cover stale and failing projects, slow syncs and 429s', () => {
    const names = [...alerts.matchAll(/^\s*- alert: (\S+)$/gm)].map((m) => m[1]);
    expect(names).toEqual([
      'ClassifySyncStale',
      'ClassifySyncFailing',
      'ClassifySyncRunLong',
      'ClassifySyncSlow',
      'ClassifySyncRateLimited',
      'ClassifySyncDown',
    ]);
    // One expression per rule, none lost to the line-based reading.
    expect(ruleExpressions(alerts)).toHaveLength(names.length);
    expect(ruleExpressions(alerts).every((e) => e.length > 0)).toBe(true);
  });

  it('uses only metrics the worker exports on /metrics', async () => {
    // A run with 500s on the way (retried), so the labelled counters and both histograms have series.
    sim = await startSimulator({
      projects: [{ id: A, jobs: 30, faults: { rate: 0.3, kinds: ['500'] } }],
      apis: ['v1'],
      seed: 5,
      now: Date.UTC(2026, 2, 1),
    });
    const config = { ...testConfig(sim, { projects: [A], pageSize: 10 }), schedule: '0 2 * * *' };
    const { database } = tdb();
    const metrics = createMetrics({ projectIds: [A], freshness: () => projectFreshness(database.db, [A]) });
    const worker = createWorker({ config, database, log: silentLogger, metrics, runNow: true });
    await worker.start();
    await worker.inFlight;
    await worker.stop();
    server = await startHealthServer({
      port: 0,
      registry: metrics.registry,
      health: () => checkHealth(database.db, { projectIds: [A], staleAfterHours: 36 }),
      log: silentLogger,
    });
    const res = await fetch(`http://127.0.0.1:${String(server.port)}/metrics`);
    const exported = new Set(parsePrometheus(await res.text()).map((s) => s.name));
    expect(exported.has('classify_sync_http_retries_total')).toBe(true);

    const used = [
      ...dashboardExpressions(),
      ...ruleExpressions(alerts).map((expr) => ({ where: `alert expr ${expr}`, metrics: metricNames(expr) })),
    ];
    const unknown = used.flatMap(({ where, metrics: names }) =>
      names.filter((name) => !exported.has(name) && !PROMETHEUS_OWN.has(name)).map((name) => `${name} (${where})`),
    );
    expect(unknown).toEqual([]);
    // Every worker metric of its own is on the dashboard.
    const onDashboard = new Set(dashboardExpressions().flatMap((e) => e.metrics.map((m) => m.replace(/_(bucket|sum|count)$/, ''))));
    const own = [...exported].filter((m) => m.startsWith('classify_sync_')).map((m) => m.replace(/_(bucket|sum|count)$/, ''));
    expect(own.filter((m) => !onDashboard.has(m))).toEqual([]);
  });
});
