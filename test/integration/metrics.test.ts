import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker, type Context } from "moleculer";
import { dropNamespace } from "../support/cluster";
import Redis from "ioredis";
import { brokerOptions } from "../../moleculer.config";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import { parsePrometheusText, sampleValue, type MetricFamily } from "../support/prometheus";
import { describeWithServers, SERVERS } from "../support/servers";
import type { Page, Product } from "../support/api";

/**
 * Issue 5, metrics and probes: every node serves Prometheus text on METRICS_PORT with the shop's business counters,
 * and answers /health/live and /health/ready on the same port.
 */

function metricsBase(broker: ServiceBroker): string {
	const [reporter] = (broker.metrics as unknown as { reporter: { server: { address(): AddressInfo } }[] }).reporter;
	return `http://127.0.0.1:${reporter.server.address().port}`;
}

async function scrape(broker: ServiceBroker): Promise<Map<string, MetricFamily>> {
	const res = await fetch(`${metricsBase(broker)}/metrics`);
	expect(res.status).toBe(200);
	expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
	return parsePrometheusText(await res.text());
}

/** METRICS_PORT=0: the OS picks a free port, read back from the reporter. */
const METRICS_ENV = { METRICS: "true", METRICS_PORT: "0" };

describe("Prometheus metrics and node probes on the metrics port", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;
	let customer: string;

	beforeAll(async () => {
		shop = await startShop({ env: { ...METRICS_ENV, SEED: "true" } });
		api = client(shop.url);
		admin = (await api.login("admin@example.com", "admin-password")).token;
		customer = (await api.register(`metrics-${randomBytes(3).toString("hex")}@example.com`, "metrics-password")).token;
	});

	afterAll(async () => {
		await shop?.stop();
	});

	it(
		"counts orders by final status, their value, payment outcomes, stock rejections and events, " +
			"in valid exposition text",
		async () => {
			const products = (await api.get<Page<Product>>("/api/products?pageSize=50")).body.rows;
			const [plenty, scarce] = products;
			expect((await api.put(`/api/inventory/${scarce.id}`, { available: 1 }, { token: admin })).status).toBe(200);
			const before = await scrape(shop.broker);

			const confirmed = await api.post(
				"/api/orders",
				{ items: [{ productId: plenty.id, quantity: 2 }], paymentToken: "tok_visa" },
				{ token: customer },
			);
			expect(confirmed.status).toBe(201);
			expect(
				(
					await api.post(
						"/api/orders",
						{ items: [{ productId: plenty.id, quantity: 1 }], paymentToken: "tok_declined" },
						{ token: customer },
					)
				).status,
			).toBe(402);
			expect(
				(
					await api.post(
						"/api/orders",
						{ items: [{ productId: scarce.id, quantity: 2 }], paymentToken: "tok_visa" },
						{ token: customer },
					)
				).status,
			).toBe(409);
			const { currency, total } = confirmed.body as { currency: string; total: number };
			expect(total).toBe(2 * plenty.price);

			const expected: [string, Record<string, string>, number][] = [
				["emporium_orders_total", { status: "CONFIRMED" }, 1],
				["emporium_orders_total", { status: "FAILED" }, 2],
				["emporium_orders_value_total", { currency }, total],
				["emporium_payments_total", { outcome: "SUCCEEDED" }, 1],
				["emporium_payments_total", { outcome: "DECLINED" }, 1],
				["emporium_inventory_rejections_total", {}, 1],
				["emporium_events_published_total", { type: "order.created" }, 3],
				["emporium_events_published_total", { type: "order.confirmed" }, 1],
				["emporium_events_published_total", { type: "order.failed" }, 2],
				["emporium_events_consumed_total", { type: "order.confirmed", group: "notifications" }, 1],
				["emporium_events_consumed_total", { type: "order.failed", group: "notifications" }, 2],
				["emporium_notifications_sent_total", { type: "order.confirmed" }, 1],
				["emporium_notifications_sent_total", { type: "order.failed" }, 2],
				["emporium_events_lag_count", { type: "order.failed", group: "notifications" }, 2],
			];
			const deltas = (after: Map<string, MetricFamily>) =>
				expected.map(([name, labels]) => [
					name,
					labels,
					sampleValue(after, name, labels) - sampleValue(before, name, labels),
				]);
			// Events are relayed and consumed after the responses: wait until all are counted (or show what is not).
			let after = await scrape(shop.broker);
			await eventually(async () => {
				after = await scrape(shop.broker);
				return JSON.stringify(deltas(after)) === JSON.stringify(expected);
			}).catch(() => undefined);
			// And nothing is counted twice a moment later.
			await new Promise(resolve => setTimeout(resolve, 300));
			after = await scrape(shop.broker);
			expect(deltas(after)).toEqual(expected);

			// Every sample carries the node's labels; the business counters are typed counters with a description.
			const orders = after.get("emporium_orders_total")!;
			expect(orders).toMatchObject({ type: "counter", help: "Orders by final status" });
			for (const sample of orders.samples)
				expect(sample.labels).toMatchObject({ node_id: shop.broker.nodeID, namespace: shop.broker.namespace });
			expect(after.get("emporium_events_lag")).toMatchObject({
				type: "histogram",
				help: "Seconds from a domain event's occurrence to the end of its handling",
			});
			// Moleculer's own request metrics are there too, per action.
			expect(sampleValue(after, "moleculer_request_total", { action: "orders.create" })).toBeGreaterThanOrEqual(3);
		},
	);

	it("answers the probes: live, ready with its checks, and 404 elsewhere", async () => {
		const base = metricsBase(shop.broker);
		const live = await fetch(`${base}/health/live`);
		expect(live.status).toBe(200);
		expect(await live.json()).toEqual({ status: "ok", nodeID: shop.broker.nodeID });

		const ready = await fetch(`${base}/health/ready`);
		expect(ready.status).toBe(200);
		expect(await ready.json()).toEqual({
			status: "ready",
			nodeID: shop.broker.nodeID,
			checks: {
				broker: "ok",
				services: "ok",
				...Object.fromEntries(
					["products", "orders", "inventory", "payments", "users", "notifications"].map(name => [
						`database.${name}`,
						"ok",
					]),
				),
			},
		});
		expect((await fetch(`${base}/health`)).status).toBe(404);
	});

	it("is not ready while a service it requires has no node", async () => {
		const ordersOnly = await startShop({ env: METRICS_ENV, services: ["orders"] });
		try {
			const ready = await fetch(`${metricsBase(ordersOnly.broker)}/health/ready`);
			expect(ready.status).toBe(503);
			expect(await ready.json()).toMatchObject({
				status: "not ready",
				checks: { broker: "ok", "database.orders": "ok", services: "missing: inventory, payments, products" },
			});
			expect((await fetch(`${metricsBase(ordersOnly.broker)}/health/live`)).status).toBe(200);
		} finally {
			await ordersOnly.stop();
		}
	});
});

/**
 * A consumer whose handler always fails: after its deliveries the adapter moves the event to the dead-letter
 * queue, and `emporium_events_dead_lettered_total{type}` counts it.
 */
function deadLetterBroker(eventsUrl: string, namespace: string, redisOptions?: Record<string, number>): ServiceBroker {
	const broker = new ServiceBroker({
		...brokerOptions({
			...process.env,
			...METRICS_ENV,
			EVENTS_URL: eventsUrl,
			NAMESPACE: namespace,
			NODEID: `${namespace}-dlq`,
			TRANSPORTER: "",
			CACHER: "",
		}),
		logger: false,
	});
	broker.createService({
		name: "failing",
		channels: {
			"order.failed": {
				context: true,
				maxRetries: 2,
				redis: redisOptions,
				handler(ctx: Context) {
					throw new Error(`cannot handle ${(ctx.params as { id: string }).id}`);
				},
			},
		},
	});
	return broker;
}

async function expectDeadLettered(broker: ServiceBroker): Promise<void> {
	const send = (
		broker as unknown as { sendToChannel(name: string, payload: unknown): Promise<void> }
	).sendToChannel.bind(broker);
	const before = sampleValue(await scrape(broker), "emporium_events_dead_lettered_total", { type: "order.failed" });
	await send("order.failed", { id: "dlq-probe-1", type: "order.failed", data: {} });
	await eventually(
		async () =>
			sampleValue(await scrape(broker), "emporium_events_dead_lettered_total", { type: "order.failed" }) - before === 1,
		15_000,
		100,
	);
	// Nothing more arrives: one message, one dead letter.
	await new Promise(resolve => setTimeout(resolve, 500));
	expect(
		sampleValue(await scrape(broker), "emporium_events_dead_lettered_total", { type: "order.failed" }) - before,
	).toBe(1);
}

await describeWithServers(["nats"], "dead-lettered events are counted with NATS JetStream", () => {
	const namespace = `dlq${randomBytes(4).toString("hex")}`;
	let broker: ServiceBroker;

	beforeAll(async () => {
		broker = deadLetterBroker(SERVERS.nats.url, namespace);
		await broker.start();
	});

	afterAll(async () => {
		await broker?.stop();
		await dropNamespace(namespace);
	});

	it("counts a message moved to the dead-letter queue after its last delivery", async () => {
		await expectDeadLettered(broker);
	});
});

await describeWithServers(["redis"], "dead-lettered events are counted with Redis streams", () => {
	const namespace = `dlq${randomBytes(4).toString("hex")}`;
	let broker: ServiceBroker;

	beforeAll(async () => {
		// The Redis adapter reclaims a failed message only after `minIdleTime` (1 hour by default).
		broker = deadLetterBroker(SERVERS.redis.url, namespace, {
			minIdleTime: 100,
			claimInterval: 50,
			processingAttemptsInterval: 50,
		});
		await broker.start();
	});

	afterAll(async () => {
		await broker?.stop();
		const redis = new Redis(SERVERS.redis.url);
		try {
			const keys = await redis.keys(`${namespace}.*`);
			if (keys.length) await redis.del(...keys);
		} finally {
			redis.disconnect();
		}
	});

	it("counts a message moved to the dead-letter stream after its last delivery", async () => {
		await expectDeadLettered(broker);
	});
});
