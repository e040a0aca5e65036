// Seeded v1 classify jobs: realistic enough for reports, plus the odd-but-valid shapes a real API emits.
// Item shape: the v1 spec (ClassifyJob) and docs/api-versions.md.

import { chance, pick, pickWeighted, randomHex, randomInt, randomUuid, seededRandom, type Random } from './prng.ts';

export type V1Status = 'PENDING' | 'SUCCESS' | 'ERROR' | 'PARTIAL_SUCCESS' | 'CANCELLED';

export interface V1Rule {
  type: string;
  description: string;
}

export interface V1ParsingConfiguration {
  lang?: string;
  max_pages?: number | null;
  target_pages?: number[] | null;
}

/** One item of `GET /api/v1/classifier/jobs`. `status` is a string so tests can inject unknown values. */
export interface V1Job {
  id: string;
  project_id: string;
  user_id: string;
  rules: V1Rule[];
  status: string;
  created_at?: string | null;
  updated_at?: string | null;
  effective_at?: string;
  error_message?: string | null;
  job_record_id?: string | null;
  mode?: string;
  parsing_configuration?: V1ParsingConfiguration | null;
  [extra: string]: unknown;
}

export interface SeedOptions {
  /** Seed of the data set; with the project id it fixes every value. Default 1. */
  seed?: number;
  /** Epoch ms the 90-day history ends at. Default `Date.now()`: pass it for byte-identical data. */
  now?: number;
  /** Include a deterministic minority of odd-but-valid items (see ODDITY_WEIGHTS). Default true. */
  oddities?: boolean;
  /** Share of jobs sent with created_at null, 0..1, as a few upstream jobs are. Default 0. */
  withoutCreatedAtShare?: number;
  /**
   * Length of the first failed job's error message, in characters: an ordinary message followed by a
   * base64 payload of zero bytes ("AAAA…", a pasted response). Default: the ordinary message only.
   */
  longErrorChars?: number;
}

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const DAY_MS = 24 * 60 * MINUTE_MS;
const HISTORY_DAYS = 90;
/** Descriptions are 10-500 characters in the API. */
const DESCRIPTION_MAX_CHARS = 500;

export const V1_STATUSES: readonly V1Status[] = ['PENDING', 'SUCCESS', 'ERROR', 'PARTIAL_SUCCESS', 'CANCELLED'];

/** The 86 `parsing_configuration.lang` codes of the v1 spec. */
export const V1_LANGS: readonly string[] = [
  'af',
  'az',
  'bs',
  'cs',
  'cy',
  'da',
  'de',
  'en',
  'es',
  'et',
  'fr',
  'ga',
  'hr',
  'hu',
  'id',
  'is',
  'it',
  'ku',
  'la',
  'lt',
  'lv',
  'mi',
  'ms',
  'mt',
  'nl',
  'no',
  'oc',
  'pi',
  'pl',
  'pt',
  'ro',
  'rs_latin',
  'sk',
  'sl',
  'sq',
  'sv',
  'sw',
  'tl',
  'tr',
  'uz',
  'vi',
  'ar',
  'fa',
  'ug',
  'ur',
  'bn',
  'as',
  'mni',
  'ru',
  'rs_cyrillic',
  'be',
  'bg',
  'uk',
  'mn',
  'abq',
  'ady',
  'kbd',
  'ava',
  'dar',
  'inh',
  'che',
  'lbe',
  'lez',
  'tab',
  'tjk',
  'hi',
  'mr',
  'ne',
  'bh',
  'mai',
  'ang',
  'bho',
  'mah',
  'sck',
  'new',
  'gom',
  'sa',
  'bgc',
  'th',
  'ch_sim',
  'ch_tra',
  'ja',
  'ko',
  'ta',
  'te',
  'kn',
];

/** Languages a typical workload uses besides "en", in rough order of frequency. */
const COMMON_LANGS = ['de', 'fr', 'es', 'it', 'nl', 'pt', 'pl', 'ja', 'ch_sim', 'ar', 'ru', 'sv'] as const;

const STATUS_WEIGHTS: Record<V1Status, number> = {
  SUCCESS: 72,
  ERROR: 11,
  PARTIAL_SUCCESS: 6,
  PENDING: 6,
  CANCELLED: 5,
};

/** Rule types with a few natural descriptions each, like users write them. */
const RULE_DESCRIPTIONS: Record<string, readonly string[]> = {
  invoice: [
    'contains invoice number, line items, and total amount',
    'A bill from a supplier with an invoice number, invoice date, due date, VAT breakdown and amount payable.',
  ],
  receipt: [
    'point-of-sale receipt with merchant name, date, items and total paid',
    'Short proof of payment from a shop or restaurant; usually a narrow scan with a card or cash payment line.',
  ],
  contract: [
    'legal agreement between parties with clauses, term, and signature blocks',
    'Master services agreements, statements of work and amendments: numbered clauses, governing law, signatures.',
  ],
  purchase_order: [
    'purchase order issued by a buyer with PO number, requested items, quantities and delivery address',
    'Buyer-issued order with a PO number, ship-to address, item codes, unit prices and requested delivery date.',
  ],
  bank_statement: [
    'bank account statement listing transactions with dates, descriptions, debits, credits and balances',
    'Monthly statement from a bank: account number (often masked), opening and closing balance, transaction table.',
  ],
  resume: [
    'a CV or resume with work experience, education and skills sections',
    'Candidate resume: contact details, employment history with dates, education, skills; one to three pages.',
  ],
  tax_form: [
    'government tax form such as W-2, W-9, 1099 or a VAT return',
    'Official tax document with form identifiers, taxpayer identification numbers and boxed numeric fields.',
  ],
  insurance_claim: [
    'insurance claim form with policy number, incident date and claimed amount',
    'First notice of loss or claim form: policyholder, policy number, description of the incident, damages claimed.',
  ],
  medical_record: ['clinical note or discharge summary with patient details, diagnoses and medications'],
  shipping_label: ['carrier shipping label or bill of lading with tracking number, sender and recipient addresses'],
  utility_bill: ['utility bill for electricity, gas, water or telecom with meter readings, billing period and amount due'],
  payslip: ['employee payslip with gross pay, deductions, net pay and pay period'],
  nda: ['non-disclosure agreement defining confidential information, obligations and term'],
  other: ['anything that does not match the other document types'],
};

const RULE_TYPES = Object.keys(RULE_DESCRIPTIONS);

/** Sentences users append to make a rule more specific; they make longer descriptions (up to 500 chars). */
const DESCRIPTION_DETAILS = [
  'Ignore cover pages and fax headers.',
  'Documents may be scanned at an angle or photographed on a phone.',
  'Most documents are in English but some are German or French.',
  'Do not confuse this with a quote or a pro-forma document, which has no payment obligation.',
  'Multi-page documents should be classified by their first page.',
  'If the document has a company letterhead, use the letterhead to decide the issuer.',
  'Totals may appear in EUR, USD or GBP, sometimes with both net and gross amounts.',
  'Handwritten annotations are common and should not change the classification.',
  'Expect tables spanning several pages with repeated headers.',
];

/** Error messages of failed jobs; the variable parts (ids, numbers) are what a report would normalize away. */
const ERROR_MESSAGES: readonly ((random: Random) => string)[] = [
  (r) => `Failed to parse file ${randomUuid(r)}: document is password protected`,
  (r) => `Parse job ${randomUuid(r)} timed out after ${randomInt(r, 120, 900)} seconds`,
  (r) => `File too large: ${randomInt(r, 51, 480)} MB exceeds the 50 MB limit`,
  (r) => `Unsupported file type: .${pick(r, ['heic', 'pages', 'numbers', 'dwg', 'msg', 'zip'])}`,
  (r) => `Upstream model error (request id req_${randomHex(r, 24)}): 503 Service Unavailable`,
  () => 'No text could be extracted from the document',
];

const PARTIAL_MESSAGES: readonly ((random: Random) => string)[] = [
  (r) => {
    const total = randomInt(r, 3, 40);
    return `${randomInt(r, 1, total - 1)} of ${total} files failed to classify`;
  },
  (r) => `Classification confidence below threshold for ${randomInt(r, 1, 9)} pages`,
];

const CANCEL_MESSAGES = ['Job was cancelled by the user', 'Job cancelled: project quota exceeded'] as const;

/** Odd-but-valid shapes; each odd item gets exactly one of them. */
const ODDITY_WEIGHTS = {
  naiveTimestamps: 3, // "2026-01-02T03:04:05" (no zone; FastAPI emits naive UTC datetimes like this)
  microsecondTimestamps: 3, // ".123456Z"
  offsetTimestamps: 2, // "+02:00", same instant
  extraFields: 3, // unknown fields a newer API version might add
  oddStrings: 3, // quotes, emoji, SQL in free text
  sparse: 2, // only the required fields (plus created_at), optional objects empty
} as const;
type Oddity = keyof typeof ODDITY_WEIGHTS;

/** Share of items that get an oddity when `oddities` is on. */
const ODDITY_SHARE = 0.1;

const ODD_TEXT = `Matches "quoted" titles, O'Brien & Co's forms, émojis 📄🧾✅ and '; DROP TABLE classify_jobs; --`;

/**
 * `count` v1 jobs for one project, in no particular order (the server sorts what it serves).
 * The same (projectId, seed, now, oddities) always gives the same jobs.
 */
export function seedProjectJobs(projectId: string, count: number, opts: SeedOptions = {}): V1Job[] {
  const seed = opts.seed ?? 1;
  const now = opts.now ?? Date.now();
  const oddities = opts.oddities ?? true;
  const random = seededRandom(seed, `v1-jobs:${projectId}`);

  // A project has a few users and a few saved rule sets that most jobs reuse, as in real use.
  const users = Array.from({ length: randomInt(random, 1, 5) }, () => randomUuid(random));
  const ruleSets = Array.from({ length: randomInt(random, 3, 6) }, () => randomRules(random));

  const jobs: V1Job[] = [];
  for (let i = 0; i < count; i++) {
    const rules = chance(random, 0.85) ? copyRules(pick(random, ruleSets)) : randomRules(random);
    const job = randomJob(random, { projectId, userId: pick(random, users), rules, now });
    if (oddities && chance(random, ODDITY_SHARE)) applyOddity(random, job, pickWeighted(random, ODDITY_WEIGHTS));
    jobs.push(job);
  }
  applyDataOptions(jobs, projectId, seed, opts);
  return jobs;
}

/** The opt-in data options, drawn from their own sequence so the rest of the data set stays the same. */
function applyDataOptions(jobs: V1Job[], projectId: string, seed: number, opts: SeedOptions): void {
  const share = opts.withoutCreatedAtShare ?? 0;
  if (!(share >= 0 && share <= 1)) throw new Error(`withoutCreatedAtShare must be between 0 and 1, got ${share}`);
  const random = seededRandom(seed, `v1-data-options:${projectId}`);
  if (share > 0) for (const job of jobs) if (chance(random, share)) job.created_at = null;
  if (opts.longErrorChars !== undefined) {
    const job = jobs.find((j) => j.status === 'ERROR');
    if (job) {
      const message = `${job.error_message ?? 'Upstream error'} (response body: `;
      job.error_message = `${message}${'A'.repeat(Math.max(0, opts.longErrorChars - message.length - 1))})`.slice(0, opts.longErrorChars);
    }
  }
}

interface JobBasics {
  projectId: string;
  userId: string;
  rules: V1Rule[];
  now: number;
}

function randomJob(random: Random, { projectId, userId, rules, now }: JobBasics): V1Job {
  const status = pickWeighted(random, STATUS_WEIGHTS);
  const createdMs = now - Math.floor(random() * HISTORY_DAYS * DAY_MS);
  const updatedMs = Math.min(now, createdMs + randomInt(random, 2 * SECOND_MS, 12 * MINUTE_MS));
  const pendingNeverUpdated = status === 'PENDING' && chance(random, 0.5);
  const updatedAt = pendingNeverUpdated ? null : isoUtc(updatedMs);

  const job: V1Job = {
    id: randomUuid(random),
    project_id: projectId,
    user_id: userId,
    rules,
    status,
    created_at: isoUtc(createdMs),
    updated_at: updatedAt,
    effective_at: updatedAt ?? isoUtc(createdMs),
    error_message: errorMessage(random, status),
    job_record_id: status === 'PENDING' ? null : randomUuid(random),
    mode: chance(random, 0.8) ? 'FAST' : 'MULTIMODAL',
  };

  const parsing = random();
  if (parsing < 0.85) job.parsing_configuration = randomParsing(random);
  else if (parsing < 0.93) job.parsing_configuration = null;
  // else: absent
  return job;
}

function errorMessage(random: Random, status: V1Status): string | null {
  switch (status) {
    case 'ERROR':
      return pick(random, ERROR_MESSAGES)(random);
    case 'PARTIAL_SUCCESS':
      return pick(random, PARTIAL_MESSAGES)(random);
    case 'CANCELLED':
      return chance(random, 0.6) ? pick(random, CANCEL_MESSAGES) : null;
    default:
      return null;
  }
}

function copyRules(rules: readonly V1Rule[]): V1Rule[] {
  return rules.map((rule) => ({ ...rule }));
}

/** 1-5 distinct rules, 2-3 most often. */
function randomRules(random: Random): V1Rule[] {
  const count = pick(random, [1, 2, 2, 2, 3, 3, 3, 4, 5]);
  const types = [...RULE_TYPES];
  const rules: V1Rule[] = [];
  for (let i = 0; i < count; i++) {
    const type = types.splice(Math.floor(random() * types.length), 1)[0] ?? 'other';
    rules.push({ type, description: randomDescription(random, type) });
  }
  return rules;
}

function randomDescription(random: Random, type: string): string {
  let description = pick(random, RULE_DESCRIPTIONS[type] ?? RULE_DESCRIPTIONS.other ?? ['any document']);
  const details = random() < 0.3 ? randomInt(random, 1, 8) : 0;
  for (let i = 0; i < details; i++) {
    const separator = /[.!?]$/.test(description) ? ' ' : '. ';
    const next = `${description}${separator}${pick(random, DESCRIPTION_DETAILS)}`;
    if (next.length > DESCRIPTION_MAX_CHARS) break;
    description = next;
  }
  return description;
}

function randomParsing(random: Random): V1ParsingConfiguration {
  const lang = chance(random, 0.75) ? 'en' : chance(random, 0.9) ? pick(random, COMMON_LANGS) : pick(random, V1_LANGS);
  const maxPagesRoll = random();
  const maxPages = maxPagesRoll < 0.45 ? 5 : maxPagesRoll < 0.8 ? randomInt(random, 1, 50) : null;
  return { lang, max_pages: maxPages, target_pages: chance(random, 0.2) ? randomTargetPages(random) : null };
}

/** Sorted, distinct, 0-based page indexes. */
function randomTargetPages(random: Random): number[] {
  const pages = new Set<number>();
  const count = randomInt(random, 1, 4);
  for (let i = 0; i < count; i++) pages.add(randomInt(random, 0, 9));
  return [...pages].sort((a, b) => a - b);
}

function applyOddity(random: Random, job: V1Job, oddity: Oddity): void {
  switch (oddity) {
    case 'naiveTimestamps':
      reformatTimestamps(job, (iso) => iso.slice(0, 19));
      break;
    case 'microsecondTimestamps':
      reformatTimestamps(job, (iso) => `${iso.slice(0, 23)}${randomInt(random, 0, 999).toString().padStart(3, '0')}Z`);
      break;
    case 'offsetTimestamps': {
      const offsetMinutes = pick(random, [120, 60, -300, 330]);
      reformatTimestamps(job, (iso) => withOffset(iso, offsetMinutes));
      break;
    }
    case 'extraFields':
      job.x_extra = { source: pick(random, ['api', 'ui', 'sdk']), tags: ['beta', 'batch-7'], nested: { depth: 2, ok: true } };
      job.x_trace_id = randomHex(random, 16);
      break;
    case 'oddStrings': {
      const rule = job.rules[0];
      if (rule) rule.description = `${rule.description.slice(0, DESCRIPTION_MAX_CHARS - ODD_TEXT.length - 1)} ${ODD_TEXT}`;
      if (typeof job.error_message === 'string') job.error_message = `${job.error_message} — "¿qué?" 🚫 '; DROP TABLE classify_jobs; --`;
      break;
    }
    case 'sparse':
      for (const key of ['updated_at', 'effective_at', 'error_message', 'job_record_id', 'mode'] as const) delete job[key];
      job.parsing_configuration = {};
      break;
  }
}

/** Rewrites created_at, updated_at and effective_at (when strings) with `format(isoUtcString)`. */
function reformatTimestamps(job: V1Job, format: (iso: string) => string): void {
  for (const key of ['created_at', 'updated_at', 'effective_at'] as const) {
    const value = job[key];
    if (typeof value === 'string') job[key] = format(value);
  }
}

function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}

/** The same instant as `iso` (a UTC "...Z" string), written in local time at `offsetMinutes` from UTC. */
function withOffset(iso: string, offsetMinutes: number): string {
  const local = new Date(Date.parse(iso) + offsetMinutes * MINUTE_MS).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${local}${sign}${hh}:${mm}`;
}
