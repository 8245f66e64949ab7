import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { auditShop } from "../../lib/audit";
import { createTestDatabase } from "../support/databases";
import { client, eventually } from "../support/http";
import { summarise } from "../support/load";
import { describeWithInfra, useServer, type InfraServer } from "../support/infra";
import { oversellScenario } from "../support/scenarios";
import { startShopCluster, type ShopCluster } from "../support/shop-cluster";

/**
 * Guarantees 1 and 3 once more with Kafka as the event bus of the multi-node shop (two gateways, two orders and two
 * inventory nodes, payments, products, users, notifications as separate processes; calls over NATS, data on MariaDB).
 */
interface OrderRow {
	id: string;
	status: string;
	settled: boolean;
}

describeWithInfra(["kafka"], "the multi-node shop with Kafka as its event bus (MariaDB)", () => {
	let kafka: InfraServer;
	let db: Awaited<ReturnType<typeof createTestDatabase>>;
	let shop: ShopCluster;

	beforeAll(async () => {
		kafka = await useServer("kafka");
		db = await createTestDatabase("mariadb");
		// A short lease so that the crash test does not wait the 15 s default for abandoned orders.
		shop = await startShopCluster({
			label: "kafka",
			dbUri: db.uri,
			// 1,000 requests in one burst on two cores that also run Kafka: some wait longer than the production defaults
			// (headers 10 s, request 30 s) to be read (Node answers 408), which is not what this test is about.
			env: { EVENTS_URL: kafka.url, HTTP_HEADERS_TIMEOUT_MS: "120000", HTTP_REQUEST_TIMEOUT_MS: "120000" },
		});
	}, 240_000);

	afterEach(({ task }) => {
		if (task.result?.state === "fail") console.log(shop.report());
	});

	afterAll(async () => {
		await shop?.stop();
		await db?.drop();
		await kafka?.dispose();
	}, 60_000);

	it("sells exactly 100 of 1,000 concurrent attempts through two gateways", async () => {
		await oversellScenario(
			shop.send,
			shop.gateways[0],
			shop.admin,
			shop.customers,
			() => auditShop(shop.observer),
			"MariaDB + Kafka, 2 gateways, 2 orders, 2 inventory nodes",
		);
	}, 180_000);

	it("kill -9 of an orders node, 200 orders in flight: each ends CONFIRMED or FAILED, invariants hold", async () => {
		const api = client(shop.gateways[0]);
		const sku = `KC-${randomBytes(4).toString("hex")}`;
		const product = await api.post<{ id: string }>(
			"/api/products",
			{ name: sku, price: 250, category: "test", sku },
			{ token: shop.admin },
		);
		expect(product.status).toBe(201);
		const productId = product.body.id;
		await eventually(
			async () =>
				(await api.put(`/api/inventory/${productId}`, { available: 150 }, { token: shop.admin })).status === 200,
			10_000,
		);
		const inFlight = Promise.all(
			Array.from({ length: 200 }, (_, i) =>
				shop
					.send(c =>
						c.post(
							"/api/orders",
							{ items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
							{ token: shop.customers[i % shop.customers.length] },
						),
					)
					.catch(() => ({ status: 0, ms: 0 })),
			),
		);
		await new Promise(r => setTimeout(r, 150));
		const killed = shop.nodes.get("orders-1")!;
		await killed.stop("SIGKILL");
		const killedAt = Date.now();
		try {
			// Every client has its answer (some are 5xx from the killed node); then every order, those the dead node
			// was running included, must end settled: resumed by the survivor once their lease lapsed.
			const answers = await inFlight;
			const survivor = shop.nodes.get("orders-2")!.nodeID;
			await eventually(
				async () => {
					const orders = await shop.observer.call<OrderRow[], Record<string, never>>(
						"orders.audit",
						{},
						{ nodeID: survivor },
					);
					return orders.every(o => o.status !== "PENDING" && o.settled);
				},
				30_000,
				250,
			);
			const statuses = summarise(answers.map(r => ({ status: r.status, ms: r.ms }))).statuses;
			console.log(
				`[kafka crash] 200 orders, client view ${JSON.stringify(statuses)}; ` +
					`all settled ${Date.now() - killedAt} ms after the kill`,
			);
			const registry = shop.observer.registry as unknown as { nodes: Map<string, { available: boolean }> };
			await eventually(() => Promise.resolve(!registry.nodes.get(killed.nodeID)?.available), 30_000, 250);
			let audit = await auditShop(shop.observer);
			for (const deadline = Date.now() + 30_000; !audit.ok && Date.now() < deadline;) {
				await new Promise(r => setTimeout(r, 500));
				audit = await auditShop(shop.observer);
			}
			expect(audit.violations).toEqual([]);
			expect((await api.get<{ reserved: number }>(`/api/inventory/${productId}`)).body.reserved).toBe(0);
		} finally {
			await shop.restart("orders-1");
		}
	}, 120_000);
});
