// "Did you mean …": the known name closest to a mistyped one, for unknown flags, commands and config keys.

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

const folded = (name: string) => name.toLowerCase().replace(/[-_]/g, '');

/**
 * The candidate `given` most likely meant, if one is close: the same letters but for case, dashes and
 * underscores (`pagesize` → `pageSize`), a few typos (`--concurency`), or one a prefix of the other
 * (`--full-refresh` → `--full`); undefined when none is.
 */
export function closest(given: string, candidates: readonly string[]): string | undefined {
  const g = folded(given);
  let best: { name: string; score: number } | undefined;
  for (const name of candidates) {
    const c = folded(name);
    const score = c === g ? 0 : g.length >= 3 && c.length >= 3 && (g.startsWith(c) || c.startsWith(g)) ? 1 : distance(g, c) + 1;
    if (best === undefined || score < best.score) best = { name, score };
  }
  if (best === undefined) return undefined;
  return best.score <= 1 + Math.max(2, Math.floor(g.length / 3)) ? best.name : undefined;
}
