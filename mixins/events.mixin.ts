import type { Context, ServiceSchema } from "moleculer";
import type { Transaction } from "sequelize";
import { DuplicateKeyError } from "../lib/errors";
import { createEvent, EVENT_PARAMS, DEAD_LETTER_CHANNEL, type DomainEvent, type DomainEventType } from "../lib/events";
import type { CollectionSpec, Store } from "../lib/store";

const RELAY_INTERVAL_MS = 1000;
const CLAIM_MS = 30_000;
const BATCH = 100;

/** The outbox table of a service; list it in the service's DbMixin so it lives in the service's own store. */
export function outboxCollection(service: string): CollectionSpec {
	return {
		name: `${service}_outbox`,
		fields: { type: "string", event: "json", requestID: "string", parentID: "string", createdAt: "string", claimedUntil: "string" },
		indexes: ["claimedUntil"],
	};
}

/** Channel defaults for a consumer: one consumer group per service, retries, then the dead-letter channel. */
export function consume(handler: (this: any, ctx: Context<DomainEvent>) => Promise<unknown>) {
	return {
		context: true,
		params: EVENT_PARAMS,
		maxRetries: 5,
		maxInFlight: 16,
		deadLettering: { enabled: true, queueName: DEAD_LETTER_CHANNEL },
		handler,
	};
}

/**
 * Transactional outbox. `publishEvent` writes the event into the service's own store (inside the caller's
 * transaction when one is given); a relay sends stored events to the channel adapter and deletes them once
 * sent, so an event survives a bus outage or a crash. Event ids may be deterministic (e.g. `<orderId>:confirmed`),
 * which makes re-publishing after a crash a no-op; consumers deduplicate by id for the rest (at-least-once).
 */
export const EventsMixin: Partial<ServiceSchema> = {
	methods: {
		async publishEvent(
			ctx: Context | null,
			type: DomainEventType,
			data: Record<string, unknown>,
			opts: { id?: string; tx?: Transaction } = {},
		): Promise<DomainEvent> {
			const event = createEvent(type, data, this.name, { id: opts.id, correlationId: ctx?.requestID ?? null });
			const outbox: Store = this.stores[`${this.name}_outbox`];
			try {
				await outbox.insert(
					{ id: event.id, type, event, requestID: ctx?.requestID ?? "", parentID: ctx?.id ?? "", createdAt: event.occurredAt, claimedUntil: "" },
					opts.tx,
				);
			} catch (err) {
				if (!(err instanceof DuplicateKeyError)) throw err;
			}
			if (!opts.tx) this.scheduleRelay();
			return event;
		},

		/** Call after committing a transaction that published events. */
		scheduleRelay() {
			if (!this.relayScheduled) {
				this.relayScheduled = true;
				setImmediate(() => {
					this.relayScheduled = false;
					this.relayOutbox().catch((err: Error) => this.logger.warn(`Outbox relay failed: ${err.message}`));
				});
			}
		},

		/** Sends due outbox rows; another node's relay skips rows this one has claimed. */
		async relayOutbox(): Promise<number> {
			// Before the broker has started, in-process consumers may not be subscribed yet: keep the events stored.
			if (this.relaying || !this.broker.started) return 0;
			this.relaying = true;
			const outbox: Store = this.stores[`${this.name}_outbox`];
			let sent = 0;
			try {
				for (;;) {
					const now = new Date().toISOString();
					const due = await outbox.find({ claimedUntil: { $lt: now } }, { sort: ["createdAt"], limit: BATCH });
					if (due.length === 0) return sent;
					for (const row of due) {
						const claimed = await outbox.update(
							{ id: row.id, claimedUntil: row.claimedUntil as string },
							{ set: { claimedUntil: new Date(Date.now() + CLAIM_MS).toISOString() } },
						);
						if (!claimed) continue;
						await this.broker.sendToChannel(row.type, row.event, {
							// Carries the request across the bus so consumers join its trace and log its request id.
							headers: { $requestID: row.requestID || undefined, $parentID: row.parentID || undefined, $tracing: "true", $level: "1" },
						});
						await outbox.remove({ id: row.id });
						sent++;
						this.broker.metrics.increment("emporium.events.published", { type: row.type });
					}
				}
			} finally {
				this.relaying = false;
			}
		},
	},

	started() {
		this.relayTimer = setInterval(() => this.scheduleRelay(), RELAY_INTERVAL_MS);
		this.scheduleRelay();
	},

	stopped() {
		clearInterval(this.relayTimer);
	},
};
