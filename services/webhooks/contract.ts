// The webhooks actor's contract: its entities and collections, the actions the gateway calls (all admin only),
// and the event it publishes when it disables a failing webhook.
import type { DomainEventType } from "../../lib/events";
import { plainText, type Page } from "../../lib/actor";
import { createHash, randomUUID } from "node:crypto";
import { DOMAIN_EVENTS, type DomainEvent } from "../../lib/events";
import type { CollectionSpec, Doc } from "../../lib/storage";
import type { DeliveryStatus } from "./delivery-state";

/** A subscription: every domain event of a listed type (or all with `["*"]`) is POSTed, signed, to `url`. */
export interface Webhook extends Doc {
	url: string;
	events: (DomainEventType | "*")[];
	description: string;
	active: boolean;
	/** The signing key; answered only by create and rotate-secret. */
	secret: string;
	/** The first failed attempt since the last success; null while deliveries succeed (auto-disable). */
	failingSince: string | null;
	createdAt: string;
	updatedAt: string;
}
/** A webhook as the API shows it. */
export type WebhookView = Omit<Webhook, "secret">;
/** A webhook as create and rotate-secret answer it: the only time the secret is shown. */
export type WebhookWithSecret = WebhookView & { secret: string };

/** One event to one webhook; its id is derived from both, so a redelivered event makes no second delivery. */
export interface Delivery extends Doc {
	webhookId: string;
	eventId: string;
	eventType: DomainEventType;
	/** The exact bytes sent (the event envelope as JSON): every attempt signs and sends the same body. */
	body: string;
	status: DeliveryStatus;
	attempts: number;
	retryFrom: number;
	lastStatusCode: number | null;
	lastError: string | null;
	nextAttemptAt: string | null;
	/** Until then one node holds the delivery (lease); others leave it and the webhook's later deliveries alone. */
	claimedUntil: string;
	/** The node that last claimed it (operators: who is sending). */
	claimedBy: string;
	/** The event's time: a webhook's deliveries go out in this order. */
	occurredAt: string;
	createdAt: string;
	updatedAt: string;
}
/** A delivery in the delivery log (the body is not repeated). */
export type DeliveryView = Omit<Delivery, "body" | "claimedUntil" | "claimedBy" | "retryFrom" | "occurredAt">;

/** A claim that has lapsed (nobody holds the delivery). */
export const EPOCH = new Date(0).toISOString();

/** The delivery of `event` to webhook `webhookId`, due now; its id is derived from both (one per event and webhook). */
export function newDelivery(webhookId: string, event: DomainEvent, nowMs: number): Delivery {
	const now = new Date(nowMs).toISOString();
	return {
		id: createHash("sha256").update(`${webhookId}|${event.id}`).digest("hex").slice(0, 32),
		webhookId,
		eventId: event.id,
		eventType: event.type,
		body: JSON.stringify(event),
		status: "PENDING",
		attempts: 0,
		retryFrom: 0,
		lastStatusCode: null,
		lastError: null,
		nextAttemptAt: now,
		claimedUntil: EPOCH,
		claimedBy: "",
		occurredAt: event.occurredAt,
		createdAt: now,
		updatedAt: now,
	};
}

export const WEBHOOKS: CollectionSpec<Webhook> = {
	name: "webhooks",
	fields: {
		...{ url: "text", events: "json", description: "string", active: "bool", secret: "string" },
		...{ failingSince: "string", createdAt: "string", updatedAt: "string" },
	},
	indexes: ["active"],
};
export const DELIVERIES: CollectionSpec<Delivery> = {
	name: "webhook_deliveries",
	fields: {
		...{ webhookId: "string", eventId: "string", eventType: "string", body: "text", status: "string" },
		...{ attempts: "int", retryFrom: "int", lastStatusCode: "int", lastError: "text", nextAttemptAt: "string" },
		...{ claimedUntil: "string", claimedBy: "string", occurredAt: "string", createdAt: "string" },
		updatedAt: "string",
	},
	indexes: ["webhookId", "status"],
};
/** The params rules of a webhook's fields: an unknown event type is a 422. */
export const url = plainText({ type: "string", min: 1, max: 2048, trim: true });
export const events = {
	type: "array",
	min: 1,
	max: 64,
	items: { type: "enum", values: ["*", ...DOMAIN_EVENTS] },
} as const;
export const description = plainText({ type: "string", max: 500, optional: true });

export const view = ({ secret: _secret, ...hook }: Webhook): WebhookView => hook;
export const deliveryView = ({
	body: _b,
	claimedUntil: _c,
	retryFrom: _r,
	occurredAt: _o,
	...d
}: Delivery): DeliveryView => d;

export function subscribes(hook: Webhook, type: DomainEventType): boolean {
	return hook.events.includes("*") || hook.events.includes(type);
}

export function newWebhook(fields: WebhookFields, secret: string, nowMs: number): Webhook {
	const now = new Date(nowMs).toISOString();
	return {
		id: randomUUID(),
		url: fields.url,
		events: fields.events,
		description: fields.description ?? "",
		active: fields.active ?? true,
		secret,
		failingSince: null,
		createdAt: now,
		updatedAt: now,
	};
}

export interface WebhookFields {
	url: string;
	events: (DomainEventType | "*")[];
	description?: string;
	active?: boolean;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		"webhooks.create": { params: WebhookFields; result: WebhookWithSecret };
		"webhooks.list": { params: { page?: number; pageSize?: number }; result: Page<WebhookView> };
		"webhooks.get": { params: { id: string }; result: WebhookView };
		"webhooks.update": { params: { id: string } & Partial<WebhookFields>; result: WebhookView };
		"webhooks.remove": { params: { id: string }; result: { id: string; removed: true } };
		"webhooks.rotateSecret": { params: { id: string }; result: WebhookWithSecret };
		"webhooks.deliveries": {
			params: { id: string; status?: DeliveryStatus; page?: number; pageSize?: number };
			result: Page<DeliveryView>;
		};
		"webhooks.redeliver": { params: { id: string; deliveryId: string }; result: DeliveryView };
	}
}

declare module "../../lib/events" {
	interface EventPayloads {
		/** A webhook failed without a success for WEBHOOK_DISABLE_AFTER_HOURS and was set inactive (admins are told). */
		"webhook.disabled": { webhookId: string; url: string; failingSince: string };
	}
}
