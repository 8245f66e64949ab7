import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import type { Order, Product } from "../support/api";
import { call } from "../../lib/actor";
import type { AuthUser } from "../../lib/auth";
import type { CartView } from "../../services/carts/contract";
import type { ShippingOption } from "../../services/shipping/contract";

/**
 * Issue 13 on a cart, in one process: a code, a shipping method and the tax of the cart's country, priced as orders
 * will price them (services/orders/totals.ts), and checkout's refusals; the cart actions on the broker and over HTTP.
 */
describe("a cart's code, shipping and tax", () => {
	let shop: Shop;
	let api: Client;
	let admin: AuthUser;
	let customer: string;
	const methods: Record<string, string> = {};
	const promotions: Record<string, string> = {};
	const gb = { line1: "1 High St", city: "London", postalCode: "N1 1AA", country: "GB" };

	beforeAll(async () => {
		shop = await startShop();
		api = client(shop.url);
		const session = await api.login("admin@example.com", "admin-password");
		admin = { ...session.user, email: "admin@example.com", name: "Admin", role: "admin" };
		customer = (await api.register("money-carts@example.com", "money-password", "Mo")).token;
		const meta = { user: admin };
		for (const [name, price, countries, freeOver] of [
			["Standard", 499, ["*"], 5000],
			["Express", 1499, ["*"], null],
			["Local", 299, ["US"], null],
		] as const) {
			const method = { name, price, currency: "USD", countries: [...countries], freeOver, active: true };
			methods[name] = (await call(shop.broker, "shipping.createMethod", method, { meta })).id;
		}
		await call(shop.broker, "shipping.putRate", { country: "GB", rate: 2000, shippingTaxable: true }, { meta });
		for (const promotion of [
			{ code: "SAVE10", type: "PERCENTAGE" as const, value: 10 },
			{ code: "FREESHIP", type: "FREE_SHIPPING" as const },
			{ code: "BIGSPEND", type: "PERCENTAGE" as const, value: 20, minSubtotal: 100_000 },
			{ code: "LIMIT1", type: "PERCENTAGE" as const, value: 5, usageLimit: 1 },
		])
			promotions[promotion.code] = (
				await call(shop.broker, "promotions.create", { ...promotion, active: true }, { meta })
			).id;
	});

	afterAll(async () => {
		await shop?.stop();
	});

	async function newProduct(sku: string, price: number): Promise<Product> {
		const token = (await api.login("admin@example.com", "admin-password")).token;
		const created = await api.post<Product>("/api/products", { name: sku, price, category: "Test", sku }, { token });
		await eventually(
			async () => (await api.put(`/api/inventory/${created.body.id}`, { available: 100 }, { token })).status === 200,
		);
		return created.body;
	}

	/** A guest cart of 2 × 2000 + 1 × 500 (subtotal 4500). */
	async function newCart(prefix: string): Promise<string> {
		const [mug, pen] = [await newProduct(`${prefix}-MUG`, 2000), await newProduct(`${prefix}-PEN`, 500)];
		const cart = (await api.post<CartView>("/api/carts", {})).body;
		await api.post(`/api/carts/${cart.id}/items`, { productId: mug.id, quantity: 2 });
		await api.post(`/api/carts/${cart.id}/items`, { productId: pen.id, quantity: 1 });
		return cart.id;
	}
	const read = async (id: string) => (await api.get<CartView>(`/api/carts/${id}`)).body;
	const patch = (id: string, body: unknown) => api.patch<CartView>(`/api/carts/${id}`, body);
	const totals = (subtotal: number, discount: number, shipping: number, tax: number) => ({
		subtotal,
		discount,
		shipping,
		tax,
		total: subtotal - discount + shipping + tax,
	});
	const byName = (options: ShippingOption[]) =>
		options.map(o => [o.name, o.price, o.listPrice]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
	const apply = (id: string, code: string) => call(shop.broker, "carts.applyDiscount", { id, code });
	const remove = (id: string, code: string) => call(shop.broker, "carts.removeDiscount", { id, code });
	const options = (id: string) => call(shop.broker, "carts.shippingMethods", { id });

	it("chooses shipping for the cart's country, taxed by that country", async () => {
		const id = await newCart("MONEY-A");
		await expect(options(id)).rejects.toMatchObject({ code: 422, type: "SHIPPING_REQUIRED" });
		const early = await patch(id, { shippingMethodId: methods.Standard });
		expect(early.body).toMatchObject({ code: 422, type: "SHIPPING_REQUIRED" });

		const addressed = await patch(id, { shippingAddress: gb });
		expect(addressed.body.totals).toEqual(totals(4500, 0, 0, 900));
		expect(addressed.body.items.map(i => [i.discount, i.tax, i.total])).toEqual([
			[0, 800, 4800],
			[0, 100, 600],
		]);
		expect(byName(await options(id))).toEqual([
			["Express", 1499, 1499],
			["Standard", 499, 499],
		]);

		const local = await patch(id, { shippingMethodId: methods.Local });
		expect(local.body).toMatchObject({ code: 422, type: "SHIPPING_NOT_AVAILABLE" });
		expect((await read(id)).shippingMethodId).toBeNull();
		const chosen = await patch(id, { shippingMethodId: methods.Standard });
		expect(chosen.status).toBe(200);
		// 4500 is under Standard's 5000: 499, taxed 20 % in GB (100).
		expect(chosen.body).toMatchObject({ shippingMethodId: methods.Standard, totals: totals(4500, 0, 499, 1000) });
		const cleared = await patch(id, { shippingMethodId: null });
		expect(cleared.body).toMatchObject({ shippingMethodId: null, totals: totals(4500, 0, 0, 900) });

		// A cart can start with both (one request fewer for a client that knows them).
		const started = await api.post<CartView>("/api/carts", { shippingAddress: gb, shippingMethodId: methods.Standard });
		expect(started.status).toBe(201);
		expect(started.body).toMatchObject({ shippingMethodId: methods.Standard, totals: totals(0, 0, 0, 0) });
		for (const body of [
			{ shippingMethodId: methods.Standard },
			{ shippingAddress: gb, shippingMethodId: methods.Local },
		])
			expect((await api.post("/api/carts", body)).status).toBe(422);
	});

	it("applies one code at a time, case-insensitive, and refuses one that does not apply", async () => {
		const id = await newCart("MONEY-B");
		await patch(id, { shippingAddress: gb, shippingMethodId: methods.Standard });
		const saved = await apply(id, "save10");
		expect(saved.discountCode).toBe("SAVE10");
		// 450 off, split 400 / 50 over the lines; 4050 still ships at 499; tax 720 + 90 + 100.
		expect(saved.totals).toEqual(totals(4500, 450, 499, 910));
		expect(saved.items.map(i => [i.discount, i.tax, i.total])).toEqual([
			[400, 720, 4320],
			[50, 90, 540],
		]);
		await expect(apply(id, "bigspend")).rejects.toMatchObject({
			code: 422,
			type: "DISCOUNT_NOT_APPLICABLE",
			data: { reason: "MIN_SUBTOTAL" },
		});
		await expect(apply(id, "nope1")).rejects.toMatchObject({ code: 422, data: { reason: "UNKNOWN" } });
		expect((await read(id)).discountCode).toBe("SAVE10");
		await expect(apply(id, "x")).rejects.toMatchObject({ code: 422, type: "VALIDATION_ERROR" });

		const free = await apply(id, "FreeShip");
		expect(free).toMatchObject({ discountCode: "FREESHIP", totals: totals(4500, 0, 0, 900) });
		expect(byName(await options(id))).toEqual([
			["Express", 0, 1499],
			["Standard", 0, 499],
		]);
		await expect(remove(id, "save10")).rejects.toMatchObject({ code: 404 });
		const removed = await remove(id, "freeship");
		expect(removed).toMatchObject({ discountCode: null, totals: totals(4500, 0, 499, 1000) });
	});

	it("shows a code or a method that no longer applies, and checkout refuses without an eligible method", async () => {
		const id = await newCart("MONEY-C");
		await patch(id, { shippingAddress: gb, shippingMethodId: methods.Standard });
		await apply(id, "SAVE10");
		const meta = { user: admin };
		await call(shop.broker, "promotions.update", { id: promotions.SAVE10, active: false }, { meta });
		try {
			expect(await read(id)).toMatchObject({
				discountCode: "SAVE10",
				discountProblem: "INACTIVE",
				totals: totals(4500, 0, 499, 1000),
			});
		} finally {
			await call(shop.broker, "promotions.update", { id: promotions.SAVE10, active: true }, { meta });
		}
		await call(shop.broker, "shipping.updateMethod", { id: methods.Standard, countries: ["US"] }, { meta });
		try {
			const stale = await read(id);
			expect(stale).toMatchObject({ shippingMethodId: methods.Standard, shippingProblem: "SHIPPING_NOT_AVAILABLE" });
			expect(stale.totals).toEqual(totals(4500, 450, 0, 810));
			expect(stale).not.toHaveProperty("discountProblem");
			const refused = await api.post(`/api/carts/${id}/checkout`, { paymentToken: "tok_visa" }, { token: customer });
			expect(refused.body).toMatchObject({ code: 422, type: "SHIPPING_NOT_AVAILABLE" });
			// Refused before anything started: the guest cart was not even claimed.
			expect(await read(id)).toMatchObject({ userId: null, status: "ACTIVE" });
		} finally {
			await call(shop.broker, "shipping.updateMethod", { id: methods.Standard, countries: ["*"] }, { meta });
		}
		await patch(id, { shippingMethodId: null });
		const none = await api.post(`/api/carts/${id}/checkout`, { paymentToken: "tok_visa" }, { token: customer });
		expect(none.body).toMatchObject({ code: 422, type: "SHIPPING_REQUIRED" });
	});

	it("routes the cart's money actions over HTTP", async () => {
		const id = await newCart("MONEY-D");
		expect((await api.get(`/api/carts/${id}/shipping-methods`)).body).toMatchObject({ type: "SHIPPING_REQUIRED" });
		await patch(id, { shippingAddress: gb });
		const listed = await api.get<ShippingOption[]>(`/api/carts/${id}/shipping-methods`);
		expect(listed.status).toBe(200);
		expect(byName(listed.body)).toContainEqual(["Standard", 499, 499]);
		const applied = await api.post<CartView>(`/api/carts/${id}/discounts`, { code: "save10" });
		expect(applied.status).toBe(200);
		expect(applied.body.discountCode).toBe("SAVE10");
		expect((await api.post(`/api/carts/${id}/discounts`, { code: "nope1" })).body).toMatchObject({
			code: 422,
			data: { reason: "UNKNOWN" },
		});
		expect((await api.delete(`/api/carts/${id}/discounts/OTHER`)).status).toBe(404);
		const removed = await api.delete<CartView>(`/api/carts/${id}/discounts/save10`);
		expect(removed.status).toBe(200);
		expect(removed.body.discountCode).toBeNull();
	});

	it("places the order the cart shows: its code, its method and its country's tax", async () => {
		const id = await newCart("MONEY-E");
		await patch(id, { shippingAddress: gb, shippingMethodId: methods.Express });
		const shown = await apply(id, "SAVE10");
		expect(shown.totals).toEqual(totals(4500, 450, 1499, 810 + 300));
		const placed = await api.post<Order>(
			`/api/carts/${id}/checkout`,
			{ paymentToken: "tok_visa" },
			{ token: customer },
		);
		expect(placed.status).toBe(201);
		expect(placed.body).toMatchObject({
			total: shown.totals.total,
			totals: shown.totals,
			discountCode: "SAVE10",
			shippingMethod: { id: methods.Express },
		});
	});

	it("keeps the code on a cart whose checkout finds it used up, so it can be removed", async () => {
		const first = await newCart("MONEY-F1");
		const second = await newCart("MONEY-F2");
		const other = (await api.register("money-carts-2@example.com", "money-password", "Ed")).token;
		for (const id of [first, second]) {
			await patch(id, { shippingAddress: gb, shippingMethodId: methods.Standard });
			await apply(id, "LIMIT1");
		}
		const placed = await api.post(`/api/carts/${first}/checkout`, { paymentToken: "tok_visa" }, { token: customer });
		expect(placed.status).toBe(201);
		const refused = await api.post(`/api/carts/${second}/checkout`, { paymentToken: "tok_visa" }, { token: other });
		expect(refused.status).toBeOneOf([409, 422]);
		expect(refused.body).toMatchObject({ data: { reason: "EXHAUSTED" } });
		const kept = (await api.get<CartView>(`/api/carts/${second}`, { token: other })).body;
		expect(kept).toMatchObject({ status: "ACTIVE", discountCode: "LIMIT1", discountProblem: "EXHAUSTED" });
		// The checkout claimed the guest cart: its owner removes the code over HTTP and checks out again.
		const removed = await api.delete(`/api/carts/${second}/discounts/limit1`, { token: other });
		expect(removed.status).toBe(200);
		const retried = await api.post(`/api/carts/${second}/checkout`, { paymentToken: "tok_visa" }, { token: other });
		expect(retried.status).toBe(201);
	});
});
