// The report as one self-contained HTML page: inline CSS and SVG, no script, no network (a CSP meta
// tag forbids both). Every value from the database is escaped: job data comes from upstream.
import { projectLabel, type FreshnessRow, type OutcomeFigures, type Report } from './data.ts';
import { count, dailySeries, duration, OUTCOME_LABELS, OUTCOMES, percent, truncate, when, windowLabel, type OutcomeName } from './text.ts';

const COLORS: Readonly<Record<OutcomeName, string>> = {
  succeeded: '#2b8a3e',
  partial: '#f59f00',
  failed: '#e03131',
  cancelled: '#868e96',
  in_progress: '#4263eb',
  unknown: '#ae3ec9',
};
/** Bottom to top: failures sit on the baseline, where their trend is easiest to read. */
const STACK: readonly OutcomeName[] = ['failed', 'partial', 'cancelled', 'unknown', 'in_progress', 'succeeded'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function escapeHtml(value: unknown): string {
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
        ? String(value)
        : value === null || value === undefined
          ? ''
          : JSON.stringify(value);
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Tagged template: interpolated values are escaped unless wrapped in raw(). */
class Raw {
  constructor(readonly html: string) {}
}
const raw = (html: string) => new Raw(html);
function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    const parts = Array.isArray(value) ? value : [value];
    out += parts.map((v) => (v instanceof Raw ? v.html : escapeHtml(v))).join('') + (strings[i + 1] ?? '');
  });
  return raw(out);
}

const num = (n: number) => Math.round(n * 10) / 10;

/** A round axis maximum at or above `max`: 1, 2, 5, 10, 20, 50, ... */
function niceMax(max: number): number {
  if (max <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((m) => m * step).find((v) => v >= max) ?? 10 * step;
}

function shortDay(day: string): string {
  return `${MONTHS[Number(day.slice(5, 7)) - 1] ?? ''} ${Number(day.slice(8, 10))}`;
}

/** Stacked bars of the outcomes of each day of the window. */
function dailyChart(report: Report, projectId: string): Raw {
  const series = dailySeries(report, projectId);
  if (series.every((d) => d.jobs === 0)) return html`<p class="note">No jobs in the window.</p>`;
  const width = 1040;
  const height = 230;
  const left = 44;
  const right = 8;
  const top = 10;
  const bottom = 26;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const yMax = niceMax(Math.max(...series.map((d) => d.jobs)));
  const band = plotW / series.length;
  const barW = Math.max(1, band * 0.78);
  const y = (v: number) => top + plotH - (v / yMax) * plotH;

  const grid = [0, yMax / 2, yMax].map(
    (v) => html`
    <line x1="${left}" x2="${width - right}" y1="${num(y(v))}" y2="${num(y(v))}" class="grid"/>
    <text x="${left - 6}" y="${num(y(v)) + 4}" class="axis" text-anchor="end">${Number.isInteger(v) ? count(v) : v.toFixed(1)}</text>`,
  );
  const labelEvery = Math.ceil(series.length / 12);
  const bars = series.map((d, i) => {
    const x = left + i * band + (band - barW) / 2;
    let base = 0;
    const rects = STACK.filter((o) => d[o] > 0).map((o) => {
      const y0 = y(base);
      base += d[o];
      const y1 = y(base);
      return html`<rect x="${num(x)}" y="${num(y1)}" width="${num(barW)}" height="${num(Math.max(0.5, y0 - y1))}" fill="${COLORS[o]}"/>`;
    });
    const tip =
      d.jobs === 0
        ? `${d.day}: no jobs`
        : `${d.day}: ${count(d.jobs)} jobs; ${OUTCOMES.filter((o) => d[o] > 0)
            .map((o) => `${count(d[o])} ${OUTCOME_LABELS[o]}`)
            .join(', ')}` + `; failure rate ${percent(d.failure_rate)}`;
    const label =
      i % labelEvery === 0
        ? html`<text x="${num(left + i * band + band / 2)}" y="${height - 8}" class="axis" text-anchor="middle">${shortDay(d.day)}</text>`
        : '';
    return html`<g><title>${tip}</title><rect x="${num(left + i * band)}" y="${top}" width="${num(band)}" height="${plotH}" class="hit"/>${rects}</g>${label}`;
  });
  return html`<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${`Daily outcomes of ${projectLabel(report, projectId)}`}">
    ${grid}${bars}
  </svg>`;
}

/** One horizontal bar of a project's outcome shares. */
function shareBar(o: OutcomeFigures): Raw {
  if (o.jobs === 0) return html`<div class="sharebar empty"></div>`;
  const parts = STACK.slice()
    .reverse()
    .filter((name) => o[name] > 0)
    .map(
      (name) =>
        html`<span style="${`width:${((o[name] / o.jobs) * 100).toFixed(2)}%;background:${COLORS[name]}`}" title="${`${count(o[name])} ${OUTCOME_LABELS[name]}`}"></span>`,
    );
  return html`<div class="sharebar">${parts}</div>`;
}

function legend(): Raw {
  return html`<ul class="legend">${OUTCOMES.map((o) => html`<li><i style="${`background:${COLORS[o]}`}"></i>${OUTCOME_LABELS[o]}</li>`)}</ul>`;
}

function freshnessLine(f: FreshnessRow | undefined): Raw {
  if (!f || f.last_status === null) return html`never synced`;
  const success = f.last_success_at === null ? 'never succeeded' : `last success ${duration(f.age_seconds)} ago`;
  return html`${statusBadge(f.last_status)} ${success}`;
}

function statusBadge(status: string | null): Raw {
  const kind = status === 'succeeded' ? 'ok' : status === 'failed' ? 'bad' : status === 'running' ? 'run' : 'other';
  return html`<span class="${`badge ${kind}`}">${status ?? 'never'}</span>`;
}

function outcomeBadge(outcome: string): Raw {
  const color = COLORS[outcome as OutcomeName] ?? '#495057';
  return html`<span class="badge" style="${`color:${color};border-color:${color}`}">${OUTCOME_LABELS[outcome as OutcomeName] ?? outcome}</span>`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2127; --muted: #5c6370; --line: #e3e6eb; --bg: #f5f6f8; --card: #fff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 24px 48px; }
header h1 { margin: 0 0 4px; font-size: 26px; letter-spacing: -0.01em; }
header p { margin: 0; color: var(--muted); }
h2 { font-size: 17px; margin: 34px 0 10px; }
h3 { font-size: 14px; margin: 0 0 6px; }
.note { color: var(--muted); font-size: 12.5px; margin: 6px 0 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px; margin-top: 20px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card h3 { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.card .big { font-size: 28px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .big.bad { color: #c92a2a; }
.card .sub { color: var(--muted); font-size: 12.5px; }
.sharebar { display: flex; height: 8px; border-radius: 4px; overflow: hidden; background: var(--line); margin: 10px 0 6px; }
.sharebar span { display: block; height: 100%; }
.panel { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; margin-bottom: 12px; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-size: 11.5px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.02em; vertical-align: bottom; }
tbody tr:last-child td { border-bottom: 0; }
td.n, th.n { text-align: right; }
td.n { white-space: nowrap; }
td.wrap { overflow-wrap: anywhere; }
td.name { white-space: nowrap; font-weight: 550; }
code.id { display: block; font-size: 11px; font-weight: 400; color: var(--muted); }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 12px; }
.grid2 .panel { margin-bottom: 0; }
code { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.example { display: block; color: var(--muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 7px; border: 1px solid; border-radius: 999px; font-size: 12px; white-space: nowrap; }
.badge.ok { color: #2b8a3e; } .badge.bad { color: #c92a2a; } .badge.run { color: #3b5bdb; } .badge.other { color: var(--muted); }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 14px; padding: 0; margin: 0 0 8px; color: var(--muted); font-size: 12.5px; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
svg { display: block; width: 100%; height: auto; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { fill: var(--muted); font-size: 11px; }
svg .empty { fill: var(--muted); font-size: 14px; }
svg .hit { fill: transparent; }
svg g:hover .hit { fill: rgba(0,0,0,0.04); }
.meter { display: inline-block; width: 70px; height: 6px; background: var(--line); border-radius: 3px; margin-left: 8px; vertical-align: 1px; overflow: hidden; }
.meter span { display: block; height: 100%; background: #4263eb; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
`;

export function renderHtml(report: Report): string {
  const label = (id: string) => projectLabel(report, id);
  const idNote = (id: string) => (label(id) === id ? '' : html`<code class="id">${id}</code>`);
  const fresh = new Map(report.freshness.map((f) => [f.project_id, f]));
  const summary = report.outcomes.map(
    (o) => html`
    <div class="card">
      <h3 title="${o.project_id}">${label(o.project_id)}</h3>
      <div class="${(o.failure_rate ?? 0) >= 0.1 ? 'big bad' : 'big'}">${percent(o.failure_rate)}</div>
      <div class="sub">failure rate · ${count(o.jobs)} jobs · p50 ${duration(o.p50_duration_seconds)} · p95 ${duration(o.p95_duration_seconds)}</div>
      ${shareBar(o)}
      <div class="sub">${freshnessLine(fresh.get(o.project_id))}</div>
    </div>`,
  );

  const outcomesTable = html`<div class="panel"><table>
    <thead><tr><th>project</th><th class="n">jobs</th>${OUTCOMES.map((o) => html`<th class="n">${OUTCOME_LABELS[o]}</th>`)}
      <th class="n">failure rate</th><th class="n">p50 duration</th><th class="n">p95 duration</th></tr></thead>
    <tbody>${report.outcomes.map(
      (o) => html`<tr><td class="name" title="${o.project_id}">${label(o.project_id)}</td><td class="n">${count(o.jobs)}</td>
      ${OUTCOMES.map((name) => html`<td class="n">${count(o[name])}</td>`)}
      <td class="n">${percent(o.failure_rate)}</td><td class="n">${duration(o.p50_duration_seconds)}</td><td class="n">${duration(o.p95_duration_seconds)}</td></tr>`,
    )}
    </tbody></table>
    <p class="note">Failure rate = failed ÷ finished jobs (succeeded, failed, partial, cancelled). Durations are those of finished jobs, from creation to last update.</p></div>`;

  const charts = report.projects.map(
    (p) => html`<div class="panel"><h3>${label(p.project_id)}</h3>${dailyChart(report, p.project_id)}</div>`,
  );

  const errorPanels = report.projects.map((p) => {
    const rows = report.top_errors.filter((e) => e.project_id === p.project_id);
    return html`<div class="panel"><h3>${label(p.project_id)}</h3>${
      rows.length === 0
        ? html`<p class="note">No error messages in the window.</p>`
        : html`<table>
      <thead><tr><th class="n">#</th><th>error</th><th>outcome</th><th class="n">jobs</th><th>first seen</th><th>last seen</th></tr></thead>
      <tbody>${rows.map(
        (e) => html`<tr><td class="n">${e.rank}</td>
        <td class="wrap"><code>${e.error_pattern}</code>${e.example === e.error_pattern ? '' : html`<span class="example">e.g. ${truncate(e.example, 240)}</span>`}</td>
        <td>${outcomeBadge(e.outcome)}</td><td class="n">${count(e.jobs)}</td><td class="n">${when(e.first_seen)}</td><td class="n">${when(e.last_seen)}</td></tr>`,
      )}
      </tbody></table>`
    }</div>`;
  });

  const rules = report.projects.map((p) => {
    const rows = report.rule_types.filter((r) => r.project_id === p.project_id);
    return html`<div class="panel"><h3>${label(p.project_id)}</h3>${
      rows.length === 0
        ? html`<p class="note">No jobs in the window.</p>`
        : html`<table>
      <thead><tr><th>rule type</th><th class="n">jobs</th><th class="n">share of jobs</th><th class="n">failed</th><th class="n">failure rate</th></tr></thead>
      <tbody>${rows.map(
        (r) => html`<tr><td class="wrap"><code>${r.rule_type}</code></td><td class="n">${count(r.jobs)}</td>
        <td class="n">${percent(r.share)}<span class="meter"><span style="${`width:${(r.share * 100).toFixed(1)}%`}"></span></span></td>
        <td class="n">${count(r.failed)}</td><td class="n">${percent(r.failure_rate)}</td></tr>`,
      )}
      </tbody></table>`
    }</div>`;
  });

  const freshness = html`<div class="panel"><table>
    <thead><tr><th>project</th><th>last success</th><th class="n">age</th><th>last sync</th><th class="n">jobs stored</th><th>last error</th></tr></thead>
    <tbody>${report.freshness.map(
      (f) => html`<tr><td class="name">${label(f.project_id)}${idNote(f.project_id)}</td>
      <td class="n">${when(f.last_success_at)}</td><td class="n">${f.age_seconds === null ? 'never' : duration(f.age_seconds)}</td>
      <td>${statusBadge(f.last_status)} <span class="example">${when(f.last_sync_at)}</span></td>
      <td class="n">${count(f.jobs_stored)}</td><td class="wrap">${f.last_error ?? ''}</td></tr>`,
    )}
    </tbody></table></div>`;

  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Classify jobs report: ${windowLabel(report)}</title>
<style>${raw(STYLE)}</style>
</head>
<body>
<main>
<header>
  <h1>Classify jobs report</h1>
  <p>Jobs created in the ${windowLabel(report)} · ${report.projects.length} project${report.projects.length === 1 ? '' : 's'} · generated ${when(report.generated_at)}</p>
</header>
${
  report.projects.length === 0
    ? html`<p class="note">No projects in the database yet: run <code>classify-sync sync</code> first.</p>`
    : html`
<section class="cards">${summary}</section>
<section id="outcomes"><h2>Outcomes by project</h2>${outcomesTable}</section>
<section id="daily"><h2>Daily outcomes</h2>${legend()}${charts}</section>
<section id="errors"><h2>Top errors</h2><p class="note">Ids and numbers in messages are replaced by &lt;uuid&gt;, &lt;hex&gt; and &lt;n&gt;, so one kind of error is one row.</p>${errorPanels}</section>
<section id="rule-types"><h2>Rule types</h2><p class="note">Jobs with at least one rule of the type, and their share of the project's jobs.</p><div class="grid2">${rules}</div></section>
<section id="freshness"><h2>Sync freshness</h2>${freshness}</section>`
}
<footer>Database: ${report.database}. The figures are those of the views classify_outcomes_daily, classify_top_errors, classify_rule_type_usage and sync_freshness over the same window (see docs/queries.md).</footer>
</main>
</body>
</html>
`;
  return page.html;
}
