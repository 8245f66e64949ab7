import { Errors } from "moleculer";
import { describe, expect, it } from "vitest";
import { cartView, assertOneCurrency } from "../../../services/carts/cart-view";
import { checkoutItems, checkoutKey, checkoutOutcome, orderLine, orderParams } from "../../../services/carts/checkout";
import { newCart } from "../../../services/carts/cart-state";
import type { VariantLine } from "../../../services/products/contract";
import { ConflictError, OutOfStockError, PaymentDeclinedError, PaymentUnavailableError } from "../../../lib/errors";
import { UnprocessableError } from "../../../lib/errors";

const variant = (id: string, price: number, currency = "USD"): VariantLine => ({
	variantId: id,
	productId: id === "m" ? "shirt" : id,
	sku: `SKU-${id}`,
	name: `Name ${id}`,
	options: id === "m" ? { Size: "M" } : {},
	title: id === "m" ? "M" : `Name ${id}`,
	price,
	currency,
});

const address = { line1: "1 Way", city: "Berlin", postalCode: "10115", country: "DE" };

describe("cart totals", () => {
	it("prices every line from the catalogue now, with the stock available now", () => {
		const cart = {
			...newCart("c1", null, {}, "t"),
			lines: [
				{ id: "l1", variantId: "m", quantity: 2 },
				{ id: "l2", variantId: "p", quantity: 3 },
				{ id: "l3", variantId: "gone", quantity: 1 },
			],
		};
		const view = cartView(cart, [variant("m", 1999), variant("p", 150)], new Map([["m", 4]]));
		expect(view.items).toEqual(
			[
				{ id: "l1", productId: "shirt", variantId: "m", sku: "SKU-m", name: "Name m", options: { Size: "M" } },
				{ id: "l2", productId: "p", variantId: "p", sku: "SKU-p", name: "Name p", options: {} },
				{ id: "l3", productId: "gone", variantId: "gone", sku: null, name: null, options: {} },
			].map((item, i) => ({
				...item,
				unitPrice: [1999, 150, 0][i],
				quantity: [2, 3, 1][i],
				lineTotal: [3998, 450, 0][i],
				discount: 0,
				tax: 0,
				total: [3998, 450, 0][i],
				available: [4, 0, 0][i],
			})),
		);
		expect(view).toMatchObject({
			currency: "USD",
			discountCode: null,
			shippingMethodId: null,
			totals: { subtotal: 4448, discount: 0, shipping: 0, tax: 0, total: 4448 },
		});
		expect(view).not.toHaveProperty("discountProblem");
		expect(view).not.toHaveProperty("shippingProblem");
		expect(cartView(newCart("c2", null, {}, "t"), [], new Map())).toMatchObject({
			currency: "USD",
			items: [],
			totals: { subtotal: 0, discount: 0, shipping: 0, tax: 0, total: 0 },
		});
	});

	it("keeps a cart to one currency", () => {
		const lines = [{ id: "l1", variantId: "p", quantity: 1 }];
		expect(() => assertOneCurrency(lines, [variant("p", 1)], variant("q", 1))).not.toThrow();
		expect(() => assertOneCurrency(lines, [variant("p", 1)], variant("q", 1, "EUR"))).toThrow(
			expect.objectContaining({ code: 422, type: "MIXED_CURRENCY" }),
		);
	});
});

describe("checkout", () => {
	const lookup = {
		variants: [variant("p", 100), variant("m", 200), variant("e", 300, "EUR")],
		multiVariantProductIds: ["shirt"],
	};
	it.each<[string, string[], string | null]>([
		["an empty cart", [], "EMPTY_CART"],
		["a multi-variant product's id", ["p", "shirt"], "VARIANT_REQUIRED"],
		["an unknown variant", ["p", "gone"], "UNKNOWN_PRODUCT"],
		["variants in two currencies", ["p", "e"], "MIXED_CURRENCY"],
		["known variants", ["p", "m"], null],
	])("of %s", (_name, ids, type) => {
		const lines = ids.map((variantId, i) => ({ id: `l${i}`, variantId, quantity: i + 1 }));
		if (type) expect(() => checkoutItems(lines, lookup)).toThrow(expect.objectContaining({ code: 422, type }));
		else expect(checkoutItems(lines, lookup)).toEqual(lines.map(orderLine));
	});

	it("sends a variant to orders by the id orders take today", () => {
		expect(orderLine({ id: "l", variantId: "v1", quantity: 2 })).toEqual({ variantId: "v1", quantity: 2 });
	});

	it.each([
		["nothing chosen", { discountCode: null, shippingMethodId: null, shippingAddress: null }, {}],
		["a request stored before codes and methods", { shippingAddress: null }, {}],
		[
			"a code, a method and an address",
			{ discountCode: "SAVE10", shippingMethodId: "m1", shippingAddress: address },
			{ discountCode: "SAVE10", shippingMethodId: "m1", shippingAddress: address },
		],
	])("sends orders the attempt's request with %s", (_name, chosen, sent) => {
		const base = { attempt: 1, items: [{ variantId: "p", quantity: 1 }], paymentToken: "tok_visa" };
		expect(orderParams({ ...base, ...chosen })).toEqual({ items: base.items, paymentToken: "tok_visa", ...sent });
	});

	it("keys each attempt of each cart apart, within the 255 characters of an Idempotency-Key", () => {
		expect(checkoutKey("c1", 1)).not.toBe(checkoutKey("c1", 2));
		expect(checkoutKey("c1", 1)).not.toBe(checkoutKey("c2", 1));
		expect(checkoutKey("x".repeat(64), 1_000_000).length).toBeLessThanOrEqual(255);
	});

	it.each<[string, string, unknown]>([
		["declined", "reopen", new PaymentDeclinedError({ orderId: "o1" })],
		["out of stock", "reopen", new OutOfStockError({ orderId: "o1", lines: [] })],
		["payment unavailable, order failed", "reopen", new PaymentUnavailableError({ orderId: "o1" })],
		["refused before any order", "reopen", new UnprocessableError("x", "UNKNOWN_PRODUCT")],
		[
			"a code that does not apply",
			"reopen",
			new UnprocessableError("x", "DISCOUNT_NOT_APPLICABLE", { reason: "EXPIRED" }),
		],
		["a code used up during the saga", "reopen", new ConflictError("x", "DISCOUNT_EXHAUSTED", { orderId: "o1" })],
		["a method no longer shipping there", "reopen", new UnprocessableError("x", "SHIPPING_NOT_AVAILABLE")],
		["still placing", "running", new ConflictError("x", "IDEMPOTENT_REQUEST_IN_PROGRESS", { orderId: "o1" })],
		["timed out", "unknown", new Errors.RequestTimeoutError({ action: "orders.create", nodeID: "n" })],
		["no orders node", "unknown", new Errors.ServiceNotAvailableError({ action: "orders.create" })],
		["a 5xx without an order", "unknown", new Errors.MoleculerError("x", 500)],
		["not an error", "unknown", "boom"],
	])("after %s the cart is to %s", (_name, outcome, err) => {
		expect(checkoutOutcome(err)).toBe(outcome);
	});
});
