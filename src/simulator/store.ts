// The simulator's upstream data: per project, a list of items served in a stable order.
// Item-shape agnostic: it only reads `id` and `created_at`, which v1 and v2 items share.

import type { FaultSpec } from './faults.ts';
import type { V1Job } from './data.ts';
import type { V2Job } from './data-v2.ts';

export type ProjectAccess = 'ok' | 'forbidden' | 'not_found';
export type ApiName = 'v1' | 'v2';

/** Runtime state of one simulated project. */
export interface SimProject {
  readonly id: string;
  readonly organizationId: string | undefined;
  readonly name: string | undefined;
  /** The only key accepted for this project (keys are project-scoped upstream). */
  readonly apiKey: string;
  readonly access: ProjectAccess;
  /** Overrides the simulator-wide fault spec for requests naming this project. */
  faults: FaultSpec | undefined;
  /** The API versions that know this project; the others answer 404 "Project not found". */
  readonly apis: readonly ApiName[];
  readonly v1: ItemList<V1Job>;
  /** The same jobs in v2 shape. */
  readonly v2: ItemList<V2Job>;
}

/** What a filter sees of a served item. */
export interface ServedEntry {
  readonly item: unknown;
  readonly id: string | undefined;
  readonly createdMs: number | null;
}

interface Entry {
  readonly item: unknown;
  /** Injected with insertRawItem: served, but not part of the expected data set. */
  readonly raw: boolean;
  readonly id: string | undefined;
  readonly createdMs: number | null;
  /** Insertion counter: the last tie-breaker, so the order is total. */
  readonly seq: number;
}

/**
 * Items in serving order: created_at descending (missing/unparseable last), then id, then insertion.
 * The sorted view is cached until the next change, so paging a large list stays cheap.
 */
export class ItemList<T extends { id: string }> {
  #entries: Entry[] = [];
  #sorted: { entries: readonly Entry[]; items: readonly unknown[] } | undefined;
  #seq = 0;

  /** Takes ownership of `items` (no copy: seeding 100k jobs stays fast); the last of a repeated id wins. */
  constructor(items: readonly T[] = []) {
    const byId = new Map(items.map((item) => [item.id, item]));
    for (const item of byId.values()) this.#add(item, false);
  }

  /** Adds the item, or replaces the (non-raw) item with the same id. */
  upsert(item: T): void {
    this.#entries = this.#entries.filter((entry) => entry.raw || entry.id !== item.id);
    this.#add(structuredClone(item), false);
  }

  /** Removes every item with this id, raw ones included. */
  remove(id: string): void {
    this.#entries = this.#entries.filter((entry) => entry.id !== id);
    this.#sorted = undefined;
  }

  /** Adds any JSON value as an item (e.g. a malformed job); it is served like the others. */
  insertRaw(item: unknown): void {
    this.#add(structuredClone(item), true);
  }

  /** Everything served (or what `where` keeps), in order. Callers must not mutate the items (they are serialized as they are). */
  served(where?: (entry: ServedEntry) => boolean): readonly unknown[] {
    const { entries, items } = this.#order();
    return where ? entries.filter(where).map((entry) => entry.item) : items;
  }

  /** Deep copy of the regular (non-raw) items, in serving order. */
  items(): T[] {
    return this.#order()
      .entries.filter((entry) => !entry.raw)
      .map((entry) => structuredClone(entry.item) as T);
  }

  #add(item: unknown, raw: boolean): void {
    const record = isRecord(item) ? item : {};
    this.#entries.push({
      item,
      raw,
      id: typeof record.id === 'string' ? record.id : undefined,
      createdMs: typeof record.created_at === 'string' ? parseTimestampMs(record.created_at) : null,
      seq: this.#seq++,
    });
    this.#sorted = undefined;
  }

  #order(): { entries: readonly Entry[]; items: readonly unknown[] } {
    if (!this.#sorted) {
      const entries = [...this.#entries].sort(compareEntries);
      this.#sorted = { entries, items: entries.map((entry) => entry.item) };
    }
    return this.#sorted;
  }
}

function compareEntries(a: Entry, b: Entry): number {
  if (a.createdMs !== b.createdMs) {
    if (a.createdMs === null) return 1;
    if (b.createdMs === null) return -1;
    return b.createdMs - a.createdMs;
  }
  const aId = a.id ?? '';
  const bId = b.id ?? '';
  if (aId !== bId) return aId < bId ? -1 : 1;
  return a.seq - b.seq;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Epoch ms of an ISO 8601 date-time, or null. A timestamp without a zone is UTC (as the API's naive
 * datetimes are); `Date.parse` would read it as local time, hence this parser.
 */
export function parseTimestampMs(text: string): number | null {
  const match = TIMESTAMP.exec(text);
  if (!match) return null;
  const [, year, month, day, hour, minute, second, fraction = '', zone = 'Z'] = match;
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), ms);
  if (zone.toUpperCase() === 'Z') return utc;
  const digits = zone.replace(':', '');
  const offsetMinutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
  return utc - (digits.startsWith('-') ? -offsetMinutes : offsetMinutes) * 60_000;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
