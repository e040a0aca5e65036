// When the worker retries a project whose sync failed: retryFailedAfterMinutes after the failure, then
// twice as long after each failed retry (30, 60, 120 … minutes), and never at or after the next
// schedule slot, which syncs every project anyway. Pure: the worker passes the times in.

const MINUTE = 60_000;

export interface RetryInput {
  /** retryFailedAfterMinutes; 0 disables retries. */
  afterMinutes: number;
  /** 1 for the first retry after a slot's (or catch-up's) failure, 2 after that retry failed too, … */
  attempt: number;
  /** Epoch ms the failed attempt ended. */
  failedAt: number;
  /** The schedule's next slot (undefined: none known, so nothing caps the retry). */
  nextSlot: Date | undefined;
}

export type RetryDecision =
  | { retry: true; attempt: number; delayMs: number; at: Date }
  | { retry: false; reason: 'disabled' }
  | { retry: false; reason: 'next slot first'; attempt: number; delayMs: number; at: Date; nextSlot: Date };

/** The wait before retry `attempt`: afterMinutes × 2^(attempt − 1). */
export function retryDelayMs(afterMinutes: number, attempt: number): number {
  return Math.round(afterMinutes * MINUTE * 2 ** Math.max(0, attempt - 1));
}

export function decideRetry(input: RetryInput): RetryDecision {
  if (input.afterMinutes <= 0) return { retry: false, reason: 'disabled' };
  const delayMs = retryDelayMs(input.afterMinutes, input.attempt);
  const at = new Date(input.failedAt + delayMs);
  if (input.nextSlot && at.getTime() >= input.nextSlot.getTime()) {
    return { retry: false, reason: 'next slot first', attempt: input.attempt, delayMs, at, nextSlot: input.nextSlot };
  }
  return { retry: true, attempt: input.attempt, delayMs, at };
}
