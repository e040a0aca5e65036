// Fault injection: which requests fail, and how each failure looks on the wire.

import { rawReply, detailReply, type Reply } from './http.ts';
import { seededRandom, type Random } from './prng.ts';

export type FaultKind = '429' | '500' | '502' | '503' | 'reset' | 'truncated' | 'hang';

export const FAULT_KINDS: readonly FaultKind[] = ['429', '500', '502', '503', 'reset', 'truncated', 'hang'];

/** 'hang' is opt-in: it makes every affected request wait for the client's timeout. */
export const DEFAULT_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS.filter((kind) => kind !== 'hang');

export interface FaultSpec {
  /** Share of requests that fail, 0..1. */
  rate: number;
  /** Kinds to draw from, uniformly. Default DEFAULT_FAULT_KINDS. */
  kinds?: FaultKind[];
  /** `Retry-After` of a 429, in seconds. Default 1. */
  retryAfterSeconds?: number;
  /** How long a 'hang' waits before answering normally. Default 120 000 ms. */
  hangMs?: number;
}

export const DEFAULT_RETRY_AFTER_SECONDS = 1;
export const DEFAULT_HANG_MS = 120_000;

/** Throws a one-line error naming the bad field; called when a spec enters the simulator. */
export function assertFaultSpec(spec: FaultSpec | undefined, where: string): void {
  if (spec === undefined) return;
  if (!(spec.rate >= 0 && spec.rate <= 1)) throw new Error(`${where}.rate must be between 0 and 1, got ${spec.rate}`);
  if (spec.kinds !== undefined) {
    if (spec.kinds.length === 0) throw new Error(`${where}.kinds must not be empty`);
    const unknown = spec.kinds.find((kind) => !FAULT_KINDS.includes(kind));
    if (unknown !== undefined) throw new Error(`${where}.kinds has unknown kind ${JSON.stringify(unknown)}`);
  }
  if (spec.retryAfterSeconds !== undefined && !(spec.retryAfterSeconds >= 0)) {
    throw new Error(`${where}.retryAfterSeconds must be >= 0`);
  }
  if (spec.hangMs !== undefined && !(spec.hangMs >= 0)) throw new Error(`${where}.hangMs must be >= 0`);
}

/** Draws faults from a seeded sequence: the same seed and request order give the same faults. */
export class FaultPlan {
  readonly #random: Random;

  constructor(seed: number) {
    this.#random = seededRandom(seed, 'faults');
  }

  /** The fault for the next request under `spec`, if it gets one. */
  decide(spec: FaultSpec | undefined): FaultKind | undefined {
    if (!spec || spec.rate <= 0) return undefined;
    // Two draws every time, so the sequence does not depend on which branch ran.
    const hit = this.#random() < spec.rate;
    const kinds = spec.kinds ?? DEFAULT_FAULT_KINDS;
    const kind = kinds[Math.floor(this.#random() * kinds.length)];
    return hit ? kind : undefined;
  }
}

const REASONS: Record<'500' | '502' | '503', string> = {
  '500': 'Internal Server Error',
  '502': 'Bad Gateway',
  '503': 'Service Unavailable',
};

/**
 * The response of an HTTP-level fault. 5xx bodies rotate through what sits in front of a real API:
 * a proxy's HTML page, an empty body, and the app's own JSON detail (`occurrence` picks one).
 */
export function faultReply(kind: '429' | '500' | '502' | '503', spec: FaultSpec, occurrence: number): Reply {
  if (kind === '429') {
    const retryAfter = String(spec.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS);
    return detailReply(429, 'Too Many Requests', { 'retry-after': retryAfter });
  }
  const status = Number(kind);
  const reason = REASONS[kind];
  switch (occurrence % 3) {
    case 0:
      return rawReply(
        status,
        `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
        'text/html',
      );
    case 1:
      return rawReply(status, '', 'text/plain');
    default:
      return detailReply(status, reason);
  }
}
