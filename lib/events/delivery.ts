/**
 * What becomes of a message whose handler failed: delivered again, moved to the dead-letter channel, dropped, or
 * left with its publisher (the publish fails and the outbox keeps the event for the next send).
 */
export type AfterFailure = "retry" | "dead-letter" | "drop" | "keep";

/**
 * The rule of the NATS JetStream adapter, kept by the in-process bus: `maxRetries` counts deliveries (the first one
 * included), `attempt` is the delivery that just failed (1-based). A dead-letter message is never dead-lettered
 * again: its handler's last failure drops it. While the broker stops, a failure is likely the shutdown's (the
 * handler calls a service that has stopped): the event stays in the outbox instead of using up its deliveries.
 */
export function afterFailure(
	attempt: number,
	opts: { maxRetries: number; deadLettering: boolean; isDeadLetterChannel?: boolean; stopping?: boolean },
): AfterFailure {
	if (opts.stopping) return "keep";
	if (opts.maxRetries > 0 && attempt < opts.maxRetries) return "retry";
	return opts.deadLettering && !opts.isDeadLetterChannel ? "dead-letter" : "drop";
}
