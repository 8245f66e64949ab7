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
	"payment.succeeded",
	"payment.failed",
	"payment.refunded",
	"inventory.reserved",
	"inventory.released",
	"inventory.low",
] as const;
export type DomainEventType = (typeof DOMAIN_EVENTS)[number];

/** Messages whose handler kept failing end up here after their retries. */
export const DEAD_LETTER_CHANNEL = "emporium.dead-letter";

export interface DomainEvent<T = Record<string, any>> {
	id: string;
	type: DomainEventType;
	occurredAt: string;
	source: string;
	correlationId: string | null;
	data: T;
}

export function createEvent<T extends Record<string, any>>(
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
