import type { LoggerInstance } from "moleculer";
import type { Notification, NotifiedFields, NotifiedType } from "./contract";

/** Delivery channel for notifications (e-mail, push, ...). The default writes to the log. */
export interface NotificationSender {
	send(notification: Notification): Promise<void>;
}

export class LogSender implements NotificationSender {
	constructor(private readonly logger: LoggerInstance) {}

	send(n: Notification): Promise<void> {
		this.logger.info(`Notification ${n.type} for user ${n.userId}: ${n.title}`);
		return Promise.resolve();
	}
}

/**
 * A notified event with the fields its text is written from. The bus validates the envelope, not the payload, so
 * each field is read as it arrived and written into the text as a template literal would write it.
 */
type NotifiedEvent = {
	[E in NotifiedType]: { type: E; data: { readonly [K in NotifiedFields[E]]?: unknown } };
}[NotifiedType];
const NOTIFIED: Record<NotifiedType, true> = {
	"user.registered": true,
	"order.confirmed": true,
	"order.failed": true,
	"order.cancelled": true,
	"order.shipped": true,
	"payment.refunded": true,
	"return.requested": true,
	"return.received": true,
	"return.rejected": true,
	"inventory.low": true,
	"webhook.disabled": true,
};

function isNotified(event: { type: string; data: Readonly<Record<string, unknown>> }): event is NotifiedEvent {
	return Object.hasOwn(NOTIFIED, event.type);
}

function text(value: unknown): string {
	return String(value);
}

function money(amount: unknown, currency: unknown): string {
	return `${(Number(amount) / 100).toFixed(2)} ${text(currency)}`;
}

/** Title and body for each event type a user is told about. */
export function describe(event: { type: string; data: Readonly<Record<string, unknown>> }): {
	title: string;
	body: string;
} {
	if (!isNotified(event)) throw new Error(`No notification for event type ${event.type}`);
	switch (event.type) {
		case "user.registered":
			return { title: "Welcome to Emporium", body: `Hello ${text(event.data.name)}, your account is ready.` };
		case "order.confirmed": {
			const { orderId, total, currency } = event.data;
			return { title: "Order confirmed", body: `Order ${text(orderId)} is confirmed: ${money(total, currency)}.` };
		}
		case "order.failed": {
			const { orderId, failureReason } = event.data;
			return {
				title: "Order failed",
				body: `Order ${text(orderId)} could not be completed (${text(failureReason)}).`,
			};
		}
		case "order.cancelled":
			return { title: "Order cancelled", body: `Order ${text(event.data.orderId)} was cancelled.` };
		case "order.shipped":
			return { title: "Order shipped", body: `Order ${text(event.data.orderId)} is on its way.` };
		case "payment.refunded": {
			const { orderId, amount, currency } = event.data;
			return { title: "Refund issued", body: `${money(amount, currency)} was refunded for order ${text(orderId)}.` };
		}
		case "return.requested": {
			const { returnId, orderId, refundAmount, currency } = event.data;
			return {
				title: "Return requested",
				body:
					`Return ${text(returnId)} of order ${text(orderId)} is registered: ` +
					`${money(refundAmount, currency)} will be refunded once we receive the goods.`,
			};
		}
		case "return.received": {
			const { returnId, orderId, refundAmount, currency } = event.data;
			return {
				title: "Return received",
				body:
					`We received return ${text(returnId)} of order ${text(orderId)}: ` +
					`${money(refundAmount, currency)} is on its way back to you.`,
			};
		}
		case "return.rejected":
			return {
				title: "Return rejected",
				body: `Return ${text(event.data.returnId)} of order ${text(event.data.orderId)} was rejected.`,
			};
		case "inventory.low": {
			const { productId, available, threshold } = event.data;
			return {
				title: "Low stock",
				body: `Product ${text(productId)} is down to ${text(available)} (threshold ${text(threshold)}).`,
			};
		}
		case "webhook.disabled": {
			const { webhookId, url, failingSince } = event.data;
			return {
				title: "Webhook disabled",
				body: `Webhook ${text(webhookId)} (${text(url)}) failed without a success since ${text(failingSince)}.`,
			};
		}
	}
}
