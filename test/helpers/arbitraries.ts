// fast-check generators of valid v1 classify jobs (the shape of API-NOTES.md), with the facts a test
// needs to check them: each timestamp's instant in microseconds, whatever form it was written in.
import fc from 'fast-check';

/** Any text a valid item may hold: every Unicode code point (NUL included), no lone surrogates. */
export const text = (maxLength = 30) => fc.string({ unit: 'binary', maxLength });

/** The item as it should read after storage: every NUL removed, in strings and keys. */
export function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll('\u0000', '');
  if (Array.isArray(value)) return value.map(withoutNul);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replaceAll('\u0000', ''), withoutNul(v)]));
  }
  return value;
}

export interface GeneratedTimestamp {
  text: string;
  /** Microseconds since the epoch that `text` denotes (Postgres' precision). */
  micros: bigint;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** An ISO 8601 date-time in one of the forms the API emits: Z, an offset, no zone (UTC), 0-6 fraction digits. */
export const timestamp: fc.Arbitrary<GeneratedTimestamp> = fc
  .record({
    ms: fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2200, 0, 1) }),
    extraMicros: fc.integer({ min: 0, max: 999 }),
    digits: fc.integer({ min: 0, max: 6 }),
    zone: fc.oneof(
      fc.constant('Z' as const),
      fc.constant('none' as const),
      fc.integer({ min: -12 * 4, max: 14 * 4 }).map((q) => q * 15),
    ),
    separator: fc.constantFrom('T', ' '),
  })
  .map(({ ms, extraMicros, digits, zone, separator }) => {
    const offsetMinutes = typeof zone === 'number' ? zone : 0;
    const local = new Date(ms + offsetMinutes * 60_000);
    const micros6 = String(local.getUTCMilliseconds() * 1000 + extraMicros).padStart(6, '0');
    const fraction = digits > 0 ? `.${micros6.slice(0, digits)}` : '';
    const sign = offsetMinutes < 0 ? '-' : '+';
    const abs = Math.abs(offsetMinutes);
    const suffix = zone === 'Z' ? 'Z' : zone === 'none' ? '' : `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
    const text =
      `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}${separator}` +
      `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${fraction}${suffix}`;
    const wholeSecondsMs = ms - local.getUTCMilliseconds();
    const micros = BigInt(wholeSecondsMs) * 1000n + BigInt(digits > 0 ? Number(micros6.slice(0, digits).padEnd(6, '0')) : 0);
    return { text, micros };
  });

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const KNOWN_KEYS = [
  'id',
  'project_id',
  'user_id',
  'rules',
  'status',
  'created_at',
  'updated_at',
  'effective_at',
  'error_message',
  'job_record_id',
  'mode',
  'parsing_configuration',
];

export interface GeneratedJob {
  /** The item as received (after a JSON round trip, as from the wire). */
  item: Record<string, unknown>;
  times: Partial<Record<'created_at' | 'updated_at' | 'effective_at', bigint | null>>;
}

/** A valid v1 item of `projectId` whose id starts with `idPrefix` (so a page can hold unique ids). */
export function job(projectId: string, idPrefix: string): fc.Arbitrary<GeneratedJob> {
  const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(fc.option(arb, { nil: null }), { nil: undefined });
  return fc
    .record({
      idTail: text(12).map((s) => s.replaceAll('\u0000', '')),
      user_id: text(),
      rules: fc.array(fc.record({ type: text(50), description: text(500) }), { maxLength: 5 }),
      // Any non-empty string (once NUL is removed): unknown values, "toString" and "__proto__" too.
      status: fc.oneof(
        fc.constantFrom('PENDING', 'SUCCESS', 'ERROR', 'PARTIAL_SUCCESS', 'CANCELLED', 'toString', 'constructor', '__proto__'),
        text().filter((s) => s.replaceAll('\u0000', '').length > 0),
      ),
      created_at: optional(timestamp),
      updated_at: optional(timestamp),
      effective_at: fc.option(timestamp, { nil: undefined }),
      error_message: optional(text(200)),
      job_record_id: optional(text()),
      mode: optional(fc.oneof(fc.constantFrom('FAST', 'MULTIMODAL'), text())),
      parsing_configuration: optional(
        fc.record(
          {
            lang: optional(fc.oneof(fc.constantFrom('en', 'de', 'ch_sim', 'rs_latin'), text(8))),
            max_pages: optional(int32),
            target_pages: optional(fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 20 })),
          },
          { requiredKeys: [] },
        ),
      ),
      // Keys that are also Object.prototype's names are data too ("__proto__" included).
      extra: fc.dictionary(
        fc
          .oneof(text(10), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty'))
          .filter((k) => !KNOWN_KEYS.includes(k.replaceAll('\u0000', ''))),
        fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
        { maxKeys: 3 },
      ),
    })
    .map(({ idTail, extra, created_at, updated_at, effective_at, ...rest }) => {
      const raw: Record<string, unknown> = { ...extra, id: `${idPrefix}${idTail}`, project_id: projectId };
      const times: GeneratedJob['times'] = {};
      for (const [key, value] of Object.entries(rest)) if (value !== undefined) raw[key] = value;
      for (const [key, t] of [
        ['created_at', created_at],
        ['updated_at', updated_at],
        ['effective_at', effective_at],
      ] as const) {
        if (t === undefined) continue;
        raw[key] = t === null ? null : t.text;
        times[key] = t === null ? null : t.micros;
      }
      // What a client receives is JSON text: model it (-0 becomes 0, undefined members vanish).
      return { item: JSON.parse(JSON.stringify(raw)) as Record<string, unknown>, times };
    });
}

/** The outcome each v1 status means (README "Tables"); anything else is 'unknown'. */
export function expectedOutcome(status: string): string {
  const known: [string, string][] = [
    ['SUCCESS', 'succeeded'],
    ['ERROR', 'failed'],
    ['PARTIAL_SUCCESS', 'partial'],
    ['CANCELLED', 'cancelled'],
    ['PENDING', 'in_progress'],
  ];
  return known.find(([s]) => s === status)?.[1] ?? 'unknown';
}
