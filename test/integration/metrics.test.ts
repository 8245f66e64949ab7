import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker, type Context } from "moleculer";
import { dropNamespace } from "../support/cluster";
import Redis from "ioredis";
import { brokerOptions } from "../../moleculer.config";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import { lintMetrics, metricsAddress, startPrometheus, type PrometheusServer } from "../support/prometheus";
import { describeWithInfra, infraMissing } from "../support/infra";
import { freePort } from "../../scripts/nodes";
import { describeWithServers, SERVERS } from "../support/servers";
import type { Page, Product } from "../support/api";
import { ACTORS } from "../../lib/config";

/**
 * Issue 5, metrics and probes: every node serves Prometheus text on METRICS_PORT with the shop's business counters,
 * and answers /health/live and /health/ready on the same port. The text is checked by `promtool check metrics`, and
 * the values are read as a real Prometheus scrapes them (issue 10).
 */

/** The node's exposition text passes `promtool check metrics`, with no finding on the shop's own series. */
async function expectValidExposition(broker: ServiceBroker): Promise<void> {
	const res = await fetch(`${(await metricsAddress(broker)).base}/metrics`);
	expect(res.status).toBe(200);
	expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
	expect(lintMetrics(await res.text()).filter(line => line.startsWith("emporium_"))).toEqual([]);
}

/** METRICS_PORT=0: the OS picks a free port, read back from the reporter. */
const METRICS_ENV = { METRICS: "true", METRICS_PORT: "0" };

/**
 * The nodes whose values are read through Prometheus listen on ports chosen up front, so that one private Prometheus,
 * scraping them every 200 ms, starts first: it begins scraping a target only up to 5 s after it starts.
 */
const SCRAPED = { shop: await freePort(), nats: await freePort(), redis: await freePort() };
const instance = (node: keyof typeof SCRAPED) => `127.0.0.1:${SCRAPED[node]}`;
const scrapedEnv = (node: keyof typeof SCRAPED) => ({ METRICS: "true", METRICS_PORT: String(SCRAPED[node]) });
let prometheus: PrometheusServer;

beforeAll(async () => {
	if (infraMissing(["prometheus"])) return; // the tests that read through it skip (or fail in CI)
	prometheus = await startPrometheus({
		targets: (Object.keys(SCRAPED) as (keyof typeof SCRAPED)[]).map(instance),
		scrapeInterval: "200ms",
	});
});

afterAll(async () => {
	await prometheus?.dispose();
});

describe("Prometheus metrics and node probes on the metrics port", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;
	let customer: string;

	beforeAll(async () => {
		shop = await startShop({
			env: { ...scrapedEnv("shop"), SEED: "true", NAMESPACE: `metrics${randomBytes(3).toString("hex")}` },
		});
		api = client(shop.url);
		admin = (await api.login("admin@example.com", "admin-password")).token;
		customer = (await api.register(`metrics-${randomBytes(3).toString("hex")}@example.com`, "metrics-password")).token;
	});

	afterAll(async () => {
		await shop?.stop();
	});

	describeWithInfra(["prometheus"], "read through a real Prometheus", () => {
		it(
			"counts orders by final status, their value, payment outcomes, stock rejections and events, " +
				"in exposition text promtool accepts",
			async () => {
				const products = (await api.get<Page<Product>>("/api/products?pageSize=50")).body.rows;
				const [plenty, scarce] = products;
				expect((await api.put(`/api/inventory/${scarce.id}`, { available: 1 }, { token: admin })).status).toBe(200);
				const total = 2 * plenty.price;
				const expected: [string, Record<string, string>, number][] = [
					["emporium_orders_total", { status: "CONFIRMED" }, 1],
					["emporium_orders_total", { status: "FAILED" }, 2],
					["emporium_orders_value_total", { currency: plenty.currency }, total],
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
				/** The values of `expected`'s series in a scrape taken after this call. */
				const values = async () => {
					await prometheus.scraped([instance("shop")]);
					return Promise.all(
						expected.map(([name, labels]) => prometheus.value(name, { ...labels, instance: instance("shop") })),
					);
				};
				await expectValidExposition(shop.broker);
				const before = await values();

				const confirmed = await api.post(
					"/api/orders",
					{ items: [{ productId: plenty.id, quantity: 2 }], paymentToken: "tok_visa" },
					{ token: customer },
				);
				expect(confirmed.status).toBe(201);
				expect(confirmed.body).toMatchObject({ currency: plenty.currency, total });
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

				const deltas = async () => {
					const now = await values();
					return expected.map(([name, labels], i) => [name, labels, now[i] - before[i]]);
				};
				// Events are relayed and consumed after the responses: wait until all are counted (or show what is not).
				await eventually(async () => JSON.stringify(await deltas()) === JSON.stringify(expected), 10_000).catch(
					() => undefined,
				);
				// And nothing is counted twice a moment later.
				await new Promise(resolve => setTimeout(resolve, 300));
				expect(await deltas()).toEqual(expected);
				await expectValidExposition(shop.broker);

				// Every series carries the node's labels; the business counters are typed counters with a description.
				expect(await prometheus.metadata("emporium_orders_total")).toEqual({
					type: "counter",
					help: "Orders by final status",
				});
				const orders = await prometheus.query(`emporium_orders_total{instance="${instance("shop")}"}`);
				expect(orders.length).toBeGreaterThanOrEqual(2);
				for (const { metric } of orders)
					expect(metric).toMatchObject({ node_id: shop.broker.nodeID, namespace: shop.broker.namespace });
				expect(await prometheus.metadata("emporium_events_lag")).toEqual({
					type: "histogram",
					help: "Seconds from a domain event's occurrence to the end of its handling",
				});
				// Moleculer's own request metrics are there too, per action.
				expect(
					await prometheus.value("moleculer_request_total", { action: "orders.create", instance: instance("shop") }),
				).toBeGreaterThanOrEqual(3);
			},
		);
	});

	it("answers the probes: live, ready with its checks, and 404 elsewhere", async () => {
		const { base } = await metricsAddress(shop.broker);
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
				...Object.fromEntries(ACTORS.map(name => [`database.${name}`, "ok"])),
			},
		});
		expect((await fetch(`${base}/health`)).status).toBe(404);
	});

	it("is not ready while a service it requires has no node", async () => {
		const ordersOnly = await startShop({ env: METRICS_ENV, services: ["orders"] });
		try {
			const ready = await fetch(`${(await metricsAddress(ordersOnly.broker)).base}/health/ready`);
			expect(ready.status).toBe(503);
			expect(await ready.json()).toMatchObject({
				status: "not ready",
				checks: { broker: "ok", "database.orders": "ok", services: "missing: inventory, payments, products" },
			});
			expect((await fetch(`${(await metricsAddress(ordersOnly.broker)).base}/health/live`)).status).toBe(200);
		} finally {
			await ordersOnly.stop();
		}
	});
});

/**
 * A consumer whose handler always fails: after its deliveries the adapter moves the event to the dead-letter
 * queue, and `emporium_events_dead_lettered_total{type}` counts it.
 */
function deadLetterBroker(
	node: "nats" | "redis",
	namespace: string,
	redisOptions?: Record<string, number>,
): ServiceBroker {
	const broker = new ServiceBroker({
		...brokerOptions({
			...process.env,
			...scrapedEnv(node),
			EVENTS_URL: SERVERS[node].url,
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

/** The dead-letter test, its values read through Prometheus (skipped or failed without it). */
function itCountsDeadLetters(node: "nats" | "redis", deadLetters: string, broker: () => ServiceBroker): void {
	describeWithInfra(["prometheus"], "read through a real Prometheus", () => {
		it(`counts a message moved to the dead-letter ${deadLetters} after its last delivery`, async () => {
			const send = (
				broker() as unknown as { sendToChannel(name: string, payload: unknown): Promise<void> }
			).sendToChannel.bind(broker());
			const deadLettered = async () => {
				await prometheus.scraped([instance(node)]);
				return prometheus.value("emporium_events_dead_lettered_total", {
					type: "order.failed",
					instance: instance(node),
				});
			};
			const before = await deadLettered();
			await send("order.failed", { id: "dlq-probe-1", type: "order.failed", data: {} });
			await eventually(async () => (await deadLettered()) - before === 1, 15_000, 100);
			// Nothing more arrives: one message, one dead letter.
			await new Promise(resolve => setTimeout(resolve, 500));
			expect((await deadLettered()) - before).toBe(1);
			await expectValidExposition(broker());
		});
	});
}

await describeWithServers(["nats"], "dead-lettered events are counted with NATS JetStream", () => {
	const namespace = `dlq${randomBytes(4).toString("hex")}`;
	let broker: ServiceBroker;

	beforeAll(async () => {
		broker = deadLetterBroker("nats", namespace);
		await broker.start();
	});

	afterAll(async () => {
		await broker?.stop();
		await dropNamespace(namespace);
	});

	itCountsDeadLetters("nats", "queue", () => broker);
});

await describeWithServers(["redis"], "dead-lettered events are counted with Redis streams", () => {
	const namespace = `dlq${randomBytes(4).toString("hex")}`;
	let broker: ServiceBroker;

	beforeAll(async () => {
		// The Redis adapter reclaims a failed message only after `minIdleTime` (1 hour by default).
		broker = deadLetterBroker("redis", namespace, {
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

	itCountsDeadLetters("redis", "stream", () => broker);
});
