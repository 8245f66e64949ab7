import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { connect, type JetStreamManager, type NatsConnection } from "nats";
import { ALL_SERVICES, startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import { describeWithServers, SERVERS } from "../support/servers";
import { createTestDatabase } from "../support/databases";
import { NatsServer } from "../support/nats-server";
import { DEAD_LETTER_CHANNEL, DOMAIN_EVENTS } from "../../lib/events";
import type { Doc, Store } from "../../lib/storage";
import type { OutboxRow } from "../../mixins/events.mixin";
import type { Notification, Order, Page, Product } from "../support/api";

/**
 * Guarantee 4 of issue 4, on real servers: the event bus runs on a NATS server of its own (started here), the shop
 * on one broker and `notifications` on two more, all joined by the main NATS transporter under a throwaway
 * namespace; notifications share one MariaDB database, as two production nodes would.
 */
const OUTAGE_MS = 10_000;
const ORDER_EVERY_MS = 250;
const CATCH_UP_MS = 20_000;

interface Customer {
	token: string;
	user: { id: string };
}
interface Expected {
	eventId: string;
	userId: string;
	type: string;
}
/** A notification as the notifications actor stores it: one per event and recipient. */
interface NotificationRow extends Doc, Expected {}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const figure = (label: string, values: Record<string, unknown>) =>
	process.stdout.write(`[events-outage] ${label}: ${JSON.stringify(values)}\n`);

await describeWithServers(["nats", "mariadb"], "no lost domain events (event bus on its own NATS server)", () => {
	const namespace = `ev${randomBytes(4).toString("hex")}`;
	const stream = (channel: string) => `${namespace}.${channel}`.split(".").join("_");
	let bus: NatsServer;
	let database: Awaited<ReturnType<typeof createTestDatabase>>;
	let shop: Shop;
	const notifiers: (Shop | null)[] = [null, null];
	let watcher: Shop | undefined;
	let nc: NatsConnection;
	let jsm: JetStreamManager;
	let api: Client;
	let productId: string;
	const customers: Customer[] = [];
	/** Every notification the shop owes so far; each must exist exactly once. */
	const expected: Expected[] = [];

	const env = () => ({
		NAMESPACE: namespace,
		TRANSPORTER: SERVERS.nats.url,
		EVENTS_URL: bus.url,
		NOTIFICATIONS_DB_URI: database.uri,
	});

	async function startNotifier(i: number): Promise<void> {
		// Metrics on, to count the channel handler's failures, retries and dead letters; the reporter on a free port.
		notifiers[i] = await startShop({
			env: { ...env(), NODEID: `${namespace}-notifications-${i + 1}`, METRICS: "true", METRICS_PORT: "0" },
			services: ["notifications"],
		});
	}

	async function stopNotifiers(): Promise<void> {
		for (const [i, node] of notifiers.entries()) {
			await node?.stop();
			notifiers[i] = null;
		}
	}

	function notificationsStore(): Store<NotificationRow> {
		const node = notifiers.find(n => n);
		if (!node) throw new Error("no notifications node is running");
		return (node.broker.getLocalService("notifications") as unknown as { store: Store<NotificationRow> }).store;
	}

	function outbox(service: string): Store<OutboxRow> {
		return (shop.broker.getLocalService(service) as unknown as { stores: Record<string, Store<OutboxRow>> }).stores[
			`${service}_outbox`
		];
	}

	async function notifications(): Promise<NotificationRow[]> {
		return notificationsStore().find({}, { limit: 100_000 });
	}

	/**
	 * Waits until every expected notification exists, then checks each exists exactly once and nothing else was made
	 * for orders.
	 */
	async function expectAllNotifiedOnce(timeoutMs = CATCH_UP_MS): Promise<{ rows: number; duplicates: number }> {
		const key = (n: Expected) => `${n.eventId}|${n.userId}`;
		let rows: NotificationRow[] = [];
		await eventually(
			async () => {
				rows = await notifications();
				const have = new Set(rows.map(key));
				return expected.every(e => have.has(key(e)));
			},
			timeoutMs,
			100,
		);
		const counts = new Map<string, number>();
		for (const row of rows) counts.set(key(row), (counts.get(key(row)) ?? 0) + 1);
		const duplicates = [...counts.values()].filter(n => n > 1).length;
		expect(duplicates).toBe(0);
		for (const e of expected) expect(rows.filter(r => key(r) === key(e)).map(r => r.type)).toEqual([e.type]);
		// Notifications about orders are exactly the expected ones: no stray or malformed event made one.
		const orderNotifications = rows
			.filter(r => String(r.type).startsWith("order."))
			.map(key)
			.sort();
		expect(orderNotifications).toEqual(
			expected
				.filter(e => e.type.startsWith("order."))
				.map(key)
				.sort(),
		);
		return { rows: rows.length, duplicates };
	}

	/** Places orders at a steady pace for `durationMs`; every one must be confirmed whatever the bus is doing. */
	async function placeOrdersFor(durationMs: number): Promise<string[]> {
		const pending: Promise<string>[] = [];
		const end = Date.now() + durationMs;
		for (let i = 0; Date.now() < end; i++) {
			const customer = customers[i % customers.length];
			pending.push(
				(async () => {
					const res = await api.post<Order>(
						"/api/orders",
						{ items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
						{ token: customer.token },
					);
					expect(res.status, JSON.stringify(res.body)).toBe(201);
					expect(res.body.status).toBe("CONFIRMED");
					expected.push({ eventId: `${res.body.id}:confirmed`, userId: customer.user.id, type: "order.confirmed" });
					return res.body.id;
				})(),
			);
			await sleep(ORDER_EVERY_MS);
		}
		return Promise.all(pending);
	}

	async function consumerPending(
		channel: string,
		group = "notifications",
	): Promise<{ pending: number; ackPending: number; redelivered: number }> {
		const info = await jsm.consumers.info(stream(channel), group);
		return { pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered };
	}

	function channelMetric(name: string, channel: string): number {
		let total = 0;
		for (const node of notifiers) {
			for (const v of (node?.broker.metrics.getMetric(name)?.snapshot() ?? []) as {
				labels: Record<string, string>;
				value: number;
			}[]) {
				// The adapter labels these counters with the prefixed channel name.
				if (v.labels.channel === `${namespace}.${channel}`) total += v.value;
			}
		}
		return total;
	}

	beforeAll(async () => {
		bus = await NatsServer.create();
		database = await createTestDatabase("mariadb");
		nc = await connect({ servers: bus.url, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
		jsm = await nc.jetstreamManager();

		// Notifications run on their own nodes; webhooks (a consumer of every event type) are left out, so that
		// order.created keeps no consumer and its stream can be taken away below.
		const shopServices = Object.keys(ALL_SERVICES).filter(s => s !== "notifications" && s !== "webhooks");
		shop = await startShop({ env: { ...env(), NODEID: `${namespace}-shop` }, services: shopServices });
		api = client(shop.url);
		const admin = (await api.login("admin@example.com", "admin-password")).token;
		const product = await api.post<Product>(
			"/api/products",
			{ name: "Outage umbrella", price: 1500, category: "Test", sku: `UMB-${namespace}` },
			{ token: admin },
		);
		expect(product.status).toBe(201);
		productId = product.body.id;
		expect((await api.put(`/api/inventory/${productId}`, { available: 100_000 }, { token: admin })).status).toBe(200);

		// Customers register before any notifications node has ever run: their welcome must still arrive.
		for (let i = 0; i < 4; i++) {
			const customer = await api.register(`c${i}-${namespace}@example.com`, "correct-horse", `Customer ${i}`);
			customers.push(customer);
			expected.push({ eventId: `${customer.user.id}:registered`, userId: customer.user.id, type: "user.registered" });
		}
		for (let i = 0; i < notifiers.length; i++) await startNotifier(i);
	});

	afterAll(async () => {
		// Brokers drain their bus connection on stop: give them a bus even if a test failed during an outage.
		if (bus && !bus.running) await bus.start();
		await watcher?.stop();
		await stopNotifiers();
		await shop?.stop();
		await nc?.close();
		await bus?.dispose();
		await database?.drop();
	});

	it("has a stream for every domain event before anything is published on it", async () => {
		const streams = new Set<string>();
		for await (const info of jsm.streams.list()) streams.add(info.config.name);
		const missing = [...DOMAIN_EVENTS, DEAD_LETTER_CHANNEL].map(stream).filter(name => !streams.has(name));
		expect(missing).toEqual([]);
	});

	it("delivers events published before the consumer group first subscribed", async () => {
		await expectAllNotifiedOnce();
	});

	it("keeps taking orders while the event bus is down, and delivers every event once it is back", async () => {
		const before = (await notifications()).length;
		await bus.stop();
		const placed = await placeOrdersFor(OUTAGE_MS);
		const [ordersWaiting, inventoryWaiting] = [await outbox("orders").count({}), await outbox("inventory").count({})];
		// The events of the orders placed meanwhile are in the outbox, not lost and not yet on the bus.
		expect(ordersWaiting).toBeGreaterThanOrEqual(placed.length);

		const restarted = Date.now();
		await bus.start();
		const { rows, duplicates } = await expectAllNotifiedOnce();
		const caughtUpMs = Date.now() - restarted;
		await eventually(
			async () => (await outbox("orders").count({})) === 0 && (await outbox("inventory").count({})) === 0,
			CATCH_UP_MS,
		);
		const outboxDrainedMs = Date.now() - restarted;
		const onBus = (await jsm.streams.info(stream("order.confirmed"))).state.messages;
		const consumer = await consumerPending("order.confirmed");
		figure("bus outage", {
			outageMs: OUTAGE_MS,
			ordersConfirmed: placed.length,
			outboxAtRestart: { orders: ordersWaiting, inventory: inventoryWaiting },
			orderConfirmedOnBus: onBus,
			redelivered: consumer.redelivered,
			notificationsCreated: rows - before,
			duplicates,
			catchUpMs: caughtUpMs,
			outboxDrainedMs,
		});
		expect(consumer).toMatchObject({ pending: 0, ackPending: 0 });
	});

	it("lets both notifications nodes catch up after being down, with no duplicates", async () => {
		const before = (await notifications()).length;
		await stopNotifiers();
		const placed = await placeOrdersFor(OUTAGE_MS);
		// Nobody consumes meanwhile: the events wait in the durable consumer on the bus.
		const waiting = await eventually(async () => {
			const c = await consumerPending("order.confirmed");
			return c.pending + c.ackPending >= placed.length ? c : null;
		}, 5000);

		const restarted = Date.now();
		for (let i = 0; i < notifiers.length; i++) await startNotifier(i);
		const { rows, duplicates } = await expectAllNotifiedOnce();
		const caughtUpMs = Date.now() - restarted;
		figure("notifications nodes down", {
			downMs: OUTAGE_MS,
			ordersConfirmed: placed.length,
			waitingOnBus: waiting.pending + waiting.ackPending,
			notificationsCreated: rows - before,
			duplicates,
			catchUpMs: caughtUpMs,
		});
		expect(await consumerPending("order.confirmed")).toMatchObject({ pending: 0, ackPending: 0 });

		// What the customer sees through the gateway: each of their notifications, once.
		const [customer] = customers;
		// The gateway's broker may still be discovering the restarted nodes over the transporter.
		const mine = await eventually(async () => {
			const res = await api.get<Page<Notification>>("/api/notifications?pageSize=100", { token: customer.token });
			return res.status === 200 ? res : null;
		}, 10_000);
		const seen = mine.body.rows.map(n => n.eventId).sort();
		expect(seen).toEqual(
			expected
				.filter(e => e.userId === customer.user.id)
				.map(e => e.eventId)
				.sort(),
		);
	});

	it("dead-letters a message whose handler keeps failing, after its retries, while the others flow on", async () => {
		const deadLetters: { payload: unknown; headers: Record<string, string> }[] = [];
		watcher = await startShop({
			env: { ...env(), TRANSPORTER: undefined, NODEID: `${namespace}-watcher` },
			services: [],
		});
		watcher.broker.createService({
			name: "dead-letter-watch",
			channels: {
				[DEAD_LETTER_CHANNEL]: {
					context: false,
					handler(payload: unknown, raw: { headers?: Iterable<[string, string[]]> }) {
						const headers: Record<string, string> = {};
						for (const [k, v] of raw.headers ?? []) headers[k] = v[0];
						deadLetters.push({ payload, headers });
					},
				},
			},
		});
		await eventually(
			async () =>
				(await jsm.consumers.info(stream(DEAD_LETTER_CHANNEL), "dead-letter-watch").catch(() => null)) !== null,
		);

		const failuresBefore = channelMetric("moleculer.channels.messages.errors.total", "order.confirmed");
		// A confirmation without an event id: the handler must refuse it (it would otherwise record a notification no id
		// can deduplicate).
		const poison = {
			type: "order.confirmed",
			occurredAt: new Date().toISOString(),
			source: "test",
			correlationId: null,
			data: { orderId: "poison", userId: customers[0].user.id, total: 100, currency: "USD" },
		};
		await shop.broker.sendToChannel("order.confirmed", poison);
		const placed = await placeOrdersFor(2000);

		await expectAllNotifiedOnce();
		const group = (d: { headers: Record<string, string> }) => d.headers["x-original-group"];
		const dead = await eventually(() => Promise.resolve(deadLetters.find(d => group(d) === "notifications")), 10_000);
		expect(dead.payload).toEqual(poison);
		expect(dead.headers).toMatchObject({
			"x-original-channel": `${namespace}.order.confirmed`,
			"x-original-group": "notifications",
		});
		await sleep(500);
		expect(deadLetters.map(group)).toEqual(["notifications"]);
		const deliveries = channelMetric("moleculer.channels.messages.errors.total", "order.confirmed") - failuresBefore;
		// maxRetries (5) counts deliveries: four redeliveries, then the dead-letter channel.
		expect(deliveries).toBe(5);
		expect(channelMetric("moleculer.channels.messages.deadLettering.total", "order.confirmed")).toBe(1);
		figure("dead letter", {
			failedDeliveries: deliveries,
			deadLettered: deadLetters.length,
			ordersConfirmedMeanwhile: placed.length,
		});
	});

	it(
		"keeps an event in the outbox while the bus refuses it for want of a stream, " +
			"and sends it once the stream exists",
		async () => {
			// No consumer subscribes to order.created, so only the start-up provisioning gave it a stream: take it away.
			const name = stream("order.created");
			const config = (await jsm.streams.info(name)).config;
			await jsm.streams.delete(name);
			const [orderId] = await placeOrdersFor(1);

			// The confirmation still goes out (no head-of-line blocking); the creation event stays put.
			await expectAllNotifiedOnce();
			const row = await outbox("orders").findOne({ id: `${orderId}:created` });
			expect(row).toMatchObject({ type: "order.created" });
			await sleep(2500);
			expect(await outbox("orders").findOne({ id: `${orderId}:created` })).toBeTruthy();

			await jsm.streams.add({ name, subjects: config.subjects, max_age: config.max_age });
			const sentAfter = Date.now();
			await eventually(async () => (await outbox("orders").count({})) === 0, 10_000);
			const message = await jsm.streams.getMessage(name, { last_by_subj: `${namespace}.order.created` });
			expect(message.json<{ id: string }>().id).toBe(`${orderId}:created`);
			figure("no stream yet", {
				heldInOutboxMs: sentAfter - Date.parse(String(row?.createdAt)),
				sentWithinMs: Date.now() - sentAfter,
			});
		},
	);
});
