import { Errors, type Context, type Service } from "moleculer";
import type { Transaction } from "sequelize";
import { defineMixin } from "../lib/actor";
import { DuplicateKeyError } from "../lib/errors";
import { createEvent, EVENT_PARAMS, type DomainEvent, type DomainEventType, type EventPayload } from "../lib/events";
import type { CollectionSpec, Doc, Store } from "../lib/storage";
import { outsideRequest } from "../lib/observability";
import type { DbThis } from "./db.mixin";

const RELAY_INTERVAL_MS = 1000;
const CLAIM_MS = 30_000;
const RETRY_MS = 2000;
const BATCH = 100;

/** An event waiting in its publisher's outbox; `claimedUntil` is when another node may send it. */
export interface OutboxRow extends Doc {
	type: DomainEventType;
	event: DomainEvent<unknown>;
	requestID: string;
	parentID: string;
	createdAt: string;
	claimedUntil: string;
}

/** What the mixin adds to a service's `this`. */
export interface EventsThis {
	publishEvent<E extends DomainEventType>(
		ctx: Context | null,
		type: E,
		data: EventPayload<E>,
		opts?: { id?: string; tx?: Transaction },
	): Promise<DomainEvent<EventPayload<E>>>;
	relayOutbox(): Promise<number>;
}
interface OutboxState {
	unsent: OutboxRow[];
	sendScheduled: boolean;
	relaying: boolean;
	relayTimer?: NodeJS.Timeout;
	outboxStore(): Store<OutboxRow>;
	sendSoon(row: OutboxRow): void;
	sendUnsent(): Promise<void>;
	retryLater(row: OutboxRow): Promise<number>;
	send(row: OutboxRow): Promise<void>;
}
type This = Service & DbThis & EventsThis & OutboxState;

/** The outbox table of a service; list it in the service's DbMixin so it lives in the service's own store. */
export function outboxCollection(service: string): CollectionSpec<OutboxRow> {
	return {
		name: `${service}_outbox`,
		fields: {
			type: "string",
			event: "json",
			requestID: "string",
			parentID: "string",
			createdAt: "string",
			claimedUntil: "string",
		},
		indexes: ["claimedUntil"],
	};
}

/**
 * The headers @moleculer/channels turns back into the consumer's parent context: consumers log the request id
 * of the request that caused the event, and their spans join its trace as children of the publishing action.
 */
function requestHeaders(row: OutboxRow): Record<string, string> {
	if (!row.requestID) return {};
	const headers: Record<string, string> = {
		$requestID: row.requestID,
		$tracing: row.parentID ? "true" : "false",
		$level: "1",
	};
	if (row.parentID) headers.$parentID = row.parentID;
	return headers;
}

type EventCheck = (params: unknown) => true | Record<string, unknown>[];
let checkEvent: EventCheck | undefined;

/**
 * A consumer of domain events: one consumer group per service (the default group), a context handler with a validated
 * envelope. Retries, in-flight limit and dead-lettering come from the adapter options (`lib/channels.ts`).
 */
export function consume<This extends Service>(handler: (this: This, ctx: Context<DomainEvent>) => Promise<unknown>) {
	return {
		context: true,
		params: EVENT_PARAMS,
		// The channels' Tracing tags every span with the whole payload by default; the event's identity is enough.
		tracing: { tags: (ctx: Context<DomainEvent>) => ({ eventId: ctx.params?.id, eventType: ctx.params?.type }) },
		async handler(this: This, ctx: Context<DomainEvent>) {
			// Moleculer validates the params of actions and events, not of channel messages: a malformed event is
			// refused here, so it is retried and then dead-lettered instead of being half-processed.
			const result = (checkEvent ??= this.broker.validator!.compile(EVENT_PARAMS) as EventCheck)(ctx.params);
			if (result !== true) throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", result);
			return handler.call(this, ctx);
		},
	};
}

/**
 * Transactional outbox. `publishEvent` writes the event into the service's own store, inside the caller's transaction
 * when one is given, holding a claim on it for this node. Once the change is committed this node sends it and deletes
 * the row (two round trips per event); if it cannot (bus down, crash), the claim lapses and the periodic relay of any
 * node of the service sends it later. So an event survives a bus outage or a crash. Event ids may be deterministic
 * (e.g. `<orderId>:confirmed`), which makes re-publishing after a crash a no-op; consumers deduplicate by id for the
 * rest (at-least-once).
 */
export const EventsMixin = defineMixin<This>({
	methods: {
		async publishEvent<E extends DomainEventType>(
			this: This,
			ctx: Context | null,
			type: E,
			data: EventPayload<E>,
			opts: { id?: string; tx?: Transaction } = {},
		): Promise<DomainEvent<EventPayload<E>>> {
			const event = createEvent(type, data, this.name, { id: opts.id, correlationId: ctx?.requestID ?? null });
			// parentID is the publishing action's span, kept only when its trace is sampled: consumers join it then.
			const row: OutboxRow = {
				id: event.id,
				type,
				event,
				requestID: ctx?.requestID ?? "",
				parentID: ctx?.tracing ? ctx.id : "",
				createdAt: event.occurredAt,
				claimedUntil: new Date(Date.now() + CLAIM_MS).toISOString(),
			};
			try {
				await this.outboxStore().insert(row, opts.tx);
			} catch (err) {
				// Already stored: a retried step publishes the same event again.
				if (err instanceof DuplicateKeyError) return event;
				throw err;
			}
			// Only a committed change may be announced.
			if (opts.tx) opts.tx.afterCommit(() => this.sendSoon(row));
			else this.sendSoon(row);
			return event;
		},

		outboxStore(this: This): Store<OutboxRow> {
			return this.storeFor(outboxCollection(this.name));
		},

		sendSoon(this: This, row: OutboxRow) {
			this.unsent.push(row);
			if (this.sendScheduled) return;
			this.sendScheduled = true;
			// Sending serves many requests: it must not run inside the request that published.
			outsideRequest(() =>
				setImmediate(() => {
					this.sendScheduled = false;
					this.sendUnsent().catch((err: Error) => this.logger.warn(`Sending events failed: ${err.message}`));
				}),
			);
		},

		async sendUnsent(this: This): Promise<void> {
			// Before the broker has started, in-process consumers may not be subscribed yet: "$broker.started" sends them.
			if (!this.broker.started) return;
			const rows = this.unsent.splice(0);
			await Promise.all(
				rows.map(async row => {
					try {
						await this.send(row);
					} catch (err) {
						this.logger.warn(`Event ${row.id} not sent yet (${(err as Error).message}); the relay will retry`);
						await this.retryLater(row).catch(() => undefined);
					}
				}),
			);
		},

		/** Shortens this node's claim, so that a relay round retries the row in a few seconds. */
		retryLater(this: This, row: OutboxRow): Promise<number> {
			return this.outboxStore().update(
				{ id: row.id },
				{ set: { claimedUntil: new Date(Date.now() + RETRY_MS).toISOString() } },
			);
		},

		async send(this: This, row: OutboxRow): Promise<void> {
			// A stopping adapter drops what it is given without an error: keep the row for another node instead.
			if (this.broker.stopping || this.broker.channelAdapter?.stopping)
				throw new Error("the event bus connection is closing");
			await this.broker.sendToChannel(row.type, row.event, { headers: requestHeaders(row) });
			await this.outboxStore().remove({ id: row.id });
			this.broker.metrics.increment("emporium.events.published", { type: row.type });
		},

		/** Sends stored events nobody holds a claim on (failed sends, or a node that died); claims each first. */
		async relayOutbox(this: This): Promise<number> {
			if (this.relaying || !this.broker.started) return 0;
			this.relaying = true;
			let sent = 0;
			try {
				for (;;) {
					const now = new Date().toISOString();
					const due = await this.outboxStore().find(
						{ claimedUntil: { $lt: now } },
						{ sort: ["createdAt"], limit: BATCH },
					);
					if (due.length === 0) return sent;
					for (const row of due) {
						const claimed = await this.outboxStore().update(
							{ id: row.id, claimedUntil: row.claimedUntil },
							{ set: { claimedUntil: new Date(Date.now() + CLAIM_MS).toISOString() } },
						);
						if (!claimed) continue;
						try {
							await this.send(row);
						} catch (err) {
							// Retried in a few seconds rather than when the claim lapses; the rows behind it get their turn
							// meanwhile.
							await this.retryLater(row);
							throw err;
						}
						sent++;
					}
				}
			} finally {
				this.relaying = false;
			}
		},
	},

	events: {
		"$broker.started"(this: This) {
			this.sendUnsent().catch((err: Error) => this.logger.warn(`Sending events failed: ${err.message}`));
		},
	},

	created(this: This) {
		this.unsent = [];
	},

	started(this: This) {
		this.relayTimer = setInterval(
			() =>
				outsideRequest(() => {
					this.relayOutbox().catch((err: Error) => this.logger.warn(`Outbox relay failed: ${err.message}`));
				}),
			RELAY_INTERVAL_MS,
		);
	},

	stopped(this: This) {
		clearInterval(this.relayTimer);
	},
});
