/** What becomes of a message whose handler failed: delivered again, moved to the dead-letter channel, or dropped. */
export type AfterFailure = "retry" | "dead-letter" | "drop";

/**
 * The rule of the NATS JetStream adapter, kept by the in-process bus: `maxRetries` counts deliveries (the first one
 * included), `attempt` is the delivery that just failed (1-based). A dead-letter message is never dead-lettered
 * again: its handler's last failure drops it.
 */
export function afterFailure(
	attempt: number,
	opts: { maxRetries: number; deadLettering: boolean; isDeadLetterChannel?: boolean },
): AfterFailure {
	if (opts.maxRetries > 0 && attempt < opts.maxRetries) return "retry";
	return opts.deadLettering && !opts.isDeadLetterChannel ? "dead-letter" : "drop";
}
