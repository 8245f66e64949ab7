import type { ServiceBroker } from "moleculer";

/** Business metrics. Labels stay low-cardinality: statuses, outcomes, event types; never user or order ids. */
export const BUSINESS_METRICS = [
	{ type: "counter", name: "emporium.orders.total", labelNames: ["status"], description: "Orders by final status" },
	{ type: "counter", name: "emporium.orders.value", labelNames: ["currency"], description: "Value of confirmed orders in minor units" },
	{ type: "counter", name: "emporium.payments.total", labelNames: ["outcome"], description: "Payment attempts by outcome" },
	{ type: "counter", name: "emporium.inventory.rejections", labelNames: [], description: "Stock reservations rejected for lack of stock" },
	{ type: "counter", name: "emporium.notifications.sent", labelNames: ["type"], description: "Notifications delivered" },
	{ type: "counter", name: "emporium.events.published", labelNames: ["type"], description: "Domain events relayed to the bus" },
	{ type: "counter", name: "emporium.events.consumed", labelNames: ["type", "group"], description: "Domain events handled" },
	{ type: "counter", name: "emporium.events.dead_lettered", labelNames: ["type"], description: "Domain events moved to the dead-letter channel" },
] as const;

export function registerBusinessMetrics(broker: ServiceBroker): void {
	for (const metric of BUSINESS_METRICS) broker.metrics.register({ ...metric, labelNames: [...metric.labelNames] });
}
