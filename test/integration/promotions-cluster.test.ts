import { afterAll, beforeAll, expect, it } from "vitest";
import { auditShop } from "../../lib/audit";
import { client, eventually } from "../support/http";
import { describeWithServers } from "../support/servers";
import { createTestDatabase } from "../support/databases";
import { BURST_TIMINGS, startShopCluster, type ShopCluster } from "../support/shop-cluster";
import type { ApiError, Page, Payment, Product } from "../support/api";
import type { CartView } from "../../services/carts/contract";
import type { PromotionView } from "../../services/promotions/contract";

const ADDRESS = { line1: "1 Main Street", city: "Springfield", postalCode: "12345", country: "US" };
type Refusal = ApiError<{ reason?: string; orderId?: string }>;

/**
 * Issue 13's limits across processes, on MariaDB: two gateways, two orders and two inventory nodes, a pricing node
 * (promotions and shipping). A code limited to 10 uses, checked out by 300 customers at once, is carried by exactly 10
 * orders, and no refused checkout is charged; a code limited to one use per customer, ordered 20 times at once by one
 * customer, is used once.
 */
await describeWithServers(["nats", "redis", "mariadb"], "promotion uses across nodes (MariaDB)", () => {
	let db: Awaited<ReturnType<typeof createTestDatabase>>;
	let shop: ShopCluster;
	let product: Product;
	let methodId: string;

	beforeAll(async () => {
		db = await createTestDatabase("mariadb");
		shop = await startShopCluster({ label: "promos", dbUri: db.uri, env: BURST_TIMINGS });
		const api = client(shop.gateways[0]);
		const created = await api.post<Product>(
			"/api/products",
			{ name: "Promo", price: 1000, category: "test", sku: `PROMO-${shop.namespace}` },
			{ token: shop.admin },
		);
		expect(created.status).toBe(201);
		product = created.body;
		await eventually(
			async () =>
				(await api.put(`/api/inventory/${product.id}`, { available: 10_000 }, { token: shop.admin })).status === 200,
			10_000,
		);
		const method = await api.post<{ id: string }>(
			"/api/shipping-methods",
			{ name: "Standard", price: 499, currency: "USD", countries: ["*"], active: true },
			{ token: shop.admin },
		);
		expect(method.status).toBe(201);
		methodId = method.body.id;
	}, 180_000);

	afterAll(async () => {
		await shop?.stop();
		await db?.drop();
	});

	async function newCode(body: Record<string, unknown>): Promise<PromotionView> {
		const res = await client(shop.gateways[1]).post<PromotionView>(
			"/api/promotions",
			{ type: "PERCENTAGE", value: 10, active: true, ...body },
			{ token: shop.admin },
		);
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return res.body;
	}

	it("lets exactly 10 of 300 concurrent checkouts carry a code limited to 10 uses, and charges no other", async () => {
		const promo = await newCode({ code: `TEN${shop.namespace.slice(-6)}`, usageLimit: 10 });
		const tokens: string[] = [];
		for (let i = 0; i < 300; i += 20) {
			const batch = await Promise.all(
				Array.from({ length: 20 }, (_, j) =>
					client(shop.gateways[j % 2]).register(`promo-${i + j}-${shop.namespace}@example.com`, "customer-password"),
				),
			);
			tokens.push(...batch.map(s => s.token));
		}
		const carts: { id: string; token: string }[] = [];
		for (let i = 0; i < tokens.length; i += 30)
			carts.push(
				...(await Promise.all(
					tokens.slice(i, i + 30).map(async token => {
						const cart = (await shop.send(c => c.post<CartView>("/api/carts", {}, { token }))).body;
						const steps = [
							() =>
								shop.send(c =>
									c.post(`/api/carts/${cart.id}/items`, { productId: product.id, quantity: 1 }, { token }),
								),
							() => shop.send(c => c.patch(`/api/carts/${cart.id}`, { shippingAddress: ADDRESS }, { token })),
							() => shop.send(c => c.patch(`/api/carts/${cart.id}`, { shippingMethodId: methodId }, { token })),
							() => shop.send(c => c.post(`/api/carts/${cart.id}/discounts`, { code: promo.code }, { token })),
						];
						for (const step of steps) {
							const res = await step();
							expect(res.status, JSON.stringify(res.body)).toBe(200);
						}
						return { id: cart.id, token };
					}),
				)),
			);

		const results = await Promise.all(
			carts.map(({ id, token }) =>
				shop.send(c =>
					c.post<Refusal & { id?: string; discountCode?: string }>(
						`/api/carts/${id}/checkout`,
						{ paymentToken: "tok_visa" },
						{ token },
					),
				),
			),
		);
		const placed = results.filter(r => r.status === 201);
		const refused = results.filter(r => r.status !== 201);
		expect(placed).toHaveLength(10);
		expect(placed.every(r => r.body.discountCode === promo.code)).toBe(true);
		for (const r of refused) {
			const kind = `${r.status} ${r.body.type} ${r.body.data?.reason ?? ""}`;
			expect(["409 DISCOUNT_EXHAUSTED EXHAUSTED", "422 DISCOUNT_NOT_APPLICABLE EXHAUSTED"]).toContain(kind);
		}
		// An order that failed over the code was never charged; its cart is ACTIVE again and keeps the code.
		const failedOrders = refused.map(r => r.body.data?.orderId).filter((id): id is string => typeof id === "string");
		const api = client(shop.gateways[0]);
		for (const orderId of failedOrders.slice(0, 50)) {
			const rows = (await api.get<Page<Payment>>(`/api/payments?orderId=${orderId}`, { token: shop.admin })).body.rows;
			expect(rows.filter(p => p.status === "SUCCEEDED")).toEqual([]);
		}
		const refusedCart = carts[results.findIndex(r => r.status !== 201)];
		const cart = await api.get<CartView & { discountCode: string }>(`/api/carts/${refusedCart.id}`, {
			token: refusedCart.token,
		});
		expect(cart.body).toMatchObject({ status: "ACTIVE", discountCode: promo.code });
		expect((await api.get<PromotionView>(`/api/promotions/${promo.id}`, { token: shop.admin })).body.timesUsed).toBe(
			10,
		);
		const report = await eventually(async () => {
			const r = await auditShop(shop.observer);
			return r.violations.length === 0 ? r : null;
		}, 15_000).catch(() => auditShop(shop.observer));
		expect(report.violations).toEqual([]);
	}, 400_000);

	it("uses a once-per-customer code once when one customer orders with it 20 times at once", async () => {
		const promo = await newCode({ code: `ONE${shop.namespace.slice(-6)}`, perCustomerLimit: 1 });
		const token = shop.customers[1];
		const results = await Promise.all(
			Array.from({ length: 20 }, () =>
				shop.send(c =>
					c.post<Refusal>(
						"/api/orders",
						{
							items: [{ productId: product.id, quantity: 1 }],
							paymentToken: "tok_visa",
							shippingAddress: ADDRESS,
							shippingMethodId: methodId,
							discountCode: promo.code.toLowerCase(),
						},
						{ token },
					),
				),
			),
		);
		expect(results.filter(r => r.status === 201)).toHaveLength(1);
		for (const r of results.filter(r => r.status !== 201))
			expect(["409 DISCOUNT_EXHAUSTED", "422 DISCOUNT_NOT_APPLICABLE"]).toContain(`${r.status} ${r.body.type}`);
		const api = client(shop.gateways[1]);
		expect((await api.get<PromotionView>(`/api/promotions/${promo.id}`, { token: shop.admin })).body.timesUsed).toBe(1);
		const report = await eventually(async () => {
			const r = await auditShop(shop.observer);
			return r.violations.length === 0 ? r : null;
		}, 15_000).catch(() => auditShop(shop.observer));
		expect(report.violations).toEqual([]);
	}, 120_000);
});
