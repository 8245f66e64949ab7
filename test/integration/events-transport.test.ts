import { afterAll, beforeAll, expect, it } from "vitest";
import { connect } from "nats";
import { Redis } from "ioredis";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import { createTestDatabase } from "../support/databases";
import { describeWithServers, SERVERS } from "../support/servers";
import { dropNamespace, uniqueNamespace } from "../support/cluster";
import type { Notification, Page, Product } from "../support/api";

/**
 * Domain events over each real bus, with two `notifications` nodes in one consumer group: every event is handled
 * by one of them, once, and each notification exists once. The shop and both notifiers are separate brokers joined
 * by NATS; the notifiers share one MariaDB database, as two production nodes would.
 */
const CUSTOMERS = 12;
/** Per customer: user.registered, order.confirmed (tok_visa) and order.failed (tok_declined). */
const EVENTS_PER_CUSTOMER = ["user.registered", "order.confirmed", "order.failed"];

const BUSES = [
	{ name: "NATS JetStream", url: SERVERS.nats.url, servers: ["nats", "mariadb"] as const },
	{ name: "Redis Streams", url: SERVERS.redis.url, servers: ["nats", "mariadb", "redis"] as const },
];

/** Deliveries a notifications node handled (its emporium.events.consumed counter). */
function handled(node: Shop): number {
	const snapshot = (node.broker.metrics.getMetric("emporium.events.consumed")?.snapshot() ?? []) as { value: number }[];
	return snapshot.reduce((sum, { value }) => sum + value, 0);
}

/** How many messages the bus itself holds for a channel: proof the events crossed it. */
async function messagesOnBus(busUrl: string, namespace: string, channel: string): Promise<number> {
	if (busUrl.startsWith("redis:")) {
		const redis = new Redis(busUrl);
		try {
			return await redis.xlen(`${namespace}.${channel}`);
		} finally {
			redis.disconnect();
		}
	}
	const nats = await connect({ servers: new URL(busUrl).host });
	try {
		const jsm = await nats.jetstreamManager();
		return (await jsm.streams.info(`${namespace}.${channel}`.split(".").join("_"))).state.messages;
	} finally {
		await nats.close();
	}
}

for (const bus of BUSES) {
	await describeWithServers([...bus.servers], `domain events over ${bus.name} with two notifications nodes`, () => {
		const namespace = uniqueNamespace("events");
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		const notifiers: Shop[] = [];
		let shop: Shop | undefined;
		let api: Client;
		const customers: { token: string; user: { id: string } }[] = [];

		beforeAll(async () => {
			db = await createTestDatabase("mariadb");
			const env = {
				NAMESPACE: namespace,
				TRANSPORTER: SERVERS.nats.url,
				EVENTS_URL: bus.url,
				NOTIFICATIONS_DB_URI: db.uri,
			};
			// Consumer groups start at new messages: the notifiers subscribe before anything is published.
			for (const i of [1, 2]) {
				// Metrics on (Prometheus on a free port) for the per-node count of handled events.
				notifiers.push(
					await startShop({
						env: { ...env, NODEID: `${namespace}-notifications-${i}`, METRICS: "true", METRICS_PORT: "0" },
						services: ["notifications"],
					}),
				);
			}
			shop = await startShop({
				env: { ...env, NODEID: `${namespace}-shop` },
				services: ["api", "users", "products", "inventory", "orders", "payments", "shipping"],
			});
			api = client(shop.url);
		});

		afterAll(async () => {
			await shop?.stop();
			for (const node of notifiers) await node.stop();
			await db?.drop();
			await dropNamespace(namespace);
		});

		it("creates each notification once and handles each event on one node only", async () => {
			const admin = (await api.login("admin@example.com", "admin-password")).token;
			const product = await api.post<Product>(
				"/api/products",
				{ name: "Mug", price: 900, category: "kitchen", sku: "MUG-1" },
				{ token: admin },
			);
			await eventually(
				async () =>
					(await api.put(`/api/inventory/${product.body.id}`, { available: 1000 }, { token: admin })).status === 200,
			);

			for (let i = 0; i < CUSTOMERS; i++) {
				const customer = await api.register(`customer${i}@example.com`, "customer-password", `Customer ${i}`);
				customers.push(customer);
				const items = [{ productId: product.body.id, quantity: 1 }];
				expect(
					(await api.post("/api/orders", { items, paymentToken: "tok_visa" }, { token: customer.token })).status,
				).toBe(201);
				expect(
					(await api.post("/api/orders", { items, paymentToken: "tok_declined" }, { token: customer.token })).status,
				).toBe(402);
			}

			const expected = CUSTOMERS * EVENTS_PER_CUSTOMER.length;
			await eventually(
				() => Promise.resolve(notifiers.reduce((sum, node) => sum + handled(node), 0) >= expected),
				15_000,
				100,
			);
			// Late duplicates (a redelivery, or both nodes getting an event) would show up within this pause.
			await new Promise(resolve => setTimeout(resolve, 1000));

			const perNode = notifiers.map(handled);
			process.stdout.write(
				`${bus.name}: ${expected} events handled as ${perNode.join(" + ")} by the two notifications nodes\n`,
			);
			expect(perNode[0] + perNode[1]).toBe(expected);
			expect(Math.min(...perNode)).toBeGreaterThan(0);

			for (const customer of customers) {
				const notes = (await api.get<Page<Notification>>("/api/notifications?pageSize=100", { token: customer.token }))
					.body;
				expect(notes.rows.map(n => n.type).sort()).toEqual([...EVENTS_PER_CUSTOMER].sort());
			}
			expect(await messagesOnBus(bus.url, namespace, "user.registered")).toBe(CUSTOMERS);
			expect(await messagesOnBus(bus.url, namespace, "order.confirmed")).toBe(CUSTOMERS);
		});
	});
}
