import { afterAll, beforeAll, expect, it } from "vitest";
import { auditShop } from "../../lib/audit";
import { call } from "../../lib/actor";
import { client, eventually } from "../support/http";
import { describeWithServers } from "../support/servers";
import { createTestDatabase } from "../support/databases";
import { BURST_TIMINGS, startShopCluster, type ShopCluster } from "../support/shop-cluster";
import type { ApiError, Order, Page, Payment, Product, Stock } from "../support/api";
import type { CartView } from "../../services/carts/contract";

/**
 * Issue 12's cart guarantees across processes, on PostgreSQL: two gateways, two orders and two inventory nodes and
 * a carts node. One cart checked out 20 times at once gives one order; 300 carts holding the last 100 units give
 * exactly 100 orders; carts outlive their node. Issue 13: checkout needs an address and a shipping method, so a
 * shipping node runs too (its method is free, so these orders cost what they did).
 */
await describeWithServers(["nats", "redis", "postgres"], "carts across nodes (PostgreSQL)", () => {
	let db: Awaited<ReturnType<typeof createTestDatabase>>;
	let shop: ShopCluster;
	let shipping: { shippingAddress: Record<string, string>; shippingMethodId: string };

	beforeAll(async () => {
		db = await createTestDatabase("postgres");
		shop = await startShopCluster({ label: "carts", dbUri: db.uri, env: BURST_TIMINGS });
		const admin = { id: "carts-cluster-admin", email: "admin@example.com", name: "Admin", role: "admin" as const };
		const method = { name: "Free", price: 499, currency: "USD", countries: ["*"], freeOver: 0, active: true };
		const created = await eventually(
			() => call(shop.observer, "shipping.createMethod", method, { meta: { user: admin } }),
			30_000,
		);
		shipping = {
			shippingAddress: { line1: "1 Node St", city: "Springfield", postalCode: "12345", country: "US" },
			shippingMethodId: created.id,
		};
	}, 180_000);

	afterAll(async () => {
		await shop?.stop();
		await db?.drop();
	});

	async function newProduct(sku: string, available: number): Promise<Product> {
		const api = client(shop.gateways[0]);
		const created = await api.post<Product>(
			"/api/products",
			{ name: sku, price: 250, category: "test", sku: `${sku}-${shop.namespace}` },
			{ token: shop.admin },
		);
		expect(created.status).toBe(201);
		await eventually(
			async () =>
				(await api.put(`/api/inventory/${created.body.id}`, { available }, { token: shop.admin })).status === 200,
			10_000,
		);
		return created.body;
	}

	it("answers 20 concurrent checkouts of one cart through both gateways with one order and one charge", async () => {
		const product = await newProduct("CART-ONCE", 50);
		const token = shop.customers[0];
		const cart = (await shop.send(c => c.post<CartView>("/api/carts", {}, { token }))).body;
		await shop.send(c => c.post(`/api/carts/${cart.id}/items`, { productId: product.id, quantity: 2 }, { token }));
		expect((await shop.send(c => c.patch(`/api/carts/${cart.id}`, shipping, { token }))).status).toBe(200);
		const answers = await Promise.all(
			Array.from({ length: 20 }, () =>
				shop.send(c => c.post<Order>(`/api/carts/${cart.id}/checkout`, { paymentToken: "tok_visa" }, { token })),
			),
		);
		expect(answers.map(a => a.status)).toEqual(Array(20).fill(201));
		// Identical answers: the same order, field for field (key order may differ between a fresh and a stored row).
		for (const a of answers) expect(a.body).toEqual(answers[0].body);
		expect(answers.filter(a => a.headers.get("idempotent-replayed") === "true").length).toBeGreaterThanOrEqual(19);
		const orderId = answers[0].body.id;
		const api = client(shop.gateways[1]);
		const orders = await api.get<Page<Order>>("/api/orders?pageSize=100", { token });
		expect(orders.body.rows.filter(o => o.items.some(i => i.productId === product.id))).toHaveLength(1);
		const payments = await api.get<Page<Payment>>(`/api/payments?orderId=${orderId}`, { token });
		expect(payments.body.rows).toMatchObject([{ status: "SUCCEEDED", amount: 500 }]);
		expect((await api.get<Stock>(`/api/inventory/${product.id}`)).body).toMatchObject({ available: 48, reserved: 0 });
		expect((await api.get<CartView>(`/api/carts/${cart.id}`, { token })).body).toMatchObject({
			status: "COMPLETED",
			orderId,
		});
	}, 120_000);

	it("keeps carts when the carts node restarts", async () => {
		const product = await newProduct("CART-KEEP", 5);
		const guest = (await shop.send(c => c.post<CartView>("/api/carts", {}))).body;
		await shop.send(c => c.post(`/api/carts/${guest.id}/items`, { productId: product.id, quantity: 3 }));
		const node = shop.nodes.get("carts")!;
		await node.stop("SIGKILL");
		await shop.restart("carts");
		const read = await eventually(async () => {
			const res = await shop.send(c => c.get<CartView>(`/api/carts/${guest.id}`));
			return res.status === 200 ? res : null;
		}, 30_000);
		expect(read.body.items).toMatchObject([{ productId: product.id, quantity: 3, available: 5 }]);
	}, 120_000);

	it("sells exactly the last 100 units to 300 customers checking out their carts", async () => {
		const last = await newProduct("CART-LAST", 100);
		const other = await newProduct("CART-OTHER", 1000);
		const api = client(shop.gateways[0]);
		const tokens: string[] = [];
		for (let i = 0; i < 300; i += 20) {
			const batch = await Promise.all(
				Array.from({ length: 20 }, (_, j) =>
					client(shop.gateways[j % 2]).register(`cart-${i + j}-${shop.namespace}@example.com`, "customer-password"),
				),
			);
			tokens.push(...batch.map(s => s.token));
		}
		const carts = await Promise.all(
			tokens.map(async token => {
				const cart = (await shop.send(c => c.post<CartView>("/api/carts", {}, { token }))).body;
				const added = await shop.send(c =>
					c.post(`/api/carts/${cart.id}/items`, { productId: last.id, quantity: 1 }, { token }),
				);
				expect(added.status).toBe(200);
				const shipped = await shop.send(c => c.patch(`/api/carts/${cart.id}`, shipping, { token }));
				expect(shipped.status).toBe(200);
				return { id: cart.id, token };
			}),
		);
		const results = await Promise.all(
			carts.map(({ id, token }) =>
				shop.send(c =>
					c.post<Partial<ApiError> & { id?: string }>(
						`/api/carts/${id}/checkout`,
						{ paymentToken: "tok_visa" },
						{
							token,
						},
					),
				),
			),
		);
		const statuses: Record<number, number> = {};
		for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
		expect(statuses).toEqual({ 201: 100, 409: 200 });
		expect(results.filter(r => r.status === 409).every(r => r.body.type === "OUT_OF_STOCK")).toBe(true);
		expect((await api.get<Stock>(`/api/inventory/${last.id}`)).body).toMatchObject({ available: 0, reserved: 0 });
		expect((await api.get<Stock>(`/api/inventory/${other.id}`)).body).toMatchObject({ available: 1000, reserved: 0 });
		// The refused carts are ACTIVE again, unchanged; the served ones COMPLETED.
		const after = await Promise.all(
			carts.map(({ id, token }) => shop.send(c => c.get<CartView>(`/api/carts/${id}`, { token }))),
		);
		const byStatus: Record<string, number> = {};
		for (const r of after) byStatus[r.body.status] = (byStatus[r.body.status] ?? 0) + 1;
		expect(byStatus).toEqual({ COMPLETED: 100, ACTIVE: 200 });
		const report = await eventually(async () => {
			const r = await auditShop(shop.observer);
			return r.violations.length === 0 ? r : null;
		}, 15_000).catch(() => auditShop(shop.observer));
		expect(report.violations).toEqual([]);
	}, 300_000);
});
