// The seeded jobs in v2 shape (GET /api/v2/classify items; docs/api-versions.md): the same jobs,
// ids and timestamps as v1, with v2's statuses, its configuration object, its 1-based page spec
// strings, inputs and results. Written independently of the sync's own page-spec code on purpose.

import type { V1Job, V1ParsingConfiguration, V1Rule } from './data.ts';
import { chance, pick, randomHex, randomInt, randomUuid, seededRandom, type Random } from './prng.ts';

export type V2Status = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';
export const V2_STATUSES: readonly V2Status[] = ['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'];

export type V2DocumentInputType = 'url' | 'file_id' | 'parse_job_id';

export interface V2ParsingConfiguration {
  lang?: string;
  max_pages?: number | null;
  /** 1-based pages and ranges, e.g. "1,3,5-7". */
  target_pages?: string | null;
}

export interface V2Configuration {
  rules: V1Rule[];
  mode: string;
  parsing_configuration?: V2ParsingConfiguration | null;
}

export interface V2Result {
  type: string | null;
  confidence: number;
  reasoning: string;
}

/** One item of `GET /api/v2/classify`. `status` is a string so tests can inject unknown values. */
export interface V2Job {
  id: string;
  project_id: string;
  user_id: string;
  status: string;
  document_input_type: string;
  file_input: string;
  configuration: V2Configuration;
  result?: V2Result | null;
  error_message?: string | null;
  configuration_id?: string | null;
  transaction_id?: string | null;
  parse_job_id?: string | null;
  created_at?: string | null;
  updated_at?: string | null;
  [extra: string]: unknown;
}

/** v1 fields v2 does not have; every other unknown field of a v1 item is carried over. */
const V1_ONLY = new Set(['rules', 'effective_at', 'job_record_id', 'mode', 'parsing_configuration', 'status', 'error_message']);

/** v1's language codes that are not ISO 639-1, as v2 spells them. */
const LANG_TO_ISO_639_1: Readonly<Record<string, string>> = { ch_sim: 'zh', ch_tra: 'zh', rs_latin: 'sr', rs_cyrillic: 'sr' };

const REASONS = [
  (type: string) => `The first page carries the typical layout of a ${type.replace('_', ' ')}.`,
  (type: string) => `Headings and key fields match the rule for ${type}.`,
  (type: string) => `Most pages contain the fields the ${type} rule describes.`,
] as const;

/**
 * The v2 form of a seeded v1 job: deterministic in (seed, job id), so the same job always gets the
 * same inputs and result. PENDING becomes PENDING or RUNNING, PARTIAL_SUCCESS mostly COMPLETED (a
 * few stay RUNNING), SUCCESS COMPLETED, ERROR FAILED; unknown statuses pass through.
 */
export function toV2Job(job: V1Job, seed: number): V2Job {
  const random = seededRandom(seed, `v2-job:${job.id}`);
  const sparse = !('mode' in job);
  const status = v2Status(random, job.status);
  const inputType = pick(random, ['file_id', 'file_id', 'file_id', 'url', 'url', 'parse_job_id'] as const);
  const fileInput = inputType === 'url' ? `https://files.example.com/inbox/${randomHex(random, 12)}.pdf` : randomUuid(random);

  const v2: V2Job = {
    id: job.id,
    project_id: job.project_id,
    user_id: job.user_id,
    status,
    document_input_type: inputType,
    file_input: fileInput,
    configuration: {
      rules: structuredClone(job.rules),
      mode: 'FAST',
      ...(job.parsing_configuration !== undefined && { parsing_configuration: v2Parsing(random, job.parsing_configuration) }),
    },
  };
  const configurationId = chance(random, 0.5) ? projectConfigurationId(seed, job.project_id, random) : null;
  const transactionId = chance(random, 0.3) ? `txn_${randomHex(random, 20)}` : null;
  if (!sparse) {
    v2.result = status === 'COMPLETED' ? randomResult(random, job.rules) : null;
    v2.error_message = status === 'FAILED' || status === 'CANCELLED' ? (job.error_message ?? null) : null;
    v2.configuration_id = configurationId;
    v2.transaction_id = transactionId;
    v2.parse_job_id = inputType === 'parse_job_id' ? fileInput : null;
  } else if (inputType === 'parse_job_id') {
    v2.parse_job_id = fileInput;
  }
  if (job.created_at !== undefined) v2.created_at = job.created_at;
  if (job.updated_at !== undefined) v2.updated_at = job.updated_at;
  for (const [key, value] of Object.entries(job)) {
    if (!(key in v2) && !V1_ONLY.has(key)) v2[key] = structuredClone(value);
  }
  return v2;
}

function v2Status(random: Random, status: string): string {
  const roll = random();
  switch (status) {
    case 'SUCCESS':
      return 'COMPLETED';
    case 'ERROR':
      return 'FAILED';
    case 'PARTIAL_SUCCESS':
      return roll < 0.75 ? 'COMPLETED' : 'RUNNING';
    case 'PENDING':
      return roll < 0.5 ? 'PENDING' : 'RUNNING';
    default:
      return status;
  }
}

function v2Parsing(random: Random, parsing: V1ParsingConfiguration | null): V2ParsingConfiguration | null {
  if (parsing === null) return null;
  const out: V2ParsingConfiguration = {};
  if (parsing.lang !== undefined) out.lang = parsing.lang.length === 2 ? parsing.lang : (LANG_TO_ISO_639_1[parsing.lang] ?? 'en');
  if (parsing.max_pages !== undefined) out.max_pages = parsing.max_pages;
  if (parsing.target_pages !== undefined) out.target_pages = parsing.target_pages === null ? null : pageSpec(random, parsing.target_pages);
  return out;
}

/** 0-based pages as upstream writes them: mostly compact ranges ("1-3,7"), sometimes listed with spaces ("1, 2, 3, 7"). */
export function pageSpec(random: Random, pages: readonly number[]): string {
  const oneBased = [...new Set(pages)].sort((a, b) => a - b).map((page) => page + 1);
  if (chance(random, 0.3)) return oneBased.join(', ');
  const parts: string[] = [];
  let start = oneBased[0];
  for (let i = 0; start !== undefined; i++) {
    const current = oneBased[i] as number;
    const next = oneBased[i + 1];
    if (next === current + 1) continue;
    parts.push(current === start ? String(start) : `${start}-${current}`);
    start = next;
  }
  return parts.join(',');
}

function randomResult(random: Random, rules: readonly V1Rule[]): V2Result {
  const matched = chance(random, 0.9) && rules.length > 0 ? pick(random, rules).type : null;
  return {
    type: matched,
    confidence: randomInt(random, 500, 1000) / 1000,
    reasoning: matched === null ? 'None of the rules matches the document well enough.' : pick(random, REASONS)(matched),
  };
}

/** One of the project's three saved configurations (ids fixed per seed and project). */
function projectConfigurationId(seed: number, projectId: string, random: Random): string {
  const pool = seededRandom(seed, `v2-configurations:${projectId}`);
  const ids = [randomUuid(pool), randomUuid(pool), randomUuid(pool)];
  return pick(random, ids);
}
