import { randomUUID } from "node:crypto";

/** Every domain event published on the bus (README "Domain events" lists their payloads). */
export const DOMAIN_EVENTS = [
	"user.registered",
	"product.created",
	"product.updated",
	"product.deleted",
	"order.created",
	"order.confirmed",
	"order.failed",
	"order.cancelled",
	"order.shipped",
	"order.delivered",
	"order.returned",
	"return.requested",
	"return.received",
	"return.rejected",
	"payment.succeeded",
	"payment.failed",
	"payment.refunded",
	"inventory.reserved",
	"inventory.released",
	"inventory.low",
	"webhook.disabled",
] as const;
export type DomainEventType = (typeof DOMAIN_EVENTS)[number];

/** Messages whose handler kept failing end up here after their retries. */
export const DEAD_LETTER_CHANNEL = "emporium.dead-letter";

/**
 * The payload of each domain event type. Empty here: each actor's `contract.ts` adds the events it publishes by
 * declaration merging, so publishing a type with the wrong payload fails the type check.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface EventPayloads {}
export type EventPayload<E extends DomainEventType> = E extends keyof EventPayloads ? EventPayloads[E] : never;

export interface DomainEvent<T = Record<string, unknown>> {
	id: string;
	type: DomainEventType;
	occurredAt: string;
	source: string;
	correlationId: string | null;
	data: T;
}

export function createEvent<T>(
	type: DomainEventType,
	data: T,
	source: string,
	opts: { id?: string; correlationId?: string | null } = {},
): DomainEvent<T> {
	return {
		id: opts.id ?? randomUUID(),
		type,
		occurredAt: new Date().toISOString(),
		source,
		correlationId: opts.correlationId ?? null,
		data,
	};
}

/** The envelope as a fastest-validator schema, for channel handlers' `params`. */
export const EVENT_PARAMS = {
	id: "string",
	type: "string",
	occurredAt: "string",
	source: "string",
	correlationId: { type: "string", nullable: true, optional: true },
	data: "object",
} as const;
