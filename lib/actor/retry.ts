/**
 * Retry policy for internal actions that are idempotent per order (reserve, commit, release, charge, refund):
 * repeating them after a timeout cannot take stock or money twice. Merged with the broker's `retryPolicy`.
 */
export const IDEMPOTENT_RETRY = { enabled: true, retries: 2, delay: 100, maxDelay: 400, factor: 2 } as const;
