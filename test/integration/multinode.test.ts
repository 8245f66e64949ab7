import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import type { ServiceBroker } from "moleculer";
import { buildDist, freePort, startNode, stopNodes, type NodeSpec, type ShopNode } from "../../scripts/nodes";
import { auditShop } from "../../lib/audit";
import { client, eventually, type Client, type Response } from "../support/http";
import { createTestDatabase } from "../support/databases";
import { describeWithServers, SERVERS } from "../support/servers";
import { dropNamespace, hostedServices, joinCluster, uniqueNamespace, waitForNodes } from "../support/cluster";
import type { Notification, Order, OrderError, Page, Product, Stock } from "../support/api";

/**
 * The shop split across OS processes, as `npm start` runs it: one gateway, two orders and two inventory nodes,
 * payments, products, users and notifications, calling each other over the real NATS, publishing domain events
 * on NATS JetStream, keeping data in one MariaDB database and the cache in Redis.
 */

const NAMESPACE = uniqueNamespace("multinode");
const REQUEST_TIMEOUT_MS = 5000;
const LAYOUT: NodeSpec[] = [
	{ name: "api-1", services: ["api"] },
	{ name: "users-1", services: ["users"] },
	{ name: "products-1", services: ["products"] },
	{ name: "inventory-1", services: ["inventory"] },
	{ name: "inventory-2", services: ["inventory"] },
	{ name: "payments-1", services: ["payments"] },
	{ name: "orders-1", services: ["orders"] },
	{ name: "orders-2", services: ["orders"] },
	{ name: "notifications-1", services: ["notifications"] },
	{ name: "carts-1", services: ["carts", "webhooks", "promotions", "shipping"] },
];

function tally(values: string[]): Record<string, number> {
	const out: Record<string, number> = {};
	for (const v of values) out[v] = (out[v] ?? 0) + 1;
	return out;
}

/** What a placed order came to: its status when created, else the error type. */
function outcome(res: Response<Order | OrderError>): string {
	return res.status === 201 ? (res.body as Order).status : `${res.status} ${(res.body as OrderError | null)?.type}`;
}

await describeWithServers(
	["nats", "mariadb", "redis"],
	"the shop split across processes (NATS, JetStream, MariaDB, Redis)",
	() => {
		const nodes = new Map<string, ShopNode>();
		let env: Record<string, string>;
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		let observer: ServiceBroker | undefined;
		let api: Client;
		let admin: string;
		let customer: { token: string; user: { id: string } };
		let productId: string;

		function start(spec: NodeSpec): ShopNode {
			const node = startNode(spec, {
				env,
				nodeIdPrefix: `${NAMESPACE}-`,
				onLine: process.env.TEST_LOGLEVEL ? (name, line) => process.stdout.write(`[${name}] ${line}\n`) : undefined,
			});
			nodes.set(spec.name, node);
			return node;
		}

		/** Services as `nodeName`'s own registry sees them: what its calls can reach. */
		async function seenBy(nodeName: string): Promise<Set<string>> {
			const list = await observer!.call<{ name: string }[], object>(
				"$node.services",
				{ onlyAvailable: true, skipInternal: true, grouping: false },
				{ nodeID: nodes.get(nodeName)!.nodeID },
			);
			return new Set(list.map(s => s.name));
		}

		/** How often each action ran on a node (`$node.metrics`, Moleculer's own request counter). */
		async function requestsOn(nodeName: string, action: string): Promise<number> {
			const metrics = await observer!.call<
				{ name: string; values: { labels: { action?: string }; value: number }[] }[],
				object
			>("$node.metrics", { includes: ["moleculer.request.total"] }, { nodeID: nodes.get(nodeName)!.nodeID });
			return metrics
				.flatMap(m => m.values)
				.filter(v => v.labels.action === action)
				.reduce((sum, v) => sum + v.value, 0);
		}

		function order(quantity = 1) {
			return api.post<Order | OrderError>(
				"/api/orders",
				{ items: [{ productId, quantity }], paymentToken: "tok_visa" },
				{ token: customer.token },
			);
		}

		async function stock() {
			return (await api.get<Stock>(`/api/inventory/${productId}`)).body;
		}

		beforeAll(async () => {
			const startedAt = performance.now();
			const [database, port] = await Promise.all([createTestDatabase("mariadb"), freePort(), buildDist()]);
			db = database;
			env = {
				TRANSPORTER: SERVERS.nats.url,
				EVENTS_URL: SERVERS.nats.url,
				CACHER: SERVERS.redis.url,
				DB_URI: db.uri,
				NAMESPACE,
				SEED: "false",
				// Prometheus endpoints on free ports; the test reads the counters through `$node.metrics`.
				METRICS_PORT: "0",
				REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
				// Orders left unsettled by the payments outage are finished by recovery within seconds; a step's three
				// attempts (3 × 1 s and the retry delays) stay under half the lease, as the orders service requires.
				ORDER_LEASE_SECONDS: "8",
				ORDER_STEP_TIMEOUT_MS: "1000",
				LOGLEVEL: process.env.TEST_LOGLEVEL ?? "info",
			};
			for (const spec of LAYOUT)
				start(spec.name === "api-1" ? { ...spec, env: { PORT: String(port), HOST: "127.0.0.1" } } : spec);
			observer = await joinCluster(NAMESPACE);
			await waitForNodes(observer, [...nodes.values()], 60_000);

			api = client(`http://127.0.0.1:${port}`);
			await eventually(async () => (await api.get("/health/ready")).status === 200, 20_000, 200);
			process.stdout.write(
				`dist built and ${nodes.size} node processes ready in ${Math.round(performance.now() - startedAt)} ms\n`,
			);
			admin = (await api.login("admin@example.com", "admin-password")).token;
			customer = await api.register("buyer@example.com", "buyer-password", "Buyer");
			const product = await api.post<Product>(
				"/api/products",
				{ name: "Limited print", price: 1500, category: "prints", sku: "PRINT-1" },
				{ token: admin },
			);
			expect(product.status).toBe(201);
			productId = product.body.id;
			// inventory creates the stock row when product.created arrives over JetStream.
			await eventually(
				async () => (await api.put(`/api/inventory/${productId}`, { available: 20 }, { token: admin })).status === 200,
				10_000,
				100,
			);
		}, 120_000);

		beforeEach(({ onTestFailed }) => {
			onTestFailed(() => {
				for (const node of nodes.values())
					process.stdout.write(
						`--- ${node.name} (${node.running() ? "running" : "exited"}) ---\n` +
							`${node.recentOutput().split("\n").slice(-30).join("\n")}\n`,
					);
			});
		});

		afterAll(async () => {
			await stopNodes(nodes.values(), "SIGTERM", 10_000);
			await observer?.stop();
			await db?.drop();
			await dropNamespace(NAMESPACE);
		}, 60_000);

		it("sells exactly the stock to 60 concurrent buyers across two orders and two inventory nodes", async () => {
			const startedAt = performance.now();
			const attempts = await Promise.all(Array.from({ length: 60 }, () => order()));
			process.stdout.write(
				`60 concurrent orders against a stock of 20: ${JSON.stringify(tally(attempts.map(outcome)))} ` +
					`in ${Math.round(performance.now() - startedAt)} ms\n`,
			);
			expect(tally(attempts.map(outcome))).toEqual({ CONFIRMED: 20, "409 OUT_OF_STOCK": 40 });
			expect(await stock()).toEqual({ productId, available: 0, reserved: 0 });

			// Both copies of each actor did part of the work: the no-oversell guarantee held across nodes.
			for (const name of ["orders-1", "orders-2"]) expect(await requestsOn(name, "orders.create")).toBeGreaterThan(0);
			for (const name of ["inventory-1", "inventory-2"])
				expect(await requestsOn(name, "inventory.reserve")).toBeGreaterThan(0);

			const report = await auditShop(observer!);
			expect(report.violations).toEqual([]);
			expect(report.counts.orders).toEqual({ CONFIRMED: 20, FAILED: 40 });
			expect(report.counts.payments).toEqual({ SUCCEEDED: 20 });
		});

		it("notifies once per domain event, carried across processes by JetStream", async () => {
			// registered + 20 confirmed + 40 failed, each exactly once.
			const expected = { "user.registered": 1, "order.confirmed": 20, "order.failed": 40 };
			const notes = await eventually(
				async () => {
					const res = await api.get<Page<Notification>>("/api/notifications?pageSize=100", { token: customer.token });
					return res.body.total >= 61 ? res.body : null;
				},
				15_000,
				200,
			);
			expect(tally(notes.rows.map(n => n.type))).toEqual(expected);
			expect(new Set(notes.rows.map(n => n.eventId)).size).toBe(61);
		});

		it("keeps taking orders while an orders node shuts down (SIGTERM)", async () => {
			expect((await api.post(`/api/inventory/${productId}/restock`, { quantity: 200 }, { token: admin })).status).toBe(
				200,
			);
			const orders1 = nodes.get("orders-1")!;
			const results: Response<Order | OrderError>[] = [];
			let stopped = false;
			let stopAt = Infinity;
			// Four buyers keep ordering from before the shutdown until well after orders-1 has left.
			const buyers = Array.from({ length: 4 }, async () => {
				while (!stopped || Date.now() < stopAt) {
					results.push(await order());
					if (results.length === 8 && !orders1.child.killed) {
						void orders1.stop("SIGTERM").then(() => {
							stopped = true;
							stopAt = Date.now() + 1500;
						});
					}
				}
			});
			await Promise.all(buyers);
			expect(await orders1.exited).toBe(0);
			process.stdout.write(
				`orders-1 stopped (exit 0) while 4 buyers kept ordering: ${JSON.stringify(tally(results.map(outcome)))}\n`,
			);
			expect(tally(results.map(outcome))).toEqual({ CONFIRMED: results.length });
			expect(results.length).toBeGreaterThan(12);
			const hosted = hostedServices(observer!);
			expect(hosted.get(orders1.nodeID)).toBeUndefined();
			expect(hosted.get(nodes.get("orders-2")!.nodeID)).toContain("orders");
		});

		it(
			"fails orders fast with 503 PAYMENT_UNAVAILABLE while payments is down, " + "and gives their stock back",
			async () => {
				expect(await nodes.get("payments-1")!.stop("SIGTERM")).toBe(0);
				await eventually(async () => !(await seenBy("orders-2")).has("payments"), 5000);
				const before = await stock();

				const timed = await Promise.all(
					Array.from({ length: 6 }, async () => {
						const startedAt = performance.now();
						const res = await order(2);
						return { res, ms: performance.now() - startedAt };
					}),
				);
				for (const { res } of timed) {
					expect(res.status).toBe(503);
					expect(res.body).toMatchObject({ type: "PAYMENT_UNAVAILABLE", data: { orderId: expect.any(String) } });
					expect(res.headers.get("retry-after")).toBe("1");
				}
				// Fail fast: the gateway answers without waiting for a request timeout.
				const slowest = Math.max(...timed.map(t => t.ms));
				expect(slowest).toBeLessThan(REQUEST_TIMEOUT_MS);
				process.stdout.write(`payments down: 6 orders failed with 503 in at most ${Math.round(slowest)} ms\n`);

				expect(await stock()).toEqual({ ...before, reserved: 0 });
				const failedId = (timed[0].res.body as OrderError).data.orderId;
				const failed = await api.get(`/api/orders/${failedId}`, { token: customer.token });
				expect(failed.body).toMatchObject({ status: "FAILED", failureReason: "PAYMENT_UNAVAILABLE" });
			},
		);

		it("takes orders again once payments is back, and every invariant holds at rest", async () => {
			start(LAYOUT.find(s => s.name === "payments-1")!);
			await waitForNodes(observer!, [nodes.get("payments-1")!], 30_000);
			await eventually(async () => (await seenBy("orders-2")).has("payments"), 5000);

			const again = await Promise.all(Array.from({ length: 5 }, () => order()));
			expect(tally(again.map(outcome))).toEqual({ CONFIRMED: 5 });

			// The outage's orders were refused before any stock or payment was taken: no payment exists for them.
			const report = await eventually(
				async () => {
					const r = await auditShop(observer!);
					return r.ok ? r : null;
				},
				30_000,
				500,
			);
			expect(report.counts.orders.FAILED).toBe(40 + 6);
			expect(report.counts.payments.VOIDED).toBeUndefined();
			const { available, reserved } = await stock();
			expect(reserved).toBe(0);
			expect(available).toBe(200 - (report.counts.orders.CONFIRMED - 20));
		});
	},
);
