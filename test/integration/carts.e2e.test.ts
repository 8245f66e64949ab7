import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import type { ApiError, Notification, Order, OrderError, Page, Payment, Product, Stock } from "../support/api";
import { auditShop } from "../../lib/audit";
import { call } from "../../lib/actor";
import type { CartView } from "../../services/carts/contract";

/**
 * Issue 12's carts over HTTP in one process: a guest builds a cart, logs in and claims it (merged into the cart they
 * had), checks out once however often they press the button, and stock and notifications follow. Issue 13: checkout
 * needs an address and a shipping method ("Standard", free over 5000, so these orders cost what they did).
 */
describe("carts in one process, over HTTP", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;
	let ann: { token: string; user: { id: string } };
	let bob: { token: string; user: { id: string } };
	let standard: string;
	const shipping = (methodId = standard) => ({
		shippingAddress: { line1: "1 Ship St", city: "Springfield", postalCode: "12345", country: "US" },
		shippingMethodId: methodId,
	});

	beforeAll(async () => {
		shop = await startShop();
		api = client(shop.url);
		const session = await api.login("admin@example.com", "admin-password");
		admin = session.token;
		const method = { name: "Standard", price: 499, currency: "USD", countries: ["*"], freeOver: 5000, active: true };
		const meta = { user: { ...session.user, role: "admin" as const } };
		standard = (await call(shop.broker, "shipping.createMethod", method, { meta })).id;
		ann = await api.register("ann-carts@example.com", "ann-password", "Ann");
		bob = await api.register("bob-carts@example.com", "bob-password", "Bob");
	});

	afterAll(async () => {
		await shop?.stop();
	});

	async function newProduct(sku: string, price: number, stock: number): Promise<Product> {
		const created = await api.post<Product>(
			"/api/products",
			{ name: `Product ${sku}`, price, category: "Test", sku },
			{ token: admin },
		);
		expect(created.status).toBe(201);
		await eventually(
			async () =>
				(await api.put(`/api/inventory/${created.body.id}`, { available: stock }, { token: admin })).status === 200,
		);
		return created.body;
	}
	const stockOf = async (id: string) => (await api.get<Stock>(`/api/inventory/${id}`)).body;
	const newCart = async (token?: string) => (await api.post<CartView>("/api/carts", {}, { token })).body;
	const add = (cartId: string, body: unknown, token?: string) =>
		api.post<CartView>(`/api/carts/${cartId}/items`, body, { token });

	it("builds a guest cart: add, raise, patch, remove, priced from the catalogue at every read", async () => {
		const mug = await newProduct("CART-MUG", 1200, 30);
		const tee = await newProduct("CART-TEE", 2500, 5);
		const created = await api.post<CartView>("/api/carts", {});
		expect(created.status).toBe(201);
		expect(created.headers.get("location")).toBe(`/api/carts/${created.body.id}`);
		expect(created.body).toMatchObject({ userId: null, status: "ACTIVE", items: [], orderId: null });
		expect(created.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
		const cartId = created.body.id;

		expect((await add(cartId, { productId: mug.id, quantity: 2 })).status).toBe(200);
		const raised = await add(cartId, { variantId: mug.id, quantity: 3 });
		expect(raised.body.items).toEqual([
			{
				id: expect.any(String) as string,
				productId: mug.id,
				variantId: mug.id,
				sku: "CART-MUG",
				name: "Product CART-MUG",
				options: {},
				unitPrice: 1200,
				quantity: 5,
				lineTotal: 6000,
				discount: 0,
				tax: 0,
				total: 6000,
				available: 30,
			},
		]);
		const withTee = await add(cartId, { productId: tee.id, quantity: 1 });
		expect(withTee.body.totals).toEqual({ subtotal: 8500, discount: 0, shipping: 0, tax: 0, total: 8500 });
		expect(withTee.body).toMatchObject({ discountCode: null, shippingMethodId: null });
		expect(withTee.body.currency).toBe("USD");
		const teeLine = withTee.body.items[1].id;

		expect((await add(cartId, { productId: "no-such-product", quantity: 1 })).body).toMatchObject({
			code: 422,
			type: "UNKNOWN_PRODUCT",
		});
		expect((await add(cartId, { productId: mug.id, quantity: 0 })).status).toBe(422);
		expect((await add(cartId, { productId: mug.id, quantity: 996 })).body).toMatchObject({
			type: "QUANTITY_TOO_LARGE",
		});
		expect((await add(cartId, { quantity: 1 })).status).toBe(422);

		const patched = await api.patch<CartView>(`/api/carts/${cartId}/items/${teeLine}`, { quantity: 4 });
		expect(patched.body.items[1]).toMatchObject({ quantity: 4, lineTotal: 10000, available: 5 });
		const details = await api.patch<CartView>(`/api/carts/${cartId}`, {
			email: "guest@example.com",
			shippingAddress: { line1: "1 Cart Way", city: "Springfield", postalCode: "12345", country: "US" },
		});
		expect(details.body).toMatchObject({ email: "guest@example.com", shippingAddress: { line1: "1 Cart Way" } });
		const chosen = await api.patch<CartView>(`/api/carts/${cartId}`, { shippingMethodId: standard });
		expect(chosen.body).toMatchObject({ shippingMethodId: standard, totals: { shipping: 0, total: 16000 } });

		// A price change shows at the next read: the cart holds no price.
		await api.patch(`/api/products/${mug.id}`, { price: 1000 }, { token: admin });
		const read = await api.get<CartView>(`/api/carts/${cartId}`);
		expect(read.body.items[0]).toMatchObject({ unitPrice: 1000, lineTotal: 5000 });

		const zero = await api.patch<CartView>(`/api/carts/${cartId}/items/${teeLine}`, { quantity: 0 });
		expect(zero.body.items.map(i => i.productId)).toEqual([mug.id]);
		const mugLine = zero.body.items[0].id;
		expect((await api.delete<CartView>(`/api/carts/${cartId}/items/${mugLine}`)).body.items).toEqual([]);
		expect((await api.delete(`/api/carts/${cartId}/items/${mugLine}`)).status).toBe(404);
		// A cart never holds stock.
		expect(await stockOf(tee.id)).toMatchObject({ available: 5, reserved: 0 });
	});

	it("keeps a customer to one current cart and hides it from everyone else", async () => {
		const first = await api.post<CartView>("/api/carts", {}, { token: bob.token });
		expect(first.status).toBe(201);
		expect(first.body.userId).toBe(bob.user.id);
		const again = await api.post<CartView>("/api/carts", {}, { token: bob.token });
		expect(again.status).toBe(200);
		expect(again.body.id).toBe(first.body.id);
		expect((await api.get<CartView>("/api/carts/mine", { token: bob.token })).body.id).toBe(first.body.id);
		expect((await api.get("/api/carts/mine", { token: admin })).status).toBe(404);
		expect((await api.get("/api/carts/mine")).status).toBe(401);
		for (const token of [ann.token, undefined]) {
			const seen = await api.get<ApiError>(`/api/carts/${first.body.id}`, { token });
			expect(seen.status).toBe(404);
			expect(JSON.stringify(seen.body)).not.toContain(bob.user.id);
			expect((await api.patch(`/api/carts/${first.body.id}`, { email: "x@example.com" }, { token })).status).toBe(404);
			expect((await api.post(`/api/carts/${first.body.id}/claim`, {}, { token: ann.token })).status).toBe(404);
		}
	});

	it("merges a guest cart into the customer's cart at login, capped at 1000, and checks it out once", async () => {
		const lamp = await newProduct("CART-LAMP", 3000, 2000);
		const sock = await newProduct("CART-SOCK", 500, 50);
		const mine = await newCart(ann.token);
		await add(mine.id, { productId: lamp.id, quantity: 600 }, ann.token);
		const guest = await newCart();
		await add(guest.id, { productId: lamp.id, quantity: 700 });
		await add(guest.id, { productId: sock.id, quantity: 2 });

		const claimed = await api.post<CartView>(`/api/carts/${guest.id}/claim`, {}, { token: ann.token });
		expect(claimed.status).toBe(200);
		expect(claimed.body).toMatchObject({ id: mine.id, userId: ann.user.id, status: "ACTIVE" });
		expect(claimed.body.items.map(i => [i.productId, i.quantity])).toEqual([
			[lamp.id, 1000],
			[sock.id, 2],
		]);
		expect((await api.get<CartView>(`/api/carts/${guest.id}`)).body.status).toBe("MERGED");
		expect((await add(guest.id, { productId: sock.id, quantity: 1 })).body).toMatchObject({
			code: 409,
			type: "CART_COMPLETED",
		});
		expect(
			(await api.post(`/api/carts/${guest.id}/checkout`, { paymentToken: "tok_visa" }, { token: ann.token })).body,
		).toMatchObject({ code: 409, type: "CART_COMPLETED" });

		const lampLine = claimed.body.items[0].id;
		await api.patch(`/api/carts/${mine.id}/items/${lampLine}`, { quantity: 3 }, { token: ann.token });
		await api.patch(
			`/api/carts/${mine.id}`,
			{
				shippingAddress: { line1: "2 Lamp St", city: "Springfield", postalCode: "12345", country: "US" },
				shippingMethodId: standard,
			},
			{ token: ann.token },
		);
		const checkout = () =>
			api.post<Order>(`/api/carts/${mine.id}/checkout`, { paymentToken: "tok_visa" }, { token: ann.token });
		const placed = await checkout();
		expect(placed.status).toBe(201);
		expect(placed.headers.get("idempotent-replayed")).toBeNull();
		expect(placed.body).toMatchObject({
			status: "CONFIRMED",
			userId: ann.user.id,
			total: 10000,
			shippingAddress: { line1: "2 Lamp St" },
		});
		expect(await stockOf(lamp.id)).toMatchObject({ available: 1997, reserved: 0 });
		expect(await stockOf(sock.id)).toMatchObject({ available: 48, reserved: 0 });

		const replay = await checkout();
		expect(replay.status).toBe(201);
		expect(replay.headers.get("idempotent-replayed")).toBe("true");
		expect(replay.body).toEqual(placed.body);
		const done = await api.get<CartView>(`/api/carts/${mine.id}`, { token: ann.token });
		expect(done.body).toMatchObject({ status: "COMPLETED", orderId: placed.body.id });
		expect((await add(mine.id, { productId: sock.id, quantity: 1 }, ann.token)).body).toMatchObject({
			code: 409,
			type: "CART_COMPLETED",
		});
		// The completed cart is no longer the current one: a new cart starts.
		expect((await api.get("/api/carts/mine", { token: ann.token })).status).toBe(404);
		expect((await api.post("/api/carts", {}, { token: ann.token })).status).toBe(201);

		await eventually(async () => {
			const res = await api.get<Page<Notification>>("/api/notifications", { token: ann.token });
			return res.body.rows.some(n => n.type === "order.confirmed" && n.data.orderId === placed.body.id);
		});
		const payments = await api.get<Page<Payment>>(`/api/payments?orderId=${placed.body.id}`, { token: ann.token });
		expect(payments.body.rows).toMatchObject([{ amount: 10000, status: "SUCCEEDED" }]);
	});

	it("refuses an empty cart; a failed checkout leaves the cart ACTIVE as it was, the next is a new order", async () => {
		const carol = await api.register("carol-carts@example.com", "carol-password", "Carol");
		const cart = await newCart(carol.token);
		const checkout = (paymentToken: string) =>
			api.post<Order>(`/api/carts/${cart.id}/checkout`, { paymentToken }, { token: carol.token });
		expect((await checkout("tok_visa")).body).toMatchObject({ code: 422, type: "EMPTY_CART" });

		const kettle = await newProduct("CART-KETTLE", 4000, 3);
		await add(cart.id, { productId: kettle.id, quantity: 2 }, carol.token);
		expect((await checkout("tok_visa")).body).toMatchObject({ code: 422, type: "SHIPPING_REQUIRED" });
		await api.patch(`/api/carts/${cart.id}`, shipping(), { token: carol.token });
		const before = (await api.get<CartView>(`/api/carts/${cart.id}`, { token: carol.token })).body;
		const declined = await api.post<OrderError>(
			`/api/carts/${cart.id}/checkout`,
			{ paymentToken: "tok_declined" },
			{ token: carol.token },
		);
		expect(declined.status).toBe(402);
		expect(declined.body).toMatchObject({ type: "PAYMENT_DECLINED", data: { orderId: expect.any(String) as string } });
		expect((await api.get<CartView>(`/api/carts/${cart.id}`, { token: carol.token })).body).toEqual(before);
		expect(await stockOf(kettle.id)).toMatchObject({ available: 3, reserved: 0 });

		const placed = await checkout("tok_visa");
		expect(placed.status).toBe(201);
		expect(placed.body.id).not.toBe(declined.body.data.orderId);
		expect(await stockOf(kettle.id)).toMatchObject({ available: 1 });
	});

	it("claims a guest cart on the way to checkout, and answers 20 concurrent checkouts with one order", async () => {
		const dave = await api.register("dave-carts@example.com", "dave-password", "Dave");
		const book = await newProduct("CART-BOOK", 2500, 10);
		const guest = await newCart();
		await add(guest.id, { productId: book.id, quantity: 2 });
		await api.patch(`/api/carts/${guest.id}`, shipping());
		const answers = await Promise.all(
			Array.from({ length: 20 }, () =>
				api.post<Order>(`/api/carts/${guest.id}/checkout`, { paymentToken: "tok_visa" }, { token: dave.token }),
			),
		);
		expect(answers.map(a => a.status)).toEqual(Array(20).fill(201));
		expect(new Set(answers.map(a => JSON.stringify(a.body))).size).toBe(1);
		expect(answers.filter(a => a.headers.get("idempotent-replayed") === "true")).toHaveLength(19);
		const orders = await api.get<Page<Order>>("/api/orders", { token: dave.token });
		expect(orders.body.total).toBe(1);
		const payments = await api.get<Page<Payment>>(`/api/payments?orderId=${answers[0].body.id}`, {
			token: dave.token,
		});
		expect(payments.body.rows).toMatchObject([{ status: "SUCCEEDED", amount: 5000 }]);
		expect(await stockOf(book.id)).toMatchObject({ available: 8, reserved: 0 });
		expect((await api.get<CartView>(`/api/carts/${guest.id}`, { token: dave.token })).body).toMatchObject({
			userId: dave.user.id,
			status: "COMPLETED",
			orderId: answers[0].body.id,
		});
		expect(await auditShop(shop.broker)).toMatchObject({ violations: [] });
	});

	it("refuses an address without a country before storing anything", async () => {
		const cat = await api.register("cat-carts@example.com", "cat-password", "Cat");
		for (const country of ["", "   ", "F\u0000R"]) {
			const address = { line1: "1 Ship St", city: "Springfield", postalCode: "12345", country };
			const refused = await api.post("/api/carts", { shippingAddress: address }, { token: cat.token });
			expect(refused.body, JSON.stringify(country)).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
		}
		// Had a refused create stored its cart, this would answer it with 200.
		const created = await api.post<CartView>("/api/carts", {}, { token: cat.token });
		expect(created.status).toBe(201);
		const patched = await api.patch(
			`/api/carts/${created.body.id}`,
			{ shippingAddress: { line1: "1 Ship St", city: "Springfield", postalCode: "12345", country: "" } },
			{ token: cat.token },
		);
		expect(patched.status).toBe(422);
		const unchanged = await api.get<CartView>(`/api/carts/${created.body.id}`, { token: cat.token });
		expect(unchanged.body.shippingAddress).toBeNull();
	});

	it("sweeps the carts untouched for CART_TTL_DAYS", async () => {
		const cart = await newCart();
		const carts = shop.broker.getLocalService("carts") as unknown as { sweep(now: number): Promise<number> };
		expect(await carts.sweep(Date.now())).toBe(0);
		expect(await carts.sweep(Date.now() + 31 * 24 * 3600 * 1000)).toBeGreaterThanOrEqual(1);
		expect((await api.get(`/api/carts/${cart.id}`)).status).toBe(404);
	});
});
