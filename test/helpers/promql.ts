// The metric names a PromQL expression reads, and the expressions of the files under deploy/: enough
// PromQL to check a dashboard or an alert against /metrics, not a parser.

/** Words PromQL reserves between expressions (binary operators, modifiers), never metric names. */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'atan2',
  'inf',
  'nan',
]);

/** The metric names in `expr`: identifiers that are not functions, keywords, labels, durations or strings. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // string literals
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // range and subquery durations
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '') // label lists
    .replace(/\$\{[^}]*\}|\$\w+/g, ''); // Grafana variables outside matchers
  const names = new Set<string>();
  for (const match of bare.matchAll(/(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name = '', call] = match;
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** A Grafana template variable's query: `label_values(metric, label)` reads `metric`; anything else is PromQL. */
export function templateQueryMetrics(query: string): string[] {
  const labelValues = /^\s*label_values\(\s*(.+?)\s*,\s*[a-zA-Z_]\w*\s*\)\s*$/.exec(query);
  if (labelValues) return metricNames(labelValues[1] ?? '');
  if (/^\s*label_values\(\s*[a-zA-Z_]\w*\s*\)\s*$/.test(query)) return [];
  return metricNames(query);
}

/**
 * The `expr:` values of a Prometheus rules file, one-line or block (`expr: |`), without a YAML
 * parser: every rule of the shipped file is found, or the count check next to it fails.
 */
export function ruleExpressions(yaml: string): string[] {
  const lines = yaml.split('\n');
  const exprs: string[] = [];
  lines.forEach((line, i) => {
    const match = /^(\s*)(?:- )?expr:\s*(.*)$/.exec(line);
    if (!match) return;
    const [, indent = '', value = ''] = match;
    if (/^[|>][-+]?$/.test(value.trim())) {
      const block: string[] = [];
      for (const next of lines.slice(i + 1)) {
        if (next.trim() !== '' && next.search(/\S/) <= indent.length) break;
        block.push(next.trim());
      }
      exprs.push(block.join(' ').trim());
    } else {
      exprs.push(value.trim().replace(/^(['"])(.*)\1$/, '$2'));
    }
  });
  return exprs;
}
