import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import type { ApiError, Notification, Order, Page, Product } from "../support/api";
import { auditShop } from "../../lib/audit";
import type { CartView } from "../../services/carts/contract";
import type { Totals } from "../../services/orders/totals";
import type { ReturnView } from "../../services/orders/contract";
import type { PromotionView } from "../../services/promotions/contract";
import type { ShippingOption } from "../../services/shipping/contract";

type PricedOrder = Order & {
	totals: Totals;
	discountCode: string | null;
	items: (Order["items"][number] & { discount: number; tax: number; total: number })[];
};
type PricedCart = CartView & { totals: Totals; discountCode: string | null; shippingMethodId: string | null };
interface PaymentRow {
	kind: "CHARGE" | "REFUND";
	status: string;
	amount: number;
	returnId?: string | null;
}
const GB_ADDRESS = { line1: "1 High Street", city: "London", postalCode: "SW1A 1AA", country: "GB" };

/**
 * Issue 13 over HTTP in one process, the README's worked example: three lines, a 10 % code, a courier to a country that
 * taxes goods and shipping at 20 %; a return of one unit refunds exactly its share, and returning the rest brings the
 * refunds to the order's total, to the cent.
 */
describe("money rules over HTTP: codes, shipping, tax, returns", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;
	let ann: { token: string; user: { id: string } };
	const products: Record<"tee" | "mug" | "poster", Product> = {} as never;
	let courierId: string;

	beforeAll(async () => {
		shop = await startShop();
		api = client(shop.url);
		admin = (await api.login("admin@example.com", "admin-password")).token;
		ann = await api.register("ann-money@example.com", "ann-password", "Ann");
		for (const [key, price] of [
			["tee", 1999],
			["mug", 1250],
			["poster", 750],
		] as const) {
			const res = await api.post<Product>(
				"/api/products",
				{ name: `Money ${key}`, price, category: "Money", sku: `MONEY-${key.toUpperCase()}` },
				{ token: admin },
			);
			expect(res.status).toBe(201);
			products[key] = res.body;
			await eventually(
				async () =>
					(await api.put(`/api/inventory/${res.body.id}`, { available: 50 }, { token: admin })).status === 200,
			);
		}
		const rate = await api.put("/api/tax-rates/gb", { rate: 2000, shippingTaxable: true }, { token: admin });
		expect(rate.status, JSON.stringify(rate.body)).toBe(200);
		expect(rate.body).toMatchObject({ country: "GB", rate: 2000, shippingTaxable: true });
		const courier = await api.post<{ id: string }>(
			"/api/shipping-methods",
			{ name: "Courier", price: 1499, currency: "USD", countries: ["GB", "IE"], active: true },
			{ token: admin },
		);
		expect(courier.status, JSON.stringify(courier.body)).toBe(201);
		courierId = courier.body.id;
	});

	afterAll(async () => {
		await shop?.stop();
	});

	async function code(body: Record<string, unknown>): Promise<PromotionView> {
		const res = await api.post<PromotionView>("/api/promotions", { active: true, ...body }, { token: admin });
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return res.body;
	}

	/** A cart of Ann's with the three lines, addressed to GB with the courier. */
	async function fullCart(): Promise<PricedCart> {
		const cart = (await api.post<PricedCart>("/api/carts", {}, { token: ann.token })).body;
		for (const [key, quantity] of [
			["tee", 2],
			["mug", 1],
			["poster", 3],
		] as const)
			expect(
				(await api.post(`/api/carts/${cart.id}/items`, { variantId: products[key].id, quantity }, { token: ann.token }))
					.status,
			).toBe(200);
		const addressed = await api.patch(`/api/carts/${cart.id}`, { shippingAddress: GB_ADDRESS }, { token: ann.token });
		expect(addressed.status).toBe(200);
		const methods = await api.get<ShippingOption[]>(`/api/carts/${cart.id}/shipping-methods`, { token: ann.token });
		expect(methods.status).toBe(200);
		expect(methods.body.find(m => m.id === courierId)).toMatchObject({ name: "Courier", price: 1499 });
		const chosen = await api.patch<PricedCart>(
			`/api/carts/${cart.id}`,
			{ shippingMethodId: courierId },
			{ token: ann.token },
		);
		expect(chosen.status, JSON.stringify(chosen.body)).toBe(200);
		return chosen.body;
	}

	const payments = async (orderId: string) =>
		(await api.get<Page<PaymentRow>>(`/api/payments?orderId=${orderId}`, { token: ann.token })).body.rows;

	async function receive(returnId: string): Promise<ReturnView> {
		const res = await api.post<ReturnView>(`/api/returns/${returnId}/receive`, {}, { token: admin });
		expect(res.status, JSON.stringify(res.body)).toBe(200);
		expect(res.body.status).toBe("RECEIVED");
		return eventually(async () => {
			const rows = (await api.get<Page<ReturnView>>(`/api/returns?status=RECEIVED`, { token: admin })).body.rows;
			const done = rows.find(r => r.id === returnId);
			return done?.refundStatus === "DONE" && done;
		});
	}

	it("prices the worked example, returns one unit for its share and the rest for the remainder", async () => {
		const save10 = await code({ code: "save10", type: "PERCENTAGE", value: 10 });
		expect(save10).toMatchObject({ code: "SAVE10", timesUsed: 0 });
		const cart = await fullCart();
		const applied = await api.post<PricedCart>(
			`/api/carts/${cart.id}/discounts`,
			{ code: "Save10" },
			{ token: ann.token },
		);
		expect(applied.status, JSON.stringify(applied.body)).toBe(200);
		expect(applied.body.discountCode).toBe("SAVE10");
		expect(applied.body.totals).toEqual({ subtotal: 7498, discount: 750, shipping: 1499, tax: 1650, total: 9897 });

		const placed = await api.post<PricedOrder>(
			`/api/carts/${cart.id}/checkout`,
			{ paymentToken: "tok_visa" },
			{ token: ann.token },
		);
		expect(placed.status, JSON.stringify(placed.body)).toBe(201);
		const order = placed.body;
		expect(order).toMatchObject({ status: "CONFIRMED", total: 9897, discountCode: "SAVE10" });
		expect(order.totals).toEqual({ subtotal: 7498, discount: 750, shipping: 1499, tax: 1650, total: 9897 });
		const byVariant = Object.fromEntries(order.items.map(i => [i.variantId, i]));
		expect(byVariant[products.tee.id]).toMatchObject({ lineTotal: 3998, discount: 400, tax: 720, total: 4318 });
		expect(byVariant[products.mug.id]).toMatchObject({ lineTotal: 1250, discount: 125, tax: 225, total: 1350 });
		expect(byVariant[products.poster.id]).toMatchObject({ lineTotal: 2250, discount: 225, tax: 405, total: 2430 });
		expect((await api.get<PromotionView>(`/api/promotions/${save10.id}`, { token: admin })).body.timesUsed).toBe(1);
		expect(await payments(order.id)).toMatchObject([{ kind: "CHARGE", status: "SUCCEEDED", amount: 9897 }]);

		for (const status of ["SHIPPED", "DELIVERED"])
			expect((await api.patch(`/api/orders/${order.id}/status`, { status }, { token: admin })).status).toBe(200);

		const first = await api.post<ReturnView>(
			`/api/orders/${order.id}/returns`,
			{ items: [{ variantId: products.poster.id, quantity: 1 }], reason: "too big" },
			{ token: ann.token },
		);
		expect(first.status, JSON.stringify(first.body)).toBe(201);
		expect(first.body).toMatchObject({
			orderId: order.id,
			userId: ann.user.id,
			status: "REQUESTED",
			items: [{ variantId: products.poster.id, quantity: 1, refundAmount: 810 }],
			refundAmount: 810,
			reason: "too big",
		});
		const tooMany = await api.post<ApiError<{ reason: string }>>(
			`/api/orders/${order.id}/returns`,
			{ items: [{ variantId: products.poster.id, quantity: 3 }] },
			{ token: ann.token },
		);
		expect(tooMany.status).toBe(422);
		expect(tooMany.body.type).toBe("RETURN_NOT_ALLOWED");

		const posterBefore = (await api.get<{ available: number }>(`/api/inventory/${products.poster.id}`)).body.available;
		await receive(first.body.id);
		expect((await api.get<PricedOrder>(`/api/orders/${order.id}`, { token: ann.token })).body.status).toBe(
			"PARTIALLY_RETURNED",
		);
		expect((await api.get<{ available: number }>(`/api/inventory/${products.poster.id}`)).body.available).toBe(
			posterBefore + 1,
		);
		expect(await payments(order.id)).toMatchObject([
			{ kind: "CHARGE", status: "PARTIALLY_REFUNDED", amount: 9897 },
			{ kind: "REFUND", status: "SUCCEEDED", amount: 810, returnId: first.body.id },
		]);

		const rest = await api.post<ReturnView>(
			`/api/orders/${order.id}/returns`,
			{
				items: [
					{ variantId: products.tee.id, quantity: 2 },
					{ variantId: products.mug.id, quantity: 1 },
					{ variantId: products.poster.id, quantity: 2 },
				],
			},
			{ token: ann.token },
		);
		expect(rest.status, JSON.stringify(rest.body)).toBe(201);
		// The lines' remainders (4318 + 1350 + 1620) plus shipping and its tax (1499 + 300): the last return.
		expect(rest.body.refundAmount).toBe(9087);
		await receive(rest.body.id);
		expect((await api.get<PricedOrder>(`/api/orders/${order.id}`, { token: ann.token })).body.status).toBe("RETURNED");
		const rows = await payments(order.id);
		expect(rows[0]).toMatchObject({ kind: "CHARGE", status: "REFUNDED" });
		const refunded = rows
			.filter(r => r.kind === "REFUND" && r.status === "SUCCEEDED")
			.reduce((s, r) => s + r.amount, 0);
		expect(refunded).toBe(order.total);

		const told = await eventually(async () => {
			const page = (await api.get<Page<Notification>>("/api/notifications?pageSize=100", { token: ann.token })).body;
			const types = page.rows.map(n => n.type);
			return types.filter(t => t === "return.received").length === 2 && types;
		});
		expect(told).toEqual(expect.arrayContaining(["return.requested", "return.received", "payment.refunded"]));
		const report = await auditShop(shop.broker);
		expect(report.violations).toEqual([]);
	});

	it("refuses codes that do not apply, with the reason, and keeps one code per cart", async () => {
		const cart = await fullCart();
		const refused = async (codeText: string) => {
			const res = await api.post<ApiError<{ reason: string }>>(
				`/api/carts/${cart.id}/discounts`,
				{ code: codeText },
				{ token: ann.token },
			);
			expect(res.status, JSON.stringify(res.body)).toBe(422);
			expect(res.body.type).toBe("DISCOUNT_NOT_APPLICABLE");
			return res.body.data.reason;
		};
		expect(await refused("NOSUCHCODE")).toBe("UNKNOWN");
		await code({ code: "BIGSPEND", type: "FIXED", value: 500, currency: "USD", minSubtotal: 100_000 });
		expect(await refused("bigspend")).toBe("MIN_SUBTOTAL");
		await code({ code: "EUROS", type: "FIXED", value: 500, currency: "EUR" });
		expect(await refused("EUROS")).toBe("CURRENCY");
		await code({ code: "LATER", type: "PERCENTAGE", value: 5, startsAt: "2999-01-01T00:00:00.000Z" });
		expect(await refused("LATER")).toBe("NOT_STARTED");
		await code({ code: "GONE", type: "PERCENTAGE", value: 5, endsAt: "2000-01-01T00:00:00.000Z" });
		expect(await refused("GONE")).toBe("EXPIRED");
		await code({ code: "PAUSED", type: "PERCENTAGE", value: 5, active: false });
		expect(await refused("PAUSED")).toBe("INACTIVE");

		const taken = await api.post<ApiError>(
			"/api/promotions",
			{ code: "paused", type: "FREE_SHIPPING", active: true },
			{
				token: admin,
			},
		);
		expect(taken.status).toBe(409);
		expect(taken.body.type).toBe("CODE_TAKEN");

		await code({ code: "SHIPFREE", type: "FREE_SHIPPING" });
		const free = await api.post<PricedCart>(
			`/api/carts/${cart.id}/discounts`,
			{ code: "shipfree" },
			{ token: ann.token },
		);
		expect(free.status).toBe(200);
		// Free shipping shows as shipping 0, not as a discount; goods are still taxed.
		expect(free.body.totals).toEqual({ subtotal: 7498, discount: 0, shipping: 0, tax: 1500, total: 8998 });
		await code({ code: "FIVEOFF", type: "FIXED", value: 500, currency: "USD" });
		const replaced = await api.post<PricedCart>(
			`/api/carts/${cart.id}/discounts`,
			{ code: "FIVEOFF" },
			{ token: ann.token },
		);
		expect(replaced.body).toMatchObject({ discountCode: "FIVEOFF" });
		expect(replaced.body.totals).toMatchObject({ discount: 500, shipping: 1499 });
		expect((await api.delete(`/api/carts/${cart.id}/discounts/SHIPFREE`, { token: ann.token })).status).toBe(404);
		const removed = await api.delete<PricedCart>(`/api/carts/${cart.id}/discounts/fiveoff`, { token: ann.token });
		expect(removed.status).toBe(200);
		expect(removed.body.discountCode).toBeNull();
	});

	it("needs an address and an eligible method at checkout, and a code used up fails before any charge", async () => {
		// A customer of their own: Ann's current cart is the previous test's.
		const cy = await api.register("cy-money@example.com", "cy-password", "Cy");
		const bare = (await api.post<PricedCart>("/api/carts", {}, { token: cy.token })).body;
		await api.post(`/api/carts/${bare.id}/items`, { variantId: products.mug.id, quantity: 1 }, { token: cy.token });
		const noShipping = await api.post<ApiError>(
			`/api/carts/${bare.id}/checkout`,
			{ paymentToken: "tok_visa" },
			{ token: cy.token },
		);
		expect(noShipping.status).toBe(422);
		expect(noShipping.body.type).toBe("SHIPPING_REQUIRED");
		await api.patch(
			`/api/carts/${bare.id}`,
			{ shippingAddress: { ...GB_ADDRESS, country: "US" } },
			{ token: cy.token },
		);
		const elsewhere = await api.patch<ApiError>(
			`/api/carts/${bare.id}`,
			{ shippingMethodId: courierId },
			{ token: cy.token },
		);
		expect(elsewhere.status).toBe(422);
		expect(elsewhere.body.type).toBe("SHIPPING_NOT_AVAILABLE");

		const once = await code({ code: "ONCE", type: "FIXED", value: 100, currency: "USD", usageLimit: 1 });
		const direct = (discountCode: string) =>
			api.post<PricedOrder | ApiError<{ reason: string }>>(
				"/api/orders",
				{
					items: [{ variantId: products.mug.id, quantity: 1 }],
					paymentToken: "tok_visa",
					shippingAddress: GB_ADDRESS,
					shippingMethodId: courierId,
					discountCode,
				},
				{ token: ann.token },
			);
		const used = await direct("once");
		expect(used.status, JSON.stringify(used.body)).toBe(201);
		expect((used.body as PricedOrder).totals).toEqual({
			subtotal: 1250,
			discount: 100,
			shipping: 1499,
			tax: 530,
			total: 3179,
		});
		const exhausted = await direct("ONCE");
		expect(exhausted.status).toBe(422);
		expect(exhausted.body).toMatchObject({ type: "DISCOUNT_NOT_APPLICABLE", data: { reason: "EXHAUSTED" } });
		// Cancelling the order gives its use back.
		expect(
			(await api.post(`/api/orders/${(used.body as PricedOrder).id}/cancel`, {}, { token: ann.token })).status,
		).toBe(200);
		expect((await api.get<PromotionView>(`/api/promotions/${once.id}`, { token: admin })).body.timesUsed).toBe(0);
		expect((await direct("ONCE")).status).toBe(201);
		const report = await auditShop(shop.broker);
		expect(report.violations).toEqual([]);
	});

	it("rejects a return (nothing moves), and refuses a return outside the order's states", async () => {
		const order = (
			await api.post<PricedOrder>(
				"/api/orders",
				{ items: [{ variantId: products.tee.id, quantity: 1 }], paymentToken: "tok_visa" },
				{ token: ann.token },
			)
		).body;
		const early = await api.post<ApiError<{ reason: string }>>(
			`/api/orders/${order.id}/returns`,
			{ items: [{ variantId: products.tee.id, quantity: 1 }] },
			{ token: ann.token },
		);
		expect(early.status).toBe(422);
		expect(early.body.type).toBe("RETURN_NOT_ALLOWED");
		await api.patch(`/api/orders/${order.id}/status`, { status: "SHIPPED" }, { token: admin });
		const requested = await api.post<ReturnView>(
			`/api/orders/${order.id}/returns`,
			{ items: [{ variantId: products.tee.id, quantity: 1 }] },
			{ token: ann.token },
		);
		expect(requested.status).toBe(201);
		expect(requested.body.refundAmount).toBe(1999);
		const rejected = await api.post<ReturnView>(`/api/returns/${requested.body.id}/reject`, {}, { token: admin });
		expect(rejected.body.status).toBe("REJECTED");
		const again = await api.post<ApiError>(`/api/returns/${requested.body.id}/receive`, {}, { token: admin });
		expect(again.status).toBe(409);
		expect(again.body.type).toBe("INVALID_TRANSITION");
		expect((await api.get<PricedOrder>(`/api/orders/${order.id}`, { token: ann.token })).body.status).toBe("SHIPPED");
		expect(await payments(order.id)).toMatchObject([{ kind: "CHARGE", status: "SUCCEEDED", amount: 1999 }]);
		// A rejected return holds nothing: the unit can be returned again.
		const retried = await api.post<ReturnView>(
			`/api/orders/${order.id}/returns`,
			{ items: [{ variantId: products.tee.id, quantity: 1 }] },
			{ token: ann.token },
		);
		expect(retried.status).toBe(201);
		const listed = await api.get<Page<ReturnView>>(`/api/orders/${order.id}/returns`, { token: ann.token });
		expect(listed.body.rows.map(r => r.status).sort()).toEqual(["REJECTED", "REQUESTED"]);
	});
});
