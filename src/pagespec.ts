// v2's page spec: a 1-based list of pages and ranges ("1,3,5-7") ↔ v1's 0-based page array ([0,2,4,5,6]).
// Pure. A spec we cannot read exactly is refused (the item becomes a reject), never guessed at.

/**
 * The highest page a spec may name. No classify job reads that far into a document (the API's
 * default max_pages is 5); a larger number is a bug or a hostile value, and expanding it would
 * cost memory and a huge integer[] per job.
 */
export const MAX_SPEC_PAGE = 10_000;
/** Longer specs are refused before any parsing (a legitimate one is a few dozen characters). */
export const MAX_SPEC_CHARS = 10_000;

export type PageSpecResult = { ok: true; pages: number[] } | { ok: false; reason: string };

// One item: a page ("3") or an inclusive range ("5-7"), spaces allowed around numbers and the hyphen.
const ITEM = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/;

/**
 * Expands a 1-based spec into sorted, distinct, 0-based page numbers. Overlaps and repeats are
 * merged ("1-3,2" is [0,1,2]); a blank spec is the empty list. Refused: page 0, descending ranges
 * ("3-1"), empty items ("1,,2", "1,"), anything but digits, commas, hyphens and spaces, and pages
 * above MAX_SPEC_PAGE. Work is bounded by the spec length, not by the numbers in it.
 */
export function expandPageSpec(spec: string): PageSpecResult {
  if (spec.length > MAX_SPEC_CHARS) return { ok: false, reason: `page spec longer than ${MAX_SPEC_CHARS} characters` };
  if (spec.trim() === '') return { ok: true, pages: [] };
  const ranges: [number, number][] = [];
  for (const item of spec.split(',')) {
    const match = ITEM.exec(item);
    if (!match) {
      const shown = item.trim() === '' ? 'an empty item' : JSON.stringify(item.trim().slice(0, 20));
      return { ok: false, reason: `page spec ${quote(spec)} has ${shown} (expected pages and ranges like "1,3,5-7")` };
    }
    const first = Number(match[1]);
    const last = match[2] === undefined ? first : Number(match[2]);
    if (first < 1) return { ok: false, reason: `page spec ${quote(spec)} names page 0 (pages are numbered from 1)` };
    if (last < first) return { ok: false, reason: `page spec ${quote(spec)} has a descending range ${first}-${last}` };
    if (last > MAX_SPEC_PAGE)
      return { ok: false, reason: `page spec ${quote(spec)} names page ${match[2] ?? match[1]}, above the limit of ${MAX_SPEC_PAGE}` };
    ranges.push([first, last]);
  }
  // Merge before expanding, so "1-10000" repeated a thousand times costs no more than once.
  ranges.sort((a, b) => a[0] - b[0]);
  const pages: number[] = [];
  let next = 1;
  for (const [first, last] of ranges) {
    for (let page = Math.max(first, next); page <= last; page++) pages.push(page - 1);
    next = Math.max(next, last + 1);
  }
  return { ok: true, pages };
}

/** The canonical spec of 0-based pages: 1-based, ascending, runs of 3+ as ranges ("1,3,5-7"). */
export function formatPageSpec(pages: readonly number[]): string {
  for (const page of pages) {
    if (!Number.isInteger(page) || page < 0) throw new RangeError(`not a 0-based page number: ${page}`);
  }
  const sorted = [...new Set(pages)].sort((a, b) => a - b).map((page) => page + 1);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] as number) + 1) j++;
    const first = sorted[i] as number;
    const last = sorted[j] as number;
    if (last - first >= 2) parts.push(`${first}-${last}`);
    else for (let k = i; k <= j; k++) parts.push(String(sorted[k]));
    i = j + 1;
  }
  return parts.join(',');
}

function quote(spec: string): string {
  return JSON.stringify(spec.length > 40 ? `${spec.slice(0, 40)}…` : spec);
}
