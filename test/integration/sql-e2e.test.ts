import { afterAll, beforeAll, expect, it } from "vitest";
import { Redis } from "ioredis";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import { createTestDatabase } from "../support/databases";
import { describeWithServers, SERVERS } from "../support/servers";
import { uniqueNamespace } from "../support/cluster";
import { auditShop } from "../../lib/audit";
import type { ApiError, Notification, Order, OrderError, Page, Payment, Product, Stock } from "../support/api";

/**
 * The order flow of the one-process shop with every actor's data in MariaDB, then in PostgreSQL (each service its
 * own tables in a throwaway database), and the cache in Redis: what changes with SQL is the storage layer
 * (unique keys, JSON and money columns, LIKE search, conditional updates in transactions) and the cache's wire format.
 */
for (const kind of ["mariadb", "postgres"] as const) {
	await describeWithServers([kind, "redis"], `the order flow on ${kind} with the Redis cacher`, () => {
		const namespace = uniqueNamespace(`sql-${kind}`);
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		let shop: Shop | undefined;
		let redis: Redis;
		let api: Client;
		let admin: string;
		let ann: { token: string; user: { id: string } };

		async function stockOf(productId: string) {
			return (await api.get<Stock>(`/api/inventory/${productId}`)).body;
		}

		async function newProduct(sku: string, price: number, stock: number): Promise<string> {
			const created = await api.post<Product>(
				"/api/products",
				{ name: `Product ${sku}`, price, category: "Test", sku },
				{ token: admin },
			);
			expect(created.status).toBe(201);
			expect((await api.put(`/api/inventory/${created.body.id}`, { available: stock }, { token: admin })).status).toBe(
				200,
			);
			return created.body.id;
		}

		/** Places an order; `T` is the body the caller expects (the order, or the error of a failed one). */
		function order<T = Order>(
			productId: string,
			quantity: number,
			paymentToken = "tok_visa",
			headers?: Record<string, string>,
		) {
			const body = { items: [{ productId, quantity }], paymentToken };
			return api.post<T>("/api/orders", body, { token: ann.token, headers });
		}

		beforeAll(async () => {
			db = await createTestDatabase(kind);
			redis = new Redis(SERVERS.redis.url);
			shop = await startShop({
				env: { DB_URI: db.uri, CACHER: SERVERS.redis.url, NAMESPACE: namespace, SEED: "true" },
			});
			api = client(shop.url);
			admin = (await api.login("admin@example.com", "admin-password")).token;
			ann = await api.register("Ann@Example.COM", "ann-password", "Ann");
		});

		afterAll(async () => {
			await shop?.broker.cacher?.clean();
			await shop?.stop();
			redis?.disconnect();
			await db?.drop();
		});

		it("keeps users unique by normalised email", async () => {
			const again = await api.post("/api/auth/register", {
				email: "ann@example.com",
				password: "another-pass",
				name: "Ann 2",
			});
			expect(again.body).toMatchObject({ code: 409, type: "EMAIL_TAKEN" });
			expect((await api.get("/api/users/me", { token: ann.token })).body).toMatchObject({
				email: "ann@example.com",
				name: "Ann",
			});
		});

		it("serves the seeded catalogue from SQL through the Redis cache, never stale after a change", async () => {
			const books = await api.get<Page<Product>>("/api/products?category=books&sort=-price&pageSize=100");
			expect(books.body.total).toBe(6);
			expect(books.body.rows[0].price).toBeGreaterThanOrEqual(books.body.rows[5].price);
			// Case-insensitive search on both databases (LIKE on MariaDB's collation, ILIKE on PostgreSQL).
			const search = await api.get<Page<Product>>("/api/products?search=KEYBOARD");
			expect(search.body.rows.map(p => p.sku)).toEqual(["ELEC-001"]);
			// SKUs live in the variants: a product matches when one of its variants' SKUs has the text.
			const bySku = await api.get<Page<Product>>("/api/products?search=elec-00&category=electronics&pageSize=100");
			expect(bySku.body.rows.map(p => p.sku).every(sku => sku?.startsWith("ELEC-00"))).toBe(true);
			expect(bySku.body.total).toBeGreaterThan(0);
			const oneSku = await api.get<Page<Product>>("/api/products?search=book-001");
			expect(oneSku.body.rows.map(p => p.id)).toEqual(["seed-book-001"]);

			const first = await api.get("/api/products/seed-book-001");
			expect(first.body).toMatchObject({ sku: "BOOK-001", price: 3999, currency: "USD" });
			expect(await redis.keys(`emporium-${namespace}-products.get:*`)).not.toHaveLength(0);
			expect((await api.get("/api/products/seed-book-001")).body).toEqual(first.body);

			expect((await api.patch("/api/products/seed-book-001", { price: 4199 }, { token: admin })).status).toBe(200);
			expect((await api.get<Product>("/api/products/seed-book-001")).body.price).toBe(4199);
		});

		it("places an order, notifies, cancels with a refund and puts the stock back", async () => {
			const productId = await newProduct("SQL-1", 2500, 10);
			const placed = await order(productId, 3);
			expect(placed.status).toBe(201);
			expect(placed.body).toMatchObject({
				status: "CONFIRMED",
				total: 7500,
				currency: "USD",
				items: [{ productId, unitPrice: 2500, quantity: 3, lineTotal: 7500 }],
			});
			expect(await stockOf(productId)).toMatchObject({ available: 7, reserved: 0 });
			const payments = async () =>
				(await api.get<Page<Payment>>(`/api/payments?orderId=${placed.body.id}`, { token: ann.token })).body.rows;
			expect(await payments()).toMatchObject([{ amount: 7500, status: "SUCCEEDED" }]);

			const cancelled = await api.post<Order>(`/api/orders/${placed.body.id}/cancel`, undefined, { token: ann.token });
			expect(cancelled.body.status).toBe("CANCELLED");
			expect(await stockOf(productId)).toMatchObject({ available: 10, reserved: 0 });
			expect(await payments()).toMatchObject([
				{ kind: "CHARGE", status: "REFUNDED" },
				{ kind: "REFUND", status: "SUCCEEDED", amount: 7500 },
			]);
			await eventually(async () => {
				const notifications = await api.get<Page<Notification>>("/api/notifications", { token: ann.token });
				const types: string[] = notifications.body.rows.map(n => n.type);
				return ["user.registered", "order.confirmed", "order.cancelled", "payment.refunded"].every(t =>
					types.includes(t),
				);
			});
		});

		it("fails declined and out-of-stock orders with their reason and holds nothing back", async () => {
			const productId = await newProduct("SQL-2", 1000, 2);
			const declined = await order<OrderError>(productId, 1, "tok_declined");
			expect(declined.body).toMatchObject({ code: 402, type: "PAYMENT_DECLINED" });
			expect((await api.get(`/api/orders/${declined.body.data.orderId}`, { token: ann.token })).body).toMatchObject({
				status: "FAILED",
				failureReason: "PAYMENT_DECLINED",
			});
			const short = await order<OrderError>(productId, 3);
			expect(short.body).toMatchObject({
				code: 409,
				type: "OUT_OF_STOCK",
				data: { lines: [{ productId, requested: 3, available: 2 }] },
			});
			expect(await stockOf(productId)).toMatchObject({ available: 2, reserved: 0 });
		});

		it("answers a repeated Idempotency-Key with the same order and charges once", async () => {
			const productId = await newProduct("SQL-3", 700, 20);
			const headers = { "Idempotency-Key": `checkout-${kind}` };
			const responses = await Promise.all(Array.from({ length: 8 }, () => order(productId, 1, "tok_visa", headers)));
			expect(responses.map(r => r.status)).toEqual(Array(8).fill(201));
			expect(new Set(responses.map(r => r.body.id)).size).toBe(1);
			const payments = await api.get<Page<Payment>>(`/api/payments?orderId=${responses[0].body.id}`, {
				token: ann.token,
			});
			expect(payments.body.total).toBe(1);
			expect(await stockOf(productId)).toMatchObject({ available: 19 });
		});

		it("never sells more than the stock to simultaneous orders (conditional UPDATE)", async () => {
			const productId = await newProduct("SQL-4", 100, 5);
			const results = await Promise.all(Array.from({ length: 20 }, () => order<Partial<ApiError>>(productId, 1)));
			expect(results.filter(r => r.status === 201)).toHaveLength(5);
			expect(results.filter(r => r.body?.type === "OUT_OF_STOCK")).toHaveLength(15);
			expect(await stockOf(productId)).toEqual({ productId, available: 0, reserved: 0 });
		});

		it("leaves stock and money consistent", async () => {
			const report = await eventually(async () => {
				const r = await auditShop(shop!.broker);
				return r.ok ? r : null;
			}, 5000).catch(() => auditShop(shop!.broker));
			expect(report.violations).toEqual([]);
			expect(report.counts.orders).toMatchObject({ CANCELLED: 1, CONFIRMED: 6, FAILED: 17 });
		});
	});
}
