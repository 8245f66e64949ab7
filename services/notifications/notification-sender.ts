import type { LoggerInstance } from "moleculer";

export interface Notification {
	id: string;
	userId: string;
	type: string;
	title: string;
	body: string;
}

/** Delivery channel for notifications (e-mail, push, ...). The default writes to the log. */
export interface NotificationSender {
	send(notification: Notification): Promise<void>;
}

export class LogSender implements NotificationSender {
	constructor(private readonly logger: LoggerInstance) {}

	async send(n: Notification): Promise<void> {
		this.logger.info(`Notification ${n.type} for user ${n.userId}: ${n.title}`);
	}
}

function money(amount: number, currency: string): string {
	return `${(amount / 100).toFixed(2)} ${currency}`;
}

/** Title and body for each event type a user is told about. */
export function describe(type: string, data: Record<string, any>): { title: string; body: string } {
	switch (type) {
		case "user.registered":
			return { title: "Welcome to Emporium", body: `Hello ${data.name}, your account is ready.` };
		case "order.confirmed":
			return {
				title: "Order confirmed",
				body: `Order ${data.orderId} is confirmed: ${money(data.total, data.currency)}.`,
			};
		case "order.failed":
			return { title: "Order failed", body: `Order ${data.orderId} could not be completed (${data.failureReason}).` };
		case "order.cancelled":
			return { title: "Order cancelled", body: `Order ${data.orderId} was cancelled.` };
		case "order.shipped":
			return { title: "Order shipped", body: `Order ${data.orderId} is on its way.` };
		case "payment.refunded":
			return {
				title: "Refund issued",
				body: `${money(data.amount, data.currency)} was refunded for order ${data.orderId}.`,
			};
		case "inventory.low":
			return {
				title: "Low stock",
				body: `Product ${data.productId} is down to ${data.available} (threshold ${data.threshold}).`,
			};
		default:
			throw new Error(`No notification for event type ${type}`);
	}
}
