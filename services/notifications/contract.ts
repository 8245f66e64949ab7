// The notifications actor's contract: its entity, and the fields it reads of the events it consumes. No actor calls
// it; each event's payload is declared by its publisher, and the check below ties the two together.
import type { DomainEventType, EventPayload } from "../../lib/events";
import type { Doc } from "../../lib/storage";

/** One notification per event and recipient; `data` is the event's payload as it arrived. */
export interface Notification extends Doc {
	userId: string;
	eventId: string;
	type: DomainEventType;
	title: string;
	body: string;
	data: Record<string, unknown>;
	createdAt: string;
}

/** The events a user is told about, and the payload fields each notification is written from. */
export interface NotifiedFields {
	"user.registered": "userId" | "name";
	"order.confirmed": "userId" | "orderId" | "total" | "currency";
	"order.failed": "userId" | "orderId" | "failureReason";
	"order.cancelled": "userId" | "orderId";
	"order.shipped": "userId" | "orderId";
	"payment.refunded": "userId" | "orderId" | "amount" | "currency";
	"return.requested": "userId" | "orderId" | "returnId" | "refundAmount" | "currency";
	"return.received": "userId" | "orderId" | "returnId" | "refundAmount" | "currency";
	"return.rejected": "userId" | "orderId" | "returnId";
	"inventory.low": "productId" | "available" | "threshold";
	"webhook.disabled": "webhookId" | "url" | "failingSince";
}
export type NotifiedType = keyof NotifiedFields;

/**
 * Fails the type check, naming the field, when a publisher's declared payload (`EventPayloads`) lacks a field a
 * notification is written from. An event whose publisher declares no payload yet is not checked.
 */
type Unpublished = { [E in NotifiedType]: Exclude<NotifiedFields[E], keyof EventPayload<E>> }[NotifiedType];
type EveryFieldPublished<Missing extends never> = Missing;
export type _NotifiedFieldsArePublished = EveryFieldPublished<Unpublished>;
