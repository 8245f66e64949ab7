import { randomBytes } from "node:crypto";
import { appendFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Kafka, logLevel, type Admin, type Consumer } from "kafkajs";
import { buildDist, freePort, startNode, type ShopNode } from "../../scripts/nodes";
import { DEAD_LETTER_CHANNEL, kafkaTopics } from "../../lib/events";
import { ALL_SERVICES, startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import { createTestDatabase } from "../support/databases";
import { SERVERS } from "../support/servers";
import { describeWithInfra, startPrivate, type InfraServer } from "../support/infra";

/**
 * The event guarantees on a real Kafka broker (3.9, KRaft, one node, started here from `infra/servers` on free
 * ports; `auto.create.topics.enable=false`). The shop runs in this process; `notifications` runs as two separate
 * processes (the production entry point over dist/) in one consumer group, sharing one MariaDB database, so that one
 * can be killed with SIGKILL. Everything is joined by the loopback NATS transporter under a throwaway namespace.
 */
const OUTAGE_MS = 10_000;
const ORDER_EVERY_MS = 250;
const CATCH_UP_MS = 40_000;
/** Not the default (3): the topics are created with what KAFKA_PARTITIONS says. */
const PARTITIONS = 4;

interface Customer {
	token: string;
	user: { id: string };
}

/** The channels the notifications actor consumes. */
const NOTIFIED = [
	"user.registered",
	"order.confirmed",
	"order.failed",
	"order.cancelled",
	"order.shipped",
	"payment.refunded",
	"inventory.low",
];

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const figure = (label: string, values: Record<string, unknown>) =>
	process.stdout.write(`[kafka] ${label}: ${JSON.stringify(values)}\n`);

/** Sums the samples of a counter on a node's /metrics whose labels contain every `match` pair. */
async function counter(port: number, name: string, match: Record<string, string> = {}): Promise<number> {
	const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
	let total = 0;
	for (const line of text.split("\n")) {
		const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
		if (!m || m[1] !== name) continue;
		const labels = m[2] ?? "";
		if (Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) total += Number(m[3]);
	}
	return total;
}

describeWithInfra(["kafka"], "domain events over Kafka (a real 3.9 broker, KRaft)", () => {
	const namespace = `k${randomBytes(4).toString("hex")}`;
	let bus: InfraServer;
	let admin: Admin;
	let database: Awaited<ReturnType<typeof createTestDatabase>>;
	let shop: Shop;
	let api: Client;
	let productId: string;
	const customers: Customer[] = [];
	const notifiers: ShopNode[] = [];
	const metricsPorts: number[] = [];
	/** Every notification the shop owes so far, as `<eventId>|<userId>`. */
	const expected: string[] = [];

	const nodeEnv = () => ({
		NAMESPACE: namespace,
		TRANSPORTER: SERVERS.nats.url,
		EVENTS_URL: bus.url,
		KAFKA_PARTITIONS: String(PARTITIONS),
		NOTIFICATIONS_DB_URI: database.uri,
		METRICS: "true",
		SEED: "false",
		LOGLEVEL: process.env.KAFKA_TEST_DUMP ? "info" : "warn",
	});

	async function startNotifier(i: number): Promise<ShopNode> {
		const node = startNode(
			{ name: `notifications-${i + 1}`, services: ["notifications"], env: { METRICS_PORT: String(metricsPorts[i]) } },
			{
				env: nodeEnv(),
				nodeIdPrefix: `${namespace}-`,
				onLine: process.env.KAFKA_TEST_DUMP
					? (name, line) => appendFileSync(`${process.env.KAFKA_TEST_DUMP}-${name}.log`, `${line}\n`)
					: undefined,
			},
		);
		notifiers[i] = node;
		await eventually(
			async () => {
				if (!node.running()) throw new Error(`${node.name} exited:\n${node.recentOutput()}`);
				return (await fetch(`http://127.0.0.1:${metricsPorts[i]}/health/ready`).catch(() => null))?.ok;
			},
			60_000,
			200,
		);
		return node;
	}

	/**
	 * Waits until `members` nodes share every consumer group of the notifications actor (the adapter joins them one
	 * by one).
	 */
	async function groupsSettled(members: number): Promise<void> {
		const groupIds = NOTIFIED.map(type => `notifications:${namespace}.${type}`);
		await eventually(
			async () => {
				const { groups } = await admin.describeGroups(groupIds);
				return groups.every(g => g.state === "Stable" && g.members.length === members);
			},
			60_000,
			250,
		);
	}

	/** Handler runs of the notifications group on every running node (its emporium events-consumed counter). */
	async function handled(): Promise<number[]> {
		return Promise.all(
			notifiers.map(async (node, i) =>
				node.running()
					? (await counter(metricsPorts[i], "emporium_events_consumed")) +
						(await counter(metricsPorts[i], "emporium_events_consumed_total"))
					: 0,
			),
		);
	}

	/** Waits until every expected notification exists, and checks that each exists once and nothing else does. */
	async function expectAllNotifiedOnce(): Promise<void> {
		const byCustomer = async () => {
			const seen: string[] = [];
			for (const customer of customers) {
				const res = await api.get<{ rows: { eventId: string }[] }>("/api/notifications?pageSize=100", {
					token: customer.token,
				});
				if (res.status !== 200) return null;
				for (const n of res.body.rows) seen.push(`${n.eventId}|${customer.user.id}`);
			}
			return seen;
		};
		const seen = await eventually(
			async () => {
				const rows = await byCustomer();
				return rows && expected.every(e => rows.includes(e)) ? rows : null;
			},
			CATCH_UP_MS,
			200,
		);
		expect(seen.length - new Set(seen).size).toBe(0);
		expect([...seen].sort()).toEqual([...expected].sort());
	}

	/** Places orders at a steady pace; every one must be confirmed whatever Kafka or the consumers are doing. */
	async function placeOrdersFor(durationMs: number): Promise<number> {
		const pending: Promise<void>[] = [];
		const end = Date.now() + durationMs;
		for (let i = 0; Date.now() < end; i++) {
			const customer = customers[i % customers.length];
			pending.push(
				(async () => {
					const res = await api.post<{ id: string; status: string }>(
						"/api/orders",
						{ items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
						{ token: customer.token },
					);
					expect(res.status, JSON.stringify(res.body)).toBe(201);
					expect(res.body.status).toBe("CONFIRMED");
					expected.push(`${res.body.id}:confirmed|${customer.user.id}`);
				})(),
			);
			await sleep(ORDER_EVERY_MS);
		}
		await Promise.all(pending);
		return pending.length;
	}

	/** Messages of the notifications group not yet committed on the order.confirmed topic (its lag). */
	async function lag(topic = `${namespace}.order.confirmed`): Promise<number> {
		const ends = await admin.fetchTopicOffsets(topic);
		const [committed] = await admin.fetchOffsets({ groupId: `notifications:${topic}`, topics: [topic] });
		let total = 0;
		for (const { partition, offset } of ends) {
			const done = committed.partitions.find(p => p.partition === partition)?.offset ?? "-1";
			total += Number(offset) - Math.max(0, Number(done));
		}
		return total;
	}

	beforeAll(async () => {
		const built = buildDist();
		bus = await startPrivate("kafka");
		database = await createTestDatabase("mariadb");
		admin = new Kafka({
			clientId: `${namespace}-test`,
			brokers: [`127.0.0.1:${bus.port}`],
			logLevel: logLevel.NOTHING,
		}).admin({ retry: { retries: 20 } });
		await admin.connect();
		metricsPorts.push(await freePort(), await freePort());

		const services = Object.keys(ALL_SERVICES).filter(s => s !== "notifications");
		shop = await startShop({ env: { ...nodeEnv(), METRICS: "false", NODEID: `${namespace}-shop` }, services });
		api = client(shop.url);
		const adminToken = (await api.login("admin@example.com", "admin-password")).token;
		const product = await api.post<{ id: string }>(
			"/api/products",
			{ name: "Kafka umbrella", price: 1500, category: "Test", sku: `KUMB-${namespace}` },
			{ token: adminToken },
		);
		expect(product.status).toBe(201);
		productId = product.body.id;
		await eventually(
			async () =>
				(await api.put(`/api/inventory/${productId}`, { available: 100_000 }, { token: adminToken })).status === 200,
		);
		// Customers register before any notifications node has ever run: their welcome must still arrive.
		for (let i = 0; i < 4; i++) {
			const customer = await api.register(`c${i}-${namespace}@example.com`, "correct-horse", `Customer ${i}`);
			customers.push(customer);
			expected.push(`${customer.user.id}:registered|${customer.user.id}`);
		}
		const { typeErrors } = await built;
		if (typeErrors) process.stdout.write(`[kafka] dist/ built with type errors (npm run typecheck)\n`);
		await Promise.all([startNotifier(0), startNotifier(1)]);
		await groupsSettled(2);
	}, 240_000);

	afterAll(async () => {
		// Brokers drain their Kafka connections on stop: give them a broker even if a test failed during an outage.
		if (bus?.own && !(await bus.running())) await bus.start();
		await Promise.all(notifiers.map(node => node.stop("SIGKILL")));
		await shop?.stop();
		await admin?.disconnect();
		await bus?.dispose();
		await database?.drop();
	}, 120_000);

	it(`creates each domain-event topic and the dead-letter topic at start, ${PARTITIONS} partitions each`, async () => {
		const topics = kafkaTopics(namespace);
		const { topics: metadata } = await admin.fetchTopicMetadata({ topics });
		expect(metadata.map(t => [t.name, t.partitions.length]).sort()).toEqual(topics.map(t => [t, PARTITIONS]).sort());
		expect(topics).toContain(`${namespace}.${DEAD_LETTER_CHANNEL}`);
	});

	it("delivers events published before the consumer group first subscribed", async () => {
		await expectAllNotifiedOnce();
	});

	it("handles each event once in the notifications group, spread over both nodes", async () => {
		const before = await handled();
		const placed = await placeOrdersFor(3000);
		await expectAllNotifiedOnce();
		// Late duplicates (a redelivery, or both nodes getting an event) would show up within this pause.
		await sleep(1000);
		const after = await handled();
		const perNode = after.map((n, i) => n - before[i]);

		figure("one group, two nodes", { ordersConfirmed: placed, handledPerNode: perNode });
		expect(perNode[0] + perNode[1]).toBe(placed);
		expect(Math.min(...perNode)).toBeGreaterThan(0);
		expect(await lag()).toBe(0);
	}, 60_000);

	it("keeps taking orders while Kafka is stopped for 10 s, delivers every event once after it restarts", async () => {
		await bus.stop();
		const placed = await placeOrdersFor(OUTAGE_MS);
		const restarted = Date.now();
		await bus.start();
		const started = Date.now();
		await expectAllNotifiedOnce();
		const caughtUpMs = Date.now() - restarted;
		expect(await eventually(async () => (await lag()) === 0, 10_000)).toBe(true);
		figure("broker stopped", {
			outageMs: OUTAGE_MS,
			ordersConfirmed: placed,
			brokerRestartMs: started - restarted,
			caughtUpAfterRestartMs: caughtUpMs,
			lost: 0,
			duplicates: 0,
		});
	}, 120_000);

	it("retries a poison message, then dead-letters it to its topic while the other events flow", async () => {
		const deadLetterTopic = `${namespace}.${DEAD_LETTER_CHANNEL}`;
		const received: { value: unknown; headers: Record<string, string> }[] = [];
		const watcher: Consumer = new Kafka({ brokers: [`127.0.0.1:${bus.port}`], logLevel: logLevel.NOTHING }).consumer({
			groupId: `${namespace}-dead-letter-watch`,
		});
		await watcher.connect();
		try {
			await watcher.subscribe({ topic: deadLetterTopic, fromBeginning: true });
			await watcher.run({
				eachMessage: ({ message }) => {
					const headers: Record<string, string> = {};
					for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
					received.push({ value: JSON.parse(String(message.value)) as unknown, headers });
					return Promise.resolve();
				},
			});
			const errors = async () =>
				(await counter(metricsPorts[0], "moleculer_channels_messages_errors_total", {
					channel: `${namespace}.order.confirmed`,
				})) +
				(await counter(metricsPorts[1], "moleculer_channels_messages_errors_total", {
					channel: `${namespace}.order.confirmed`,
				}));
			const errorsBefore = await errors();
			// A confirmation without an event id: the handler refuses it, so it is retried and then dead-lettered.
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
			const dead = await eventually(() => Promise.resolve(received.find(d => group(d) === "notifications")), 20_000);
			expect(dead.value).toEqual(poison);
			expect(dead.headers).toMatchObject({
				"x-original-channel": `${namespace}.order.confirmed`,
				"x-original-group": "notifications",
			});
			await sleep(1000);
			// Once per consumer group of the topic: every group refuses an event without an id.
			expect(received.map(group).sort()).toEqual(["notifications", "webhooks"]);
			const failures = (await errors()) - errorsBefore;
			// maxRetries (5) counts deliveries: four re-publications to the topic, then the dead-letter topic.
			expect(failures).toBe(5);
			figure("poison message", {
				failedDeliveries: failures,
				deadLettered: received.length,
				ordersConfirmedMeanwhile: placed,
			});
		} finally {
			await watcher.disconnect();
		}
	}, 90_000);

	it("resumes from the committed offsets after a consumer node is killed (SIGKILL) and restarted", async () => {
		const orders = placeOrdersFor(8000);
		await sleep(2000);
		const victim = notifiers[0];
		await victim.stop("SIGKILL");
		const killed = Date.now();
		await sleep(2000);
		await startNotifier(0);
		const restartedAfterMs = Date.now() - killed;
		const placed = await orders;
		await expectAllNotifiedOnce();
		const caughtUpMs = Date.now() - killed;
		expect(await eventually(async () => (await lag()) === 0, 15_000)).toBe(true);
		figure("consumer killed", {
			ordersConfirmed: placed,
			nodeRestartedAfterMs: restartedAfterMs,
			allNotifiedAfterKillMs: caughtUpMs,
			lost: 0,
			duplicates: 0,
		});
	}, 120_000);
});
