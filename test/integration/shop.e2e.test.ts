import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import type { ApiError, Notification, Order, OrderError, Page, Payment, Product, Stock } from "../support/api";
import { auditShop } from "../../lib/audit";

/**
 * The whole REST contract of the one-process shop, driven over HTTP the way a storefront would:
 * register, browse, order, see the notification, cancel, see the refund and the stock back, plus every failure path.
 */
describe("the shop in one process, over HTTP", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;
	let ann: { token: string; user: { id: string } };
	let bob: { token: string; user: { id: string } };

	beforeAll(async () => {
		shop = await startShop({ env: { SEED: "true" } });
		api = client(shop.url);
		admin = (await api.login("admin@example.com", "admin-password")).token;
		ann = await api.register("Ann@Example.COM", "ann-password", "Ann");
		bob = await api.register("bob@example.com", "bob-password", "Bob");
	});

	afterAll(async () => {
		await shop?.stop();
	});

	async function stockOf(productId: string) {
		return (await api.get<Stock>(`/api/inventory/${productId}`)).body;
	}

	async function newProduct(sku: string, price: number, stock: number) {
		const created = await api.post<Product>(
			"/api/products",
			{ name: `Product ${sku}`, price, category: "Test", sku },
			{ token: admin },
		);
		expect(created.status).toBe(201);
		expect((await api.put(`/api/inventory/${created.body.id}`, { available: stock }, { token: admin })).status).toBe(
			200,
		);
		return created.body;
	}

	describe("users and auth", () => {
		it("registers with a normalised email and never returns the password hash", async () => {
			expect(ann.user).toMatchObject({ email: "ann@example.com", name: "Ann", role: "customer" });
			expect(JSON.stringify(ann)).not.toMatch(/passwordHash|scrypt|ann-password/);
			const me = await api.get("/api/users/me", { token: ann.token });
			expect(me.status).toBe(200);
			expect(me.body).toEqual(ann.user);
		});

		it("refuses a duplicate email (409), a short password (422) and bad credentials (401, one message)", async () => {
			expect(
				(await api.post("/api/auth/register", { email: "ANN@example.com", password: "another-pass", name: "Ann 2" }))
					.body,
			).toMatchObject({ code: 409, type: "EMAIL_TAKEN" });
			const short = await api.post<ApiError<{ field: string }[]>>("/api/auth/register", {
				email: "c@example.com",
				password: "short",
				name: "C",
			});
			expect(short.status).toBe(422);
			expect(short.body.data.map(d => d.field)).toEqual(["password"]);
			const wrong = await api.post<ApiError>("/api/auth/login", {
				email: "ann@example.com",
				password: "wrong-password",
			});
			const unknown = await api.post<ApiError>("/api/auth/login", {
				email: "nobody@example.com",
				password: "wrong-password",
			});
			expect(wrong.status).toBe(401);
			expect(unknown.status).toBe(401);
			expect(unknown.body.message).toBe(wrong.body.message);
			expect((await api.post("/api/auth/login", { email: "ANN@example.com", password: "ann-password" })).status).toBe(
				200,
			);
		});

		it("updates the profile, ignoring fields that are not part of it", async () => {
			const res = await api.patch(
				"/api/users/me",
				{
					name: "Ann B",
					role: "admin",
					address: { line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US" },
				},
				{ token: ann.token },
			);
			expect(res.status).toBe(200);
			expect(res.body).toMatchObject({ name: "Ann B", role: "customer", address: { city: "Springfield" } });
		});

		it("lists users for admins only", async () => {
			expect((await api.get("/api/users", { token: ann.token })).status).toBe(403);
			expect((await api.get("/api/users")).status).toBe(401);
			const list = await api.get("/api/users?pageSize=100", { token: admin });
			expect(list.body).toMatchObject({ total: 3, page: 1, pageSize: 100, totalPages: 1 });
			expect(JSON.stringify(list.body)).not.toMatch(/passwordHash/);
		});
	});

	describe("catalogue", () => {
		it("lists the seeded catalogue in pages", async () => {
			const page = await api.get<Page<Product>>("/api/products?page=2&pageSize=5&sort=price");
			expect(page.status).toBe(200);
			expect(page.body).toMatchObject({ page: 2, pageSize: 5, total: 24, totalPages: 5 });
			const prices = page.body.rows.map(p => p.price);
			expect(prices).toEqual([...prices].sort((a, b) => a - b));
			expect((await api.get("/api/products?pageSize=101")).status).toBe(422);
		});

		it("filters by category and search, sorts by -price", async () => {
			const books = await api.get<Page<Product>>("/api/products?category=books&sort=-price&pageSize=100");
			expect(books.body.total).toBe(6);
			expect(books.body.rows.every(p => p.category === "books")).toBe(true);
			expect(books.body.rows[0].price).toBeGreaterThanOrEqual(books.body.rows[5].price);
			const search = await api.get<Page<Product>>("/api/products?search=keyboard");
			expect(search.body.rows.map(p => p.sku)).toEqual(["ELEC-001"]);
		});

		it("rejects operator objects in filters instead of querying with them", async () => {
			expect((await api.get("/api/products?category[$ne]=books")).status).toBe(422);
			expect((await api.get("/api/products?search[$regex]=.*")).status).toBe(422);
			expect((await api.get("/api/products?sort=password")).status).toBe(422);
		});

		it("gets one product, 404 for an unknown id", async () => {
			expect((await api.get("/api/products/seed-book-001")).body).toMatchObject({
				sku: "BOOK-001",
				price: 3999,
				currency: "USD",
			});
			expect((await api.get("/api/products/nope")).body).toMatchObject({ code: 404, type: "NOT_FOUND" });
		});

		it("lets only admins change the catalogue, and reads are never stale after a change", async () => {
			const body = { name: "Gadget", price: 1234, category: "Gadgets", sku: "GAD-1" };
			expect((await api.post("/api/products", body)).status).toBe(401);
			expect((await api.post("/api/products", body, { token: ann.token })).status).toBe(403);
			const created = await api.post<Product>("/api/products", body, { token: admin });
			expect(created.status).toBe(201);
			expect(created.headers.get("location")).toBe(`/api/products/${created.body.id}`);
			expect(created.body).toMatchObject({ ...body, category: "gadgets", currency: "USD" });
			expect((await api.post("/api/products", body, { token: admin })).body).toMatchObject({
				code: 409,
				type: "SKU_TAKEN",
			});

			expect((await api.get<Product>(`/api/products/${created.body.id}`)).body.price).toBe(1234);
			const patched = await api.patch<Product>(`/api/products/${created.body.id}`, { price: 999 }, { token: admin });
			expect(patched.body.price).toBe(999);
			expect((await api.get<Product>(`/api/products/${created.body.id}`)).body.price).toBe(999);
			await eventually(async () => (await api.get(`/api/inventory/${created.body.id}`)).status === 200);
			expect((await api.delete(`/api/products/${created.body.id}`, { token: admin })).status).toBe(200);
			expect((await api.get(`/api/products/${created.body.id}`)).status).toBe(404);
		});
	});

	describe("inventory", () => {
		it("shows, sets and restocks stock (admin only)", async () => {
			const product = await newProduct("INV-1", 500, 3);
			expect(await stockOf(product.id)).toEqual({ productId: product.id, available: 3, reserved: 0 });
			expect((await api.post(`/api/inventory/${product.id}/restock`, { quantity: 4 }, { token: admin })).body).toEqual({
				productId: product.id,
				available: 7,
				reserved: 0,
			});
			expect(
				(await api.post(`/api/inventory/${product.id}/restock`, { quantity: 4 }, { token: ann.token })).status,
			).toBe(403);
			expect((await api.put(`/api/inventory/${product.id}`, { available: -1 }, { token: admin })).status).toBe(422);
			expect((await api.put(`/api/inventory/unknown`, { available: 5 }, { token: admin })).status).toBe(404);
			expect((await api.get(`/api/inventory/unknown`)).status).toBe(404);
		});
	});

	describe("orders", () => {
		it("places an order, notifies, cancels with a refund and puts the stock back", async () => {
			const product = await newProduct("ORD-1", 2500, 10);
			const placed = await api.post<Order>(
				"/api/orders",
				{
					items: [
						{ productId: product.id, quantity: 2 },
						{ productId: product.id, quantity: 1 },
					],
					paymentToken: "tok_visa",
				},
				{ token: ann.token },
			);
			expect(placed.status).toBe(201);
			expect(placed.body).toMatchObject({
				status: "CONFIRMED",
				userId: ann.user.id,
				total: 7500,
				currency: "USD",
				items: [{ productId: product.id, name: "Product ORD-1", unitPrice: 2500, quantity: 3, lineTotal: 7500 }],
			});
			expect(placed.body).not.toHaveProperty("paymentToken");
			expect(await stockOf(product.id)).toMatchObject({ available: 7, reserved: 0 });

			const notes = await eventually(async () => {
				const res = await api.get<Page<Notification>>("/api/notifications", { token: ann.token });
				return res.body.rows.find(n => n.type === "order.confirmed" && n.data.orderId === placed.body.id) ? res : null;
			});
			expect(notes.body.rows.some(n => n.type === "user.registered")).toBe(true);

			const payments = await api.get<Page<Payment>>(`/api/payments?orderId=${placed.body.id}`, { token: ann.token });
			expect(payments.body.rows).toMatchObject([{ orderId: placed.body.id, amount: 7500, status: "SUCCEEDED" }]);

			const cancelled = await api.post<Order>(`/api/orders/${placed.body.id}/cancel`, undefined, { token: ann.token });
			expect(cancelled.status).toBe(200);
			expect(cancelled.body.status).toBe("CANCELLED");
			expect(await stockOf(product.id)).toMatchObject({ available: 10, reserved: 0 });
			const refunded = await api.get<Page<Payment>>(`/api/payments?orderId=${placed.body.id}`, { token: ann.token });
			expect(refunded.body.rows).toMatchObject([
				{ kind: "CHARGE", status: "REFUNDED" },
				{ kind: "REFUND", status: "SUCCEEDED", amount: 7500, returnId: null },
			]);
			expect(
				(await api.post(`/api/orders/${placed.body.id}/cancel`, undefined, { token: ann.token })).body,
			).toMatchObject({ code: 409, type: "INVALID_TRANSITION" });
			await eventually(async () => {
				const notifications = await api.get<Page<Notification>>("/api/notifications", { token: ann.token });
				const types = notifications.body.rows.map(n => n.type);
				return types.includes("order.cancelled") && types.includes("payment.refunded");
			});
		});

		it(
			"keeps failed orders with their reason and releases everything: " + "declined, unavailable, out of stock",
			async () => {
				const product = await newProduct("ORD-2", 1000, 2);
				const declined = await api.post<OrderError>(
					"/api/orders",
					{ items: [{ productId: product.id, quantity: 1 }], paymentToken: "tok_declined" },
					{ token: ann.token },
				);
				expect(declined.status).toBe(402);
				expect(declined.body).toMatchObject({ type: "PAYMENT_DECLINED", data: { orderId: expect.any(String) } });
				expect((await api.get(`/api/orders/${declined.body.data.orderId}`, { token: ann.token })).body).toMatchObject({
					status: "FAILED",
					failureReason: "PAYMENT_DECLINED",
				});

				const unavailable = await api.post<ApiError>(
					"/api/orders",
					{ items: [{ productId: product.id, quantity: 1 }], paymentToken: "tok_unavailable" },
					{ token: ann.token },
				);
				expect(unavailable.status).toBe(503);
				expect(unavailable.body.type).toBe("PAYMENT_UNAVAILABLE");

				const short = await api.post(
					"/api/orders",
					{
						items: [
							{ productId: product.id, quantity: 3 },
							{ productId: "seed-book-001", quantity: 1 },
						],
						paymentToken: "tok_visa",
					},
					{ token: ann.token },
				);
				expect(short.status).toBe(409);
				expect(short.body).toMatchObject({
					type: "OUT_OF_STOCK",
					data: { orderId: expect.any(String), lines: [{ productId: product.id, requested: 3, available: 2 }] },
				});
				expect(await stockOf(product.id)).toMatchObject({ available: 2, reserved: 0 });

				expect(
					(
						await api.post(
							"/api/orders",
							{ items: [{ productId: "ghost", quantity: 1 }], paymentToken: "tok_visa" },
							{ token: ann.token },
						)
					).body,
				).toMatchObject({ code: 422, type: "UNKNOWN_PRODUCT" });
				for (const items of [
					[],
					[{ productId: product.id, quantity: 0 }],
					[{ productId: product.id, quantity: 1.5 }],
					[{ productId: product.id, quantity: 1001 }],
					Array.from({ length: 51 }, () => ({ productId: product.id, quantity: 1 })),
				]) {
					expect(
						(await api.post("/api/orders", { items, paymentToken: "tok_visa" }, { token: ann.token })).status,
					).toBe(422);
				}
			},
		);

		it("answers the same Idempotency-Key with the same order and charges once, also concurrently", async () => {
			const product = await newProduct("ORD-3", 700, 50);
			const body = { items: [{ productId: product.id, quantity: 1 }], paymentToken: "tok_visa" };
			const headers = { "Idempotency-Key": "checkout-42" };
			const responses = await Promise.all(
				Array.from({ length: 20 }, () => api.post<Order>("/api/orders", body, { token: ann.token, headers })),
			);
			expect(responses.map(r => r.status)).toEqual(Array(20).fill(201));
			const ids = new Set(responses.map(r => r.body.id));
			expect(ids.size).toBe(1);
			expect(responses.filter(r => r.headers.get("idempotent-replayed") === "true")).toHaveLength(19);
			const [orderId] = ids;
			expect((await api.get<Page<Payment>>(`/api/payments?orderId=${orderId}`, { token: ann.token })).body.total).toBe(
				1,
			);
			expect(await stockOf(product.id)).toMatchObject({ available: 49 });
			// The key is per user, and reusing it for another request is refused.
			expect((await api.post<Order>("/api/orders", body, { token: bob.token, headers })).body.id).not.toBe(orderId);
			const reused = await api.post<ApiError>(
				"/api/orders",
				{ ...body, paymentToken: "tok_declined" },
				{ token: ann.token, headers },
			);
			expect(reused.body.type).toBe("IDEMPOTENCY_KEY_REUSED");
		});

		it("shows orders to their owner and admins only; admins move them through shipping", async () => {
			const product = await newProduct("ORD-4", 100, 5);
			const order = (
				await api.post<Order>(
					"/api/orders",
					{ items: [{ productId: product.id, quantity: 1 }], paymentToken: "tok_visa" },
					{ token: bob.token },
				)
			).body;
			expect((await api.get(`/api/orders/${order.id}`, { token: ann.token })).body).toMatchObject({ code: 404 });
			expect((await api.post(`/api/orders/${order.id}/cancel`, undefined, { token: ann.token })).status).toBe(404);
			expect((await api.get(`/api/payments?orderId=${order.id}`, { token: ann.token })).status).toBe(404);
			const annsOrders = await api.get<Page<Order>>("/api/orders", { token: ann.token });
			expect(annsOrders.body.rows.every(o => o.userId === ann.user.id)).toBe(true);
			const bobsOrders = await api.get<Page<Order>>(`/api/orders?userId=${bob.user.id}`, { token: admin });
			expect(bobsOrders.body.rows.map(o => o.id)).toContain(order.id);

			expect(
				(await api.patch(`/api/orders/${order.id}/status`, { status: "DELIVERED" }, { token: admin })).status,
			).toBe(409);
			expect(
				(await api.patch(`/api/orders/${order.id}/status`, { status: "SHIPPED" }, { token: bob.token })).status,
			).toBe(403);
			expect(
				(await api.patch<Order>(`/api/orders/${order.id}/status`, { status: "SHIPPED" }, { token: admin })).body.status,
			).toBe("SHIPPED");
			expect((await api.post(`/api/orders/${order.id}/cancel`, undefined, { token: bob.token })).status).toBe(409);
			expect(
				(await api.patch<Order>(`/api/orders/${order.id}/status`, { status: "DELIVERED" }, { token: admin })).body
					.status,
			).toBe("DELIVERED");
			expect(
				(await api.patch(`/api/orders/${order.id}/status`, { status: "CANCELLED" }, { token: admin })).status,
			).toBe(422);
		});

		it("never sells more than the stock under many simultaneous orders", async () => {
			const product = await newProduct("ORD-5", 100, 10);
			const results = await Promise.all(
				Array.from({ length: 60 }, (_, i) =>
					api.post(
						"/api/orders",
						{ items: [{ productId: product.id, quantity: 1 }], paymentToken: "tok_visa" },
						{ token: i % 2 ? ann.token : bob.token },
					),
				),
			);
			const statuses = results.map(r => r.status);
			expect(statuses.filter(s => s === 201)).toHaveLength(10);
			expect(statuses.filter(s => s === 409)).toHaveLength(50);
			expect(await stockOf(product.id)).toEqual({ productId: product.id, available: 0, reserved: 0 });
		});
	});

	describe("gateway", () => {
		it("uses one error shape for malformed JSON, oversize bodies, bad tokens and unknown routes", async () => {
			expect((await api.request("POST", "/api/auth/login", { rawBody: '{"email":' })).body).toEqual({
				name: "BadRequestError",
				message: "Malformed JSON body",
				code: 400,
				type: "INVALID_JSON",
			});
			expect(
				(
					await api.request("POST", "/api/auth/login", {
						rawBody: JSON.stringify({ email: "a@b.co", password: "x".repeat(1_100_000) }),
					})
				).status,
			).toBe(413);
			expect((await api.get("/api/users/me", { token: "not.a.token" })).body).toMatchObject({
				code: 401,
				type: "INVALID_TOKEN",
			});
			expect((await api.get("/api/users/me", { headers: { authorization: "Basic abc" } })).status).toBe(401);
			// The scheme name is case-insensitive (RFC 7235).
			expect((await api.get("/api/users/me", { headers: { authorization: `bearer ${ann.token}` } })).status).toBe(200);
			const missing = await api.get("/api/nothing-here");
			expect(missing.body).toMatchObject({ code: 404, type: "NOT_FOUND" });
			expect(JSON.stringify(missing.body)).not.toMatch(/stack|at /);
		});

		it("exposes no internal action", async () => {
			for (const path of [
				"/api/inventory.reserve",
				"/api/payments/charge",
				"/api/orders/audit",
				"/api/~node/health",
				"/api/$node/list",
				"/api/users/principal",
			]) {
				const res = await api.post(path, { orderId: "x", items: [{ productId: "p", quantity: 1 }] }, { token: admin });
				expect([404, 405]).toContain(res.status);
			}
			expect((await api.get("/api/users/adminIds", { token: admin })).status).toBe(404);
		});

		it("echoes a client X-Request-ID and generates one otherwise", async () => {
			const mine = await api.get("/api/products/seed-book-001", { headers: { "x-request-id": "req-1234567890" } });
			expect(mine.headers.get("x-request-id")).toBe("req-1234567890");
			const error = await api.get("/api/products/nope", { headers: { "x-request-id": "req-abcdefghij" } });
			expect(error.headers.get("x-request-id")).toBe("req-abcdefghij");
			expect((await api.get("/api/products")).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
			expect(
				(await api.get("/api/products", { headers: { "x-request-id": "bad id with spaces" } })).headers.get(
					"x-request-id",
				),
			).toMatch(/^[0-9a-f-]{36}$/);
		});

		it("answers health probes", async () => {
			expect((await api.get("/health/live")).body).toEqual({ status: "ok" });
			expect((await api.get("/health/ready")).body).toMatchObject({ status: "ready", missing: [] });
		});
	});

	it("leaves stock and money consistent", async () => {
		const report = await eventually(async () => {
			const r = await auditShop(shop.broker);
			return r.ok ? r : null;
		}, 5000).catch(async () => auditShop(shop.broker));
		expect(report.violations).toEqual([]);
		expect(report.counts.orders.CONFIRMED).toBeGreaterThan(10);
	});
});
