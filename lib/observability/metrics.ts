import type { Context, Middleware, ServiceBroker } from "moleculer";
import { DOMAIN_EVENTS, type DomainEvent } from "../events";

/** Business metrics. Labels stay low-cardinality: statuses, outcomes, event types; never user or order ids. */
export const BUSINESS_METRICS = [
	{ type: "counter", name: "emporium.orders.total", labelNames: ["status"], description: "Orders by final status" },
	{
		type: "counter",
		name: "emporium.orders.value",
		labelNames: ["currency"],
		description: "Value of confirmed orders in minor units",
	},
	{
		type: "counter",
		name: "emporium.payments.total",
		labelNames: ["outcome"],
		description: "Payment attempts by outcome",
	},
	{
		type: "counter",
		name: "emporium.inventory.rejections",
		labelNames: [],
		description: "Stock reservations rejected for lack of stock",
	},
	{
		type: "counter",
		name: "emporium.notifications.sent",
		labelNames: ["type"],
		description: "Notifications delivered",
	},
	{
		type: "counter",
		name: "emporium.events.published",
		labelNames: ["type"],
		description: "Domain events relayed to the bus",
	},
	{
		type: "counter",
		name: "emporium.events.consumed",
		labelNames: ["type", "group"],
		description: "Domain events handled",
	},
	{
		type: "counter",
		name: "emporium.events.dead_lettered",
		labelNames: ["type"],
		description: "Domain events moved to the dead-letter channel",
	},
	{
		type: "histogram",
		name: "emporium.events.lag",
		labelNames: ["type", "group"],
		unit: "second",
		description: "Seconds from a domain event's occurrence to the end of its handling",
		buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
	},
] as const;

export function registerBusinessMetrics(broker: ServiceBroker): void {
	for (const metric of BUSINESS_METRICS) broker.metrics.register({ ...metric, labelNames: [...metric.labelNames] });
}

const KNOWN_EVENTS = new Set<string>(DOMAIN_EVENTS);

/** Observes `emporium.events.lag` when a channel handler has handled a domain event (retries included). */
export function EventLagMiddleware(): Middleware {
	let broker: ServiceBroker;
	type Handler = (ctx: Context<Partial<DomainEvent>>, ...rest: unknown[]) => Promise<unknown>;
	return {
		name: "EventLag",
		created(b: ServiceBroker) {
			broker = b;
		},
		localChannel(handler: Handler, chan: { context?: boolean; group: string }) {
			if (!chan.context) return handler;
			return async (ctx: Context<Partial<DomainEvent>>, ...rest: unknown[]) => {
				const result = await handler(ctx, ...rest);
				const occurredAt = Date.parse(ctx.params?.occurredAt ?? "");
				if (Number.isFinite(occurredAt)) {
					const type = KNOWN_EVENTS.has(ctx.params.type ?? "") ? ctx.params.type! : "other";
					broker.metrics.observe("emporium.events.lag", Math.max(0, Date.now() - occurredAt) / 1000, {
						type,
						group: chan.group,
					});
				}
				return result;
			};
		},
	} as unknown as Middleware;
}

/**
 * What the NATS, Redis and Kafka adapters of @moleculer/channels 0.1.8 count once a message is in the dead-letter
 * queue.
 */
const ADAPTER_DEAD_LETTERED = "moleculer.channels.messages.deadLettering.total";

interface ChannelAdapter {
	opts: { prefix?: string };
	metricsIncrement(metric: string, chan: { name: string; group: string }): void;
}

/**
 * Counts `emporium.events.dead_lettered{type}` where the adapter moves a message to the dead-letter queue, that
 * is, after its `moveToDeadLetter` succeeded; the in-process bus of one-process mode counts the same way.
 */
export function countDeadLetters(broker: ServiceBroker): void {
	const adapter = (broker as unknown as { channelAdapter?: ChannelAdapter }).channelAdapter;
	if (!adapter) return;
	const increment = adapter.metricsIncrement.bind(adapter);
	const prefix = adapter.opts.prefix ? `${adapter.opts.prefix}.` : "";
	adapter.metricsIncrement = (metric, chan) => {
		increment(metric, chan);
		if (metric !== ADAPTER_DEAD_LETTERED) return;
		const channel = chan.name.startsWith(prefix) ? chan.name.slice(prefix.length) : chan.name;
		broker.metrics.increment("emporium.events.dead_lettered", { type: KNOWN_EVENTS.has(channel) ? channel : "other" });
	};
}
