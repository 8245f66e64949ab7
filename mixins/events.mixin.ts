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
/** Sent events' rows wait this long to be deleted together: one DELETE per burst instead of one per event. */
const CLEAR_AFTER_MS = 20;

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
	/** Events whose outbox write failed after their change was made (no transaction to undo it): kept here instead. */
	unstored: Map<string, OutboxRow>;
	/** Sends under way, which a stopping service waits for. */
	sending: Set<Promise<void>>;
	/** Ids of sent events whose outbox rows are not deleted yet (`clearSent`). */
	sentIds: string[];
	clearTimer?: NodeJS.Timeout;
	clearSent(): Promise<void>;
	sendScheduled: boolean;
	relaying: boolean;
	relayTimer?: NodeJS.Timeout;
	outboxStore(): Store<OutboxRow>;
	busOpen(): boolean;
	sendSoon(row: OutboxRow): void;
	sendUnsent(): Promise<void>;
	sendOne(row: OutboxRow): Promise<void>;
	storeUnstored(): Promise<void>;
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
 * the row (a burst's rows in one statement); if it cannot (bus down, crash), the claim lapses and the periodic relay
 * of any node of the service sends it later. So an event survives a bus outage or a crash. Event ids may be
 * deterministic (e.g. `<orderId>:confirmed`), which makes re-publishing after a crash a no-op; consumers deduplicate
 * by id for the rest (at-least-once).
 *
 * Without a transaction (memory://, MongoDB, or a write outside one) the change is made before `publishEvent` is called
 * and stands whatever happens next: if the outbox write fails, the event is kept in this process instead and sent,
 * or stored by the relay, as soon as the bus or the store answers. Only a crash in that window loses it (README,
 * Guarantees). A stopping service sends what its last requests published before the bus closes.
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
				// In a transaction the change rolls back with the event: the caller's request fails whole.
				if (opts.tx) throw err;
				this.logger.warn(`Event ${row.id} kept in memory: its outbox write failed (${(err as Error).message})`);
				this.unstored.set(row.id, row);
			}
			// Only a committed change may be announced.
			if (opts.tx) opts.tx.afterCommit(() => this.sendSoon(row));
			else this.sendSoon(row);
			return event;
		},

		outboxStore(this: This): Store<OutboxRow> {
			return this.storeFor(outboxCollection(this.name));
		},

		/** From the bus's connection (after the consumers of this process subscribed) until it starts closing. */
		busOpen(this: This): boolean {
			const adapter = this.broker.channelAdapter;
			// Every adapter of @moleculer/channels sets `connected` (not in the typings) in connect() and clears it on close.
			return !!adapter && "connected" in adapter && adapter.connected === true && !adapter.stopping;
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
			// Until the bus is open the rows wait here; "$broker.started" sends them. While the broker stops, requests
			// still draining publish too: their events go out until the bus closes, not a claim period later.
			if (!this.busOpen()) return;
			const sending = Promise.all(this.unsent.splice(0).map(row => this.sendOne(row))).then(() => undefined);
			this.sending.add(sending);
			await sending.finally(() => this.sending.delete(sending));
		},

		async sendOne(this: This, row: OutboxRow): Promise<void> {
			try {
				await this.send(row);
				this.unstored.delete(row.id);
			} catch (err) {
				this.logger.warn(`Event ${row.id} not sent yet (${(err as Error).message}); the relay will retry`);
				if (this.unstored.has(row.id)) return;
				await this.retryLater(row).catch((e: Error) =>
					this.logger.warn(`Event ${row.id} waits for its claim to lapse (${e.message})`),
				);
			}
		},

		/** Events kept in memory: stored for the relay (or sent, while the store is still failing). */
		async storeUnstored(this: This): Promise<void> {
			for (const row of [...this.unstored.values()]) {
				try {
					await this.outboxStore().insert({ ...row, claimedUntil: new Date(0).toISOString() });
				} catch (err) {
					if (!(err instanceof DuplicateKeyError)) {
						await this.send(row);
						this.unstored.delete(row.id);
						continue;
					}
				}
				this.unstored.delete(row.id);
			}
		},

		/** Shortens this node's claim, so that a relay round retries the row in a few seconds. */
		retryLater(this: This, row: OutboxRow): Promise<number> {
			return this.outboxStore().update(
				{ id: row.id },
				{ set: { claimedUntil: new Date(Date.now() + RETRY_MS).toISOString() } },
			);
		},

		async send(this: This, row: OutboxRow): Promise<void> {
			// A closing adapter drops what it is given without an error: keep the row for another node instead.
			if (!this.busOpen()) throw new Error("the event bus connection is closed or closing");
			await this.broker.sendToChannel(row.type, row.event, { headers: requestHeaders(row) });
			this.broker.metrics.increment("emporium.events.published", { type: row.type });
			this.sentIds.push(row.id);
			this.clearTimer ??= setTimeout(() => {
				this.clearSent().catch((err: Error) => this.logger.warn(`Clearing sent events failed: ${err.message}`));
			}, CLEAR_AFTER_MS);
		},

		/**
		 * Deletes the rows of the events sent since the last call, in one statement. Rows it fails to delete keep their
		 * claims and are sent again once those lapse: a duplicate, which consumers drop by id, never a loss.
		 */
		async clearSent(this: This): Promise<void> {
			clearTimeout(this.clearTimer);
			this.clearTimer = undefined;
			const ids = this.sentIds.splice(0);
			if (ids.length) await this.outboxStore().remove({ id: { $in: ids } });
		},

		/** Sends stored events nobody holds a claim on (failed sends, or a node that died); claims each first. */
		async relayOutbox(this: This): Promise<number> {
			if (this.relaying || !this.busOpen()) return 0;
			this.relaying = true;
			let sent = 0;
			try {
				await this.storeUnstored();
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
		this.unstored = new Map();
		this.sending = new Set();
		this.sentIds = [];
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

	/**
	 * The service's requests have drained (context tracking) and its store is still open; the bus closes only once
	 * every service has stopped. So what the last requests published is sent now, not a claim period later by
	 * another node.
	 */
	async stopped(this: This) {
		clearInterval(this.relayTimer);
		await this.sendUnsent();
		await Promise.allSettled([...this.sending]);
		await this.clearSent().catch((err: Error) => this.logger.warn(`Clearing sent events failed: ${err.message}`));
		if (this.unstored.size > 0) {
			await this.storeUnstored().catch((err: Error) => this.logger.warn(`Storing kept events failed: ${err.message}`));
			for (const id of this.unstored.keys()) this.logger.error(`Event ${id} is lost: neither stored nor sent`);
		}
	},
});
