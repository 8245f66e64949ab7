/** When a failed delivery is tried again. */
export interface RetrySchedule {
	/** Delay before the first retry (`WEBHOOK_RETRY_BASE_MS`). */
	baseMs: number;
	/** No delay is longer than this (`WEBHOOK_RETRY_MAX_MS`). */
	maxMs: number;
	/** Attempts in all, the first one included (`WEBHOOK_MAX_ATTEMPTS`); the delivery is FAILED after the last. */
	maxAttempts: number;
}

/**
 * Each delay is this many times the previous one: with the defaults (10 s, 12 attempts) the 11 retries spread over
 * about a day (10 s, 24 s, 55 s, 2 min, 5 min, 12 min, 28 min, 1.1 h, 2.6 h, 6 h, 14 h: 24.7 h in all).
 */
export const BACKOFF_FACTOR = 2.35;
/** Each delay is scaled by a random factor in [1 - JITTER, 1 + JITTER]: receivers that come back are not stampeded. */
export const JITTER = 0.2;

/**
 * The delay after failed attempt number `attempt` (1 for the first attempt), or null when it was the last one.
 * `random` is a number in [0, 1) (Math.random in production, fixed in tests).
 */
export function retryDelayMs(schedule: RetrySchedule, attempt: number, random: number): number | null {
	if (!Number.isInteger(attempt) || attempt < 1)
		throw new RangeError(`attempt must be a whole number >= 1: ${attempt}`);
	if (attempt >= schedule.maxAttempts) return null;
	const nominal = Math.min(schedule.baseMs * BACKOFF_FACTOR ** (attempt - 1), schedule.maxMs);
	const jitter = 1 - JITTER + 2 * JITTER * Math.min(Math.max(random, 0), 1);
	return Math.round(Math.min(nominal * jitter, schedule.maxMs));
}
