// Pure: one API item → the rows of one job (job, rules, parsing settings), or a reject with its reason.
// Nothing here does I/O; the same input always gives the same rows.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ApiVersion } from './config.ts';
import type { JobRow, ParsingRow, RuleRow } from './db/schema.ts';
import { errorMessage } from './errors.ts';
import { expandPageSpec } from './pagespec.ts';
import { scrub } from './scrub.ts';

export interface NormalizedJob {
  job: Omit<JobRow, 'firstSeenAt' | 'syncedAt' | 'lastRunId' | 'deletedAt' | 'contentDigest'>;
  rules: RuleRow[];
  parsing: ParsingRow | undefined;
  /** classify_jobs.content_digest: stands for job, rules and parsing (see contentDigest). */
  digest: Buffer;
}

/**
 * A copy of a JSON value with every object's keys in sorted order. Key order is no content (jsonb
 * ignores it): an item whose keys upstream reordered is unchanged, and must keep its digest.
 */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  const object = value as Record<string, unknown>;
  // fromEntries, as in cleanJson: a key "__proto__" stays data.
  return Object.fromEntries(
    Object.keys(object)
      .sort()
      .map((key) => [key, sortedKeys(object[key])]),
  );
}

/** Bytes of SHA-256 kept as the digest: 128 bits, no accidental collision among any number of jobs. */
const DIGEST_BYTES = 16;

/**
 * The digest of everything the page statement stores of a job: its columns (raw included), its rules
 * and its parsing settings. Any change to what would be stored changes it; the same rows give the same
 * digest in every process and release, until what normalize derives from an item changes, when each
 * job is rewritten once with its new rows.
 */
export function contentDigest(job: NormalizedJob['job'], rules: readonly RuleRow[], parsing: ParsingRow | undefined): Buffer {
  return createHash('sha256')
    .update(JSON.stringify([{ ...job, raw: sortedKeys(job.raw) }, rules, parsing ?? null]))
    .digest()
    .subarray(0, DIGEST_BYTES);
}

function normalizedJob(job: NormalizedJob['job'], rules: RuleRow[], parsing: ParsingRow | undefined): NormalizedJob {
  return { job, rules, parsing, digest: contentDigest(job, rules, parsing) };
}

export interface Reject {
  reason: string;
  /**
   * The item's id when it has a usable one (a string of at most MAX_ID_BYTES): a job that is still
   * listed upstream is not deleted, and an incremental sync asks for it again by id.
   */
  id: string | undefined;
  /** The raw item text (JSON), NULs removed. */
  payload: string;
}

export type Outcome = 'succeeded' | 'failed' | 'partial' | 'cancelled' | 'in_progress' | 'unknown';

/** Status → outcome for every API version, so reports never need to know the version. */
const OUTCOMES: Readonly<Record<string, Outcome>> = {
  SUCCESS: 'succeeded',
  COMPLETED: 'succeeded',
  ERROR: 'failed',
  FAILED: 'failed',
  PARTIAL_SUCCESS: 'partial',
  CANCELLED: 'cancelled',
  PENDING: 'in_progress',
  RUNNING: 'in_progress',
};

export function outcomeOf(status: string): Outcome {
  // Own keys only: a status "toString" or "constructor" must not find Object.prototype's members.
  return Object.hasOwn(OUTCOMES, status) ? (OUTCOMES[status] as Outcome) : 'unknown';
}

const KNOWN_MODES = new Set(['FAST', 'MULTIMODAL']);
// The 86 language codes of the v1 spec.
const KNOWN_LANGS = new Set(
  (
    'af az bs cs cy da de en es et fr ga hr hu id is it ku la lt lv mi ms mt nl no oc pi pl pt ro ' +
    'rs_latin sk sl sq sv sw tl tr uz vi ar fa ug ur bn as mni ru rs_cyrillic be bg uk mn abq ady kbd ava dar inh che lbe ' +
    'lez tab tjk hi mr ne bh mai ang bho mah sck new gom sa bgc th ch_sim ch_tra ja ko ta te kn'
  ).split(' '),
);

/**
 * Postgres text cannot hold U+0000, and lone surrogates are not valid UTF-8: remove / replace them.
 * Then each of `secrets` becomes `***`: an API that echoes a key back (in an error message, in an item
 * it serves) must not get it into a table. Scrubbed last, so a NUL inside a key does not hide it.
 */
export function cleanString(value: string, secrets: readonly string[] = []): string {
  const clean = (value.includes('\u0000') ? value.replaceAll('\u0000', '') : value).toWellFormed();
  return secrets.length > 0 ? scrub(clean, secrets) : clean;
}

/**
 * Nesting deeper than this is no classify job. Refused here, before it exhausts a call stack: this
 * recursion, JSON.stringify (at ~5 000 levels) or Postgres' jsonb parser (max_stack_depth).
 */
export const MAX_JSON_DEPTH = 256;

/**
 * Deep copy of a JSON value with every string (and key) cleaned for Postgres, secrets scrubbed. Deeper
 * than MAX_JSON_DEPTH it throws, or with `cut` puts a marker string there (for a reject's payload).
 */
export function cleanJson(value: unknown, depth = 0, cut = false, secrets: readonly string[] = []): unknown {
  if (depth > MAX_JSON_DEPTH) {
    if (cut) return `(cut: nested deeper than ${MAX_JSON_DEPTH} levels)`;
    throw new RangeError(`nested deeper than ${MAX_JSON_DEPTH} levels`);
  }
  if (typeof value === 'string') return cleanString(value, secrets);
  if (Array.isArray(value)) return value.map((inner) => cleanJson(inner, depth + 1, cut, secrets));
  if (value !== null && typeof value === 'object') {
    // fromEntries defines own properties, so a key "__proto__" stays data (assigning it would set the prototype).
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [cleanString(key, secrets), cleanJson(inner, depth + 1, cut, secrets)]),
    );
  }
  return value;
}

const ISO_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * An ISO 8601 timestamp in the form Postgres reads without guessing: no offset means UTC,
 * fractions are kept to the microsecond (Postgres' precision). Throws on anything else, and on what
 * Postgres would refuse: year 0000 (ISO has it, Postgres' AD years start at 1; a four-digit year
 * cannot pass 294276 AD, the other end of its range) and offsets beyond ±15:59 (Postgres' limit).
 */
export function normalizeTimestamp(value: string): string {
  const m = ISO_TIMESTAMP.exec(value.trim());
  if (!m) throw new Error(`not an ISO 8601 timestamp: ${JSON.stringify(value.slice(0, 60))}`);
  const [, y, mo, d, h, mi, s = '00', frac = '', zone] = m;
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999.
  const check = new Date(0);
  check.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    throw new Error(`not a valid date/time: ${JSON.stringify(value.slice(0, 60))}`);
  }
  if (Number(y) < 1)
    throw new Error(`year 0000 is outside what Postgres stores (years 1 to 294276 AD): ${JSON.stringify(value.slice(0, 60))}`);
  let offset = zone === undefined || zone === 'Z' || zone === 'z' ? 'Z' : zone;
  if (/^[+-]\d{2}$/.test(offset)) offset += ':00';
  else if (/^[+-]\d{4}$/.test(offset)) offset = `${offset.slice(0, 3)}:${offset.slice(3)}`;
  if (offset !== 'Z' && (Number(offset.slice(1, 3)) > 15 || Number(offset.slice(4, 6)) > 59)) {
    throw new Error(`offset ${offset} is outside what Postgres stores (at most ±15:59): ${JSON.stringify(value.slice(0, 60))}`);
  }
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac.slice(0, 7)}${offset}`;
}

/**
 * The longest job id stored, in UTF-8 bytes. Ids are keys of btree indexes (classify_jobs, rules,
 * status changes), whose entries Postgres caps at 2 704 bytes with the other key columns; upstream ids
 * are uuids (36 bytes), so anything near the cap is no id. Longer ones are quarantined without an id.
 */
export const MAX_ID_BYTES = 1024;

const idSchema = z
  .string()
  .min(1)
  .refine((id) => Buffer.byteLength(id) <= MAX_ID_BYTES, {
    error: `longer than ${MAX_ID_BYTES} bytes: no job id is, and Postgres could not index it`,
  });

const INT32_MAX = 2_147_483_647;
const int32 = z
  .number()
  .int()
  .min(-INT32_MAX - 1)
  .max(INT32_MAX);
const timestampField = z.string().transform((value, ctx) => {
  try {
    return normalizeTimestamp(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: errorMessage(error) });
    return z.NEVER;
  }
});

const ruleSchema = z.looseObject({ type: z.string(), description: z.string() });

const v1ItemSchema = z.looseObject({
  id: idSchema,
  project_id: z.string().min(1),
  user_id: z.string(),
  rules: z.array(ruleSchema),
  status: z.string().min(1),
  created_at: timestampField.nullish(),
  updated_at: timestampField.nullish(),
  effective_at: timestampField.nullish(),
  error_message: z.string().nullish(),
  job_record_id: z.string().nullish(),
  mode: z.string().nullish(),
  parsing_configuration: z
    .looseObject({
      lang: z.string().nullish(),
      max_pages: int32.nullish(),
      target_pages: z.array(int32).nullish(),
    })
    .nullish(),
});

export interface NormalizeContext {
  projectId: string;
  organizationId: string | undefined;
  apiVersion: ApiVersion;
  /** Values the API may echo back that no table may hold (the API keys sent): stored as `***`. */
  secrets?: readonly string[] | undefined;
}

export type NormalizeResult = { ok: true; value: NormalizedJob; warnings: string[] } | { ok: false; reject: Reject };

function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid item';
  const path = issue.path.length > 0 ? issue.path.join('.') : 'item';
  return `${path}: ${issue.message}`;
}

function payloadOf(item: unknown, secrets: readonly string[]): string {
  try {
    return JSON.stringify(cleanJson(item, 0, true, secrets)) ?? String(item);
  } catch {
    return cleanString(String(item), secrets);
  }
}

function usableId(id: unknown, secrets: readonly string[]): string | undefined {
  if (typeof id !== 'string') return undefined;
  const clean = cleanString(id, secrets);
  return idSchema.safeParse(clean).success ? clean : undefined;
}

function reject(item: unknown, reason: string, ctx: NormalizeContext): NormalizeResult {
  const secrets = ctx.secrets ?? [];
  const id = (item as { id?: unknown } | null)?.id;
  return {
    ok: false,
    reject: {
      reason: cleanString(reason, secrets),
      id: usableId(id, secrets),
      payload: payloadOf(item, secrets),
    },
  };
}

const nul = <T>(value: T | null | undefined): T | null => value ?? null;

/** Normalizes one v1 item of the project being walked. */
export function normalizeV1Item(item: unknown, ctx: NormalizeContext): NormalizeResult {
  const raw = cleanJson(item, 0, false, ctx.secrets);
  const parsed = v1ItemSchema.safeParse(raw);
  if (!parsed.success) return reject(item, describeIssue(parsed.error), ctx);
  const it = parsed.data;
  if (it.project_id !== ctx.projectId) {
    return reject(item, `project_id ${it.project_id} is not the project being synced (${ctx.projectId})`, ctx);
  }
  const warnings: string[] = [];
  const outcome = outcomeOf(it.status);
  if (outcome === 'unknown') warnings.push(`unknown status ${JSON.stringify(it.status)} (stored as received, outcome 'unknown')`);
  if (it.mode != null && !KNOWN_MODES.has(it.mode)) warnings.push(`unknown mode ${JSON.stringify(it.mode)} (stored as received)`);
  const pc = it.parsing_configuration;
  if (pc?.lang != null && !KNOWN_LANGS.has(pc.lang)) warnings.push(`unknown lang ${JSON.stringify(pc.lang)} (stored as received)`);

  return {
    ok: true,
    warnings,
    value: normalizedJob(
      {
        id: it.id,
        projectId: it.project_id,
        organizationId: ctx.organizationId ?? null,
        apiVersion: ctx.apiVersion,
        status: it.status,
        outcome,
        mode: nul(it.mode),
        userId: it.user_id,
        errorMessage: nul(it.error_message),
        jobRecordId: nul(it.job_record_id),
        createdAt: nul(it.created_at),
        effectiveAt: nul(it.effective_at),
        updatedAt: nul(it.updated_at),
        raw,
      },
      it.rules.map((r, position) => ({ jobId: it.id, position, type: r.type, description: r.description })),
      pc == null
        ? undefined
        : {
            jobId: it.id,
            lang: nul(pc.lang),
            maxPages: nul(pc.max_pages),
            targetPages: nul(pc.target_pages),
            targetPagesSpec: null,
          },
    ),
  };
}

const KNOWN_DOCUMENT_INPUT_TYPES = new Set(['url', 'file_id', 'parse_job_id']);
const ISO_639_1 = /^[a-z]{2}$/;

const v2ItemSchema = z.looseObject({
  id: idSchema,
  project_id: z.string().min(1),
  user_id: z.string(),
  status: z.string().min(1),
  file_input: z.string(),
  document_input_type: z.string(),
  configuration: z.looseObject({
    rules: z.array(ruleSchema),
    mode: z.string().nullish(),
    parsing_configuration: z
      .looseObject({
        lang: z.string().nullish(),
        max_pages: int32.nullish(),
        /** 1-based page spec, e.g. "1,3,5-7". */
        target_pages: z.string().nullish(),
      })
      .nullish(),
  }),
  result: z
    .looseObject({
      type: z.string().nullish(),
      confidence: z.number().nullish(),
      reasoning: z.string().nullish(),
    })
    .nullish(),
  error_message: z.string().nullish(),
  configuration_id: z.string().nullish(),
  transaction_id: z.string().nullish(),
  parse_job_id: z.string().nullish(),
  created_at: timestampField.nullish(),
  updated_at: timestampField.nullish(),
});

/** Normalizes one v2 item (GET /api/v2/classify) of the project being walked into the same rows as v1. */
export function normalizeV2Item(item: unknown, ctx: NormalizeContext): NormalizeResult {
  const raw = cleanJson(item, 0, false, ctx.secrets);
  const parsed = v2ItemSchema.safeParse(raw);
  if (!parsed.success) return reject(item, describeIssue(parsed.error), ctx);
  const it = parsed.data;
  if (it.project_id !== ctx.projectId) {
    return reject(item, `project_id ${it.project_id} is not the project being synced (${ctx.projectId})`, ctx);
  }
  const pc = it.configuration.parsing_configuration;
  let targetPages: number[] | null = null;
  if (pc?.target_pages != null) {
    const expanded = expandPageSpec(pc.target_pages);
    if (!expanded.ok) return reject(item, `configuration.parsing_configuration.target_pages: ${expanded.reason}`, ctx);
    targetPages = expanded.pages.length > 0 ? expanded.pages : null;
  }
  const warnings: string[] = [];
  const outcome = outcomeOf(it.status);
  if (outcome === 'unknown') warnings.push(`unknown status ${JSON.stringify(it.status)} (stored as received, outcome 'unknown')`);
  const mode = it.configuration.mode;
  if (mode != null && !KNOWN_MODES.has(mode)) warnings.push(`unknown mode ${JSON.stringify(mode)} (stored as received)`);
  if (pc?.lang != null && !ISO_639_1.test(pc.lang))
    warnings.push(`lang ${JSON.stringify(pc.lang)} is not an ISO 639-1 code (stored as received)`);
  if (!KNOWN_DOCUMENT_INPUT_TYPES.has(it.document_input_type)) {
    warnings.push(`unknown document_input_type ${JSON.stringify(it.document_input_type)} (stored as received)`);
  }
  const confidence = it.result?.confidence;
  if (confidence != null && !(confidence >= 0 && confidence <= 1)) {
    warnings.push(`result.confidence ${confidence} is outside 0..1 (stored as received)`);
  }

  return {
    ok: true,
    warnings,
    value: normalizedJob(
      {
        id: it.id,
        projectId: it.project_id,
        organizationId: ctx.organizationId ?? null,
        apiVersion: ctx.apiVersion,
        status: it.status,
        outcome,
        mode: nul(mode),
        userId: it.user_id,
        errorMessage: nul(it.error_message),
        jobRecordId: null,
        createdAt: nul(it.created_at),
        effectiveAt: null,
        updatedAt: nul(it.updated_at),
        fileInput: it.file_input,
        documentInputType: it.document_input_type,
        configurationId: nul(it.configuration_id),
        parseJobId: nul(it.parse_job_id),
        transactionId: nul(it.transaction_id),
        resultType: nul(it.result?.type),
        resultConfidence: nul(confidence),
        resultReasoning: nul(it.result?.reasoning),
        raw,
      },
      it.configuration.rules.map((r, position) => ({ jobId: it.id, position, type: r.type, description: r.description })),
      pc == null
        ? undefined
        : {
            jobId: it.id,
            lang: nul(pc.lang),
            maxPages: nul(pc.max_pages),
            targetPages,
            targetPagesSpec: nul(pc.target_pages),
          },
    ),
  };
}

const ITEM_NORMALIZERS: Readonly<Record<ApiVersion, (item: unknown, ctx: NormalizeContext) => NormalizeResult>> = {
  v1: normalizeV1Item,
  v2: normalizeV2Item,
};

export interface NormalizedPage {
  jobs: NormalizedJob[];
  rejects: Reject[];
  warnings: string[];
}

/** Normalizes a page; the same id twice keeps the last one (a later sighting is the newer one). */
export function normalizePage(items: readonly unknown[], ctx: NormalizeContext): NormalizedPage {
  const byId = new Map<string, NormalizedJob>();
  const rejects: Reject[] = [];
  const warnings = new Set<string>();
  const normalizeItem = ITEM_NORMALIZERS[ctx.apiVersion];
  for (const item of items) {
    let result: NormalizeResult;
    try {
      result = normalizeItem(item, ctx);
    } catch (error) {
      // One item that cannot be processed at all (e.g. nested too deep) is quarantined, never the page.
      result = reject(item, `item cannot be processed: ${errorMessage(error)}`, ctx);
    }
    if (!result.ok) {
      rejects.push(result.reject);
      continue;
    }
    for (const w of result.warnings) warnings.add(w);
    byId.delete(result.value.job.id);
    byId.set(result.value.job.id, result.value);
  }
  return { jobs: [...byId.values()], rejects, warnings: [...warnings] };
}
