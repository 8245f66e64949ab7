import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Context, ServiceSchema } from "moleculer";
import { startShop, type Shop } from "../support/shop";
import { client, type Client } from "../support/http";
import type { ApiError, OrderError, Stock } from "../support/api";
import { call, type ActionParams, type ActionResult } from "../../lib/actor";
import { ConflictError, UnprocessableError } from "../../lib/errors";
import type { OrderView } from "../../services/orders/contract";
import type { DiscountRule, ShippingCharge, TaxRule } from "../../services/orders/totals";

type Handler<N extends "promotions.check" | "promotions.reserve" | "promotions.release" | "shipping.quote"> = (
	ctx: Context<ActionParams<N>>,
) => Promise<ActionResult<N>>;

/**
 * Stand-ins for the promotions and shipping actors, implementing their contracts' semantics minimally: codes with a
 * usage limit whose uses are held per order, and one method with the tax of two countries.
 */
class Promotions {
	readonly codes = new Map<string, DiscountRule & { usageLimit: number | null }>([
		["SAVE10", { code: "SAVE10", type: "PERCENTAGE", value: 10, usageLimit: null }],
		["LAST1", { code: "LAST1", type: "FIXED", value: 300, usageLimit: 1 }],
	]);
	/**
	 * The code of each order holding a use. `check` passes for a code whose limit is reached, as when it runs out
	 * between the check and the saga, so the saga's reserve is what refuses it.
	 */
	readonly uses = new Map<string, string>();
	/** The orders release was called for. */
	readonly released: string[] = [];

	schema(): ServiceSchema {
		const check: Handler<"promotions.check"> = ctx => {
			const rule = this.codes.get(ctx.params.code);
			if (!rule) throw new UnprocessableError("No such code", "DISCOUNT_NOT_APPLICABLE", { reason: "UNKNOWN" });
			const { code, type, value } = rule;
			return Promise.resolve({ code, type, value });
		};
		const reserve: Handler<"promotions.reserve"> = ctx => {
			const { orderId, code } = ctx.params;
			const limit = this.codes.get(code)?.usageLimit ?? null;
			const held = [...this.uses.values()].filter(c => c === code).length;
			if (!this.uses.has(orderId) && limit !== null && held >= limit)
				throw new ConflictError("Used up", "DISCOUNT_EXHAUSTED", { reason: "EXHAUSTED", orderId });
			this.uses.set(orderId, code);
			return Promise.resolve({ orderId, code });
		};
		const release: Handler<"promotions.release"> = ctx => {
			this.released.push(ctx.params.orderId);
			const released = this.uses.delete(ctx.params.orderId) ? 1 : 0;
			return Promise.resolve({ orderId: ctx.params.orderId, released });
		};
		return { name: "promotions", actions: { check, reserve, release } };
	}
}

const STANDARD: ShippingCharge = { id: "m-std", name: "Standard", price: 500, freeOver: 5000 };
const TAX: Record<string, TaxRule> = {
	GB: { country: "GB", rate: 2000, shippingTaxable: true },
	DE: { country: "DE", rate: 1900, shippingTaxable: false },
};
const quote: Handler<"shipping.quote"> = ctx => {
	const { country, methodId } = ctx.params;
	if (methodId !== undefined && methodId !== STANDARD.id)
		throw new UnprocessableError("No such method here", "SHIPPING_NOT_AVAILABLE", { methodId });
	return Promise.resolve({ shipping: methodId ? STANDARD : null, tax: TAX[country] ?? null });
};

const GB = { line1: "1 High St", city: "London", postalCode: "N1 1AA", country: "GB" };
const DE = { line1: "Hauptstr. 1", city: "Berlin", postalCode: "10115", country: "DE" };

/** Issue 13: orders priced with a code, a shipping method and the destination's tax, through the gateway. */
describe("orders with the money rules, over HTTP (stand-in promotions and shipping)", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;
	let ann: { token: string; user: { id: string } };
	const promotions = new Promotions();
	const run = Date.now().toString(36);
	let mug: string;
	let tea: string;

	beforeAll(async () => {
		shop = await startShop({ services: ["api", "users", "products", "inventory", "payments", "orders"] });
		shop.broker.createService(promotions.schema());
		shop.broker.createService({ name: "shipping", actions: { quote } });
		await shop.broker.waitForServices(["promotions", "shipping"]);
		api = client(shop.url);
		admin = (await api.login("admin@example.com", "admin-password")).token;
		ann = await api.register(`ann-money-${run}@example.com`, "ann-password", "Ann");
		const product = async (name: string, price: number) => {
			const body = { name, price, category: "Kitchen", sku: `${name}-${run}` };
			const { id } = (await api.post<{ id: string }>("/api/products", body, { token: admin })).body;
			expect((await api.put(`/api/inventory/${id}`, { available: 50 }, { token: admin })).status).toBe(200);
			return id;
		};
		mug = await product("Mug", 1200);
		tea = await product("Tea", 650);
	});

	afterAll(async () => {
		await shop?.stop();
	});

	const items = () => [
		{ productId: mug, quantity: 2 },
		{ productId: tea, quantity: 1 },
	];
	const order = (body: Record<string, unknown>, headers?: Record<string, string>) =>
		api.post<OrderView>(
			"/api/orders",
			{ items: items(), paymentToken: "tok_visa", ...body },
			{ token: ann.token, headers },
		);
	const paymentOf = async (orderId: string) =>
		(await call(shop.broker, "payments.audit", {})).find(p => p.orderId === orderId);

	it("prices with a code, a method and a taxed country, and charges the total", async () => {
		const res = await order({ discountCode: "save10", shippingMethodId: "m-std", shippingAddress: GB });
		expect(res.status).toBe(201);
		expect(res.body).toMatchObject({
			status: "CONFIRMED",
			total: 3894,
			totals: { subtotal: 3050, discount: 305, shipping: 500, tax: 649, total: 3894 },
			discountCode: "SAVE10",
			discount: { code: "SAVE10", type: "PERCENTAGE", value: 10 },
			shippingMethod: STANDARD,
			taxRate: TAX.GB,
			shippedAt: null,
			deliveredAt: null,
		});
		expect(res.body.items.map(({ lineTotal, discount, tax, total }) => ({ lineTotal, discount, tax, total }))).toEqual([
			{ lineTotal: 2400, discount: 240, tax: 432, total: 2592 },
			{ lineTotal: 650, discount: 65, tax: 117, total: 702 },
		]);
		expect(promotions.uses.get(res.body.id)).toBe("SAVE10");
		expect(await paymentOf(res.body.id)).toMatchObject({ amount: 3894, status: "SUCCEEDED" });
		expect((await api.get<OrderView>(`/api/orders/${res.body.id}`, { token: ann.token })).body).toEqual(res.body);
	});

	it("prices the tax of the address without a method, and neither without an address", async () => {
		const taxed = await order({ shippingAddress: DE });
		expect(taxed.body).toMatchObject({
			totals: { subtotal: 3050, discount: 0, shipping: 0, tax: 580, total: 3630 },
			shippingMethod: null,
			taxRate: TAX.DE,
		});
		const plain = await order({});
		expect(plain.body).toMatchObject({
			total: 3050,
			totals: { subtotal: 3050, discount: 0, shipping: 0, tax: 0, total: 3050 },
			discountCode: null,
			taxRate: null,
		});
	});

	it("passes the refusals of promotions and shipping through, and refuses a method without an address", async () => {
		const before = (await api.get<{ total: number }>("/api/orders", { token: ann.token })).body.total;
		const unknown = await order({ discountCode: "NOPE1" });
		expect(unknown.status).toBe(422);
		expect(unknown.body).toMatchObject({ type: "DISCOUNT_NOT_APPLICABLE", data: { reason: "UNKNOWN" } });
		const noAddress = await order({ shippingMethodId: "m-std" });
		expect(noAddress.status).toBe(422);
		expect((noAddress.body as unknown as ApiError).type).toBe("SHIPPING_REQUIRED");
		const noMethod = await order({ shippingMethodId: "m-express", shippingAddress: GB });
		expect(noMethod.status).toBe(422);
		expect(noMethod.body).toMatchObject({ type: "SHIPPING_NOT_AVAILABLE", data: { methodId: "m-express" } });
		// Refused before any order exists.
		expect((await api.get<{ total: number }>("/api/orders", { token: ann.token })).body.total).toBe(before);
	});

	it("fails an order whose code ran out during its saga with 409 DISCOUNT_EXHAUSTED, before any charge", async () => {
		const stockBefore = (await api.get<Stock>(`/api/inventory/${mug}`)).body;
		const first = await order({ discountCode: "last1" });
		expect(first.status).toBe(201);
		expect(first.body).toMatchObject({ discountCode: "LAST1", total: 2750 });

		const second = await api.post<OrderError>(
			"/api/orders",
			{ items: items(), paymentToken: "tok_visa", discountCode: "LAST1" },
			{ token: ann.token },
		);
		expect(second.status).toBe(409);
		expect(second.body).toMatchObject({ type: "DISCOUNT_EXHAUSTED", data: { reason: "EXHAUSTED" } });
		const failedId = second.body.data.orderId;
		expect((await api.get<OrderView>(`/api/orders/${failedId}`, { token: ann.token })).body).toMatchObject({
			status: "FAILED",
			discountCode: "LAST1",
		});
		expect(await paymentOf(failedId)).toBeUndefined();
		expect(promotions.released).toContain(failedId);
		// Only the first order holds stock.
		expect((await api.get<Stock>(`/api/inventory/${mug}`)).body.available).toBe(stockBefore.available - 2);

		// Cancelling the first order gives its use back: the code applies again.
		const cancelled = await api.post<OrderView>(`/api/orders/${first.body.id}/cancel`, {}, { token: ann.token });
		expect(cancelled.body.status).toBe("CANCELLED");
		expect(promotions.released).toContain(first.body.id);
		expect(promotions.uses.has(first.body.id)).toBe(false);
		expect((await order({ discountCode: "LAST1" })).status).toBe(201);
	});

	it("replays a request with the same key whatever the code's case, and refuses the key for another code", async () => {
		const headers = { "Idempotency-Key": `money-${run}` };
		const first = await order({ discountCode: "SAVE10" }, headers);
		expect(first.status).toBe(201);
		const again = await order({ discountCode: "save10" }, headers);
		expect(again.status).toBe(201);
		expect(again.headers.get("idempotent-replayed")).toBe("true");
		expect(again.body.id).toBe(first.body.id);
		const other = await order({}, headers);
		expect(other.status).toBe(409);
		expect((other.body as unknown as ApiError).type).toBe("IDEMPOTENCY_KEY_REUSED");
	});

	it("records when an order was shipped and delivered", async () => {
		const { id } = (await order({ shippingAddress: GB })).body;
		const status = (s: string) =>
			api.request<OrderView>("PATCH", `/api/orders/${id}/status`, {
				body: { status: s },
				token: admin,
			});
		const shipped = (await status("SHIPPED")).body;
		expect(shipped).toMatchObject({ status: "SHIPPED", deliveredAt: null });
		expect(Date.parse(shipped.shippedAt!)).toBeGreaterThan(Date.now() - 60_000);
		const delivered = (await status("DELIVERED")).body;
		expect(delivered).toMatchObject({ status: "DELIVERED", shippedAt: shipped.shippedAt });
		expect(Date.parse(delivered.deliveredAt!)).toBeGreaterThanOrEqual(Date.parse(shipped.shippedAt!));
	});
});
