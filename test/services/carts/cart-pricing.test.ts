import { describe, expect, it } from "vitest";
import type { Caller } from "../../../lib/actor";
import { UnprocessableError } from "../../../lib/errors";
import { newCart } from "../../../services/carts/cart-state";
import type { Cart } from "../../../services/carts/contract";
import {
	isShippingNotAvailable,
	normalizeCode,
	notApplicableReason,
	removeCode,
	requireShipping,
} from "../../../services/carts/cart-money";
import { applyCode, detailsChange, pricingOf, shippingOptionsOf } from "../../../services/carts/cart-pricing";

const address = { line1: "1 Way", city: "London", postalCode: "N1", country: "GB" };
const gb = { country: "GB", rate: 2000, shippingTaxable: true };
const standard = { id: "std", name: "Standard", price: 499, freeOver: 5000 };
const refused = (reason: string) => new UnprocessableError("x", "DISCOUNT_NOT_APPLICABLE", { reason });
const notShipping = () => new UnprocessableError("x", "SHIPPING_NOT_AVAILABLE");

/** A cart of 3 × 1000 EUR, with the choices given. */
function cart(chosen: Partial<Cart> = {}): Cart {
	return { ...newCart("c1", "u1", {}, "t"), lines: [{ id: "l1", variantId: "v", quantity: 3 }], ...chosen };
}

/** A caller answering like the catalogue, promotions and shipping would; every call is recorded. */
function fake(answers: Record<string, (params: Record<string, unknown>) => unknown>) {
	const calls: [string, unknown][] = [];
	const caller = {
		// An answer that throws is a rejection, as from a remote actor.
		call: (name: string, params: Record<string, unknown>) =>
			Promise.resolve().then(() => {
				calls.push([name, params]);
				if (name === "products.getVariants")
					return {
						variants: [
							{ variantId: "v", productId: "v", sku: "V", name: "V", options: {}, price: 1000, currency: "EUR" },
						],
						multiVariantProductIds: [],
					};
				const answer = answers[name];
				if (!answer) throw new Error(`unexpected call ${name}`);
				return answer(params);
			}),
	} as unknown as Caller;
	return { caller, calls, names: () => calls.map(c => c[0]) };
}
const basis = { currency: "EUR", subtotal: 3000 };

describe("cart money rules", () => {
	it.each([
		["save10", "SAVE10"],
		["Free_Ship-2", "FREE_SHIP-2"],
	])("keeps code %s as %s", (typed, kept) => expect(normalizeCode(typed)).toBe(kept));

	it.each<[string | null, string, string | null]>([
		["SAVE10", "save10", null],
		["SAVE10", "SAVE10", null],
		["SAVE10", "OTHER", "NOT_FOUND"],
		[null, "SAVE10", "NOT_FOUND"],
	])("a cart holding %s removes %s: %s", (held, code, error) => {
		if (error) expect(() => removeCode({ discountCode: held }, code)).toThrow(expect.objectContaining({ code: 404 }));
		else expect(removeCode({ discountCode: held }, code)).toEqual({ discountCode: null });
	});

	it.each<[string, Partial<Cart>, string | null]>([
		["no address", { shippingAddress: null, shippingMethodId: "m" }, "SHIPPING_REQUIRED"],
		["no method", { shippingAddress: address, shippingMethodId: null }, "SHIPPING_REQUIRED"],
		["both", { shippingAddress: address, shippingMethodId: "m" }, null],
	])("a checkout with %s", (_name, chosen, type) => {
		const c = { shippingAddress: null, shippingMethodId: null, ...chosen };
		if (type) expect(() => requireShipping(c)).toThrow(expect.objectContaining({ code: 422, type }));
		else expect(requireShipping(c)).toEqual({ address, methodId: "m" });
	});

	it.each<[unknown, string | null, boolean]>([
		[refused("EXPIRED"), "EXPIRED", false],
		[new UnprocessableError("x", "DISCOUNT_NOT_APPLICABLE"), "UNKNOWN", false],
		[notShipping(), null, true],
		[new Error("boom"), null, false],
		["boom", null, false],
	])("reads %o as reason %s, shipping refused %s", (err, reason, shipping) => {
		expect(notApplicableReason(err)).toBe(reason);
		expect(isShippingNotAvailable(err)).toBe(shipping);
	});
});

describe("cart pricing (promotions and shipping asked at every read)", () => {
	it("asks nothing of a cart without a code or an address", async () => {
		const { caller, calls } = fake({});
		expect(await pricingOf(caller, cart(), basis)).toEqual({ discount: null, shipping: null, tax: null });
		expect(calls).toEqual([]);
	});

	it("prices the code for its subtotal, currency and customer, the method and tax for its country", async () => {
		const rule = { code: "SAVE10", type: "PERCENTAGE", value: 10 };
		const { caller, calls } = fake({
			"promotions.check": () => rule,
			"shipping.quote": () => ({ shipping: standard, tax: gb }),
		});
		const chosen = cart({ discountCode: "SAVE10", shippingAddress: address, shippingMethodId: "std" });
		expect(await pricingOf(caller, chosen, basis)).toEqual({ discount: rule, shipping: standard, tax: gb });
		expect(calls).toEqual([
			["promotions.check", { code: "SAVE10", subtotal: 3000, currency: "EUR", userId: "u1" }],
			["shipping.quote", { country: "GB", currency: "EUR", methodId: "std" }],
		]);
	});

	it("shows why a code or a method counts for nothing now, with the country's tax still applied", async () => {
		const { caller, calls } = fake({
			"promotions.check": () => {
				throw refused("MIN_SUBTOTAL");
			},
			"shipping.quote": p => {
				if (p.methodId) throw notShipping();
				return { shipping: null, tax: gb };
			},
		});
		const chosen = cart({ discountCode: "BIG", shippingAddress: address, shippingMethodId: "gone" });
		expect(await pricingOf(caller, { ...chosen, userId: null }, basis)).toEqual({
			discount: null,
			discountProblem: "MIN_SUBTOTAL",
			shipping: null,
			shippingProblem: "SHIPPING_NOT_AVAILABLE",
			tax: gb,
		});
		// A guest cart is checked without a customer.
		expect(calls[0]).toEqual(["promotions.check", { code: "BIG", subtotal: 3000, currency: "EUR" }]);
	});

	it("lets any other failure of promotions or shipping through", async () => {
		const down = fake({
			"promotions.check": () => {
				throw new Error("promotions down");
			},
		});
		await expect(pricingOf(down.caller, cart({ discountCode: "X1X" }), basis)).rejects.toThrow("promotions down");
	});

	it("does not price a COMPLETED or MERGED cart again: its order keeps what was paid", async () => {
		const { caller, calls } = fake({});
		for (const status of ["COMPLETED", "MERGED"] as const)
			expect(
				await pricingOf(caller, cart({ status, discountCode: "SAVE10", shippingAddress: address }), basis),
			).toEqual({ discount: null, shipping: null, tax: null });
		expect(calls).toEqual([]);
	});

	it("applies a code upper case when promotions says it applies, and lets its refusal through", async () => {
		const ok = fake({ "promotions.check": () => ({ code: "SAVE10", type: "PERCENTAGE", value: 10 }) });
		expect(await applyCode(ok.caller, cart(), "save10")).toEqual({ discountCode: "SAVE10" });
		expect(ok.calls.at(-1)).toEqual([
			"promotions.check",
			{ code: "SAVE10", subtotal: 3000, currency: "EUR", userId: "u1" },
		]);
		const no = fake({
			"promotions.check": () => {
				throw refused("EXHAUSTED");
			},
		});
		await expect(applyCode(no.caller, cart(), "gone")).rejects.toMatchObject({
			code: 422,
			type: "DISCOUNT_NOT_APPLICABLE",
			data: { reason: "EXHAUSTED" },
		});
	});

	it.each<[string, Partial<Cart>, Record<string, unknown>, Partial<Cart> | string]>([
		[
			"a method for the cart's address",
			{ shippingAddress: address },
			{ shippingMethodId: "std" },
			{ shippingMethodId: "std" },
		],
		[
			"an address and a method at once",
			{},
			{ shippingAddress: address, shippingMethodId: "std" },
			{ shippingAddress: address, shippingMethodId: "std" },
		],
		["a method without an address", {}, { shippingMethodId: "std" }, "SHIPPING_REQUIRED"],
		[
			"a method that does not ship there",
			{ shippingAddress: address },
			{ shippingMethodId: "far" },
			"SHIPPING_NOT_AVAILABLE",
		],
		["clearing the method", { shippingMethodId: "std" }, { shippingMethodId: null }, { shippingMethodId: null }],
		["an email only", {}, { email: "a@example.com" }, { email: "a@example.com" }],
	])("updates a cart with %s", async (_name, chosen, params, expected) => {
		const { caller, names } = fake({
			"shipping.quote": p => {
				if (p.methodId === "far") throw notShipping();
				return { shipping: standard, tax: null };
			},
		});
		const change = detailsChange(caller, cart(chosen), { id: "c1", ...params });
		if (typeof expected === "string") await expect(change).rejects.toMatchObject({ code: 422, type: expected });
		else expect(await change).toEqual(expected);
		// Only a method chosen is checked with shipping.
		if (typeof params.shippingMethodId !== "string") expect(names()).toEqual([]);
	});

	it.each<[string, Partial<Cart>, (p: Record<string, unknown>) => unknown, Record<string, unknown>]>([
		["no code", {}, () => null, { country: "GB", currency: "EUR", afterDiscount: 3000 }],
		[
			"a fixed code",
			{ discountCode: "TEN" },
			() => ({ code: "TEN", type: "FIXED", value: 1000 }),
			{ country: "GB", currency: "EUR", afterDiscount: 2000 },
		],
		[
			"a free-shipping code",
			{ discountCode: "FREESHIP" },
			() => ({ code: "FREESHIP", type: "FREE_SHIPPING", value: null }),
			{ country: "GB", currency: "EUR", afterDiscount: 3000, free: true },
		],
		[
			"a code that no longer applies",
			{ discountCode: "OLD" },
			() => {
				throw refused("EXPIRED");
			},
			{ country: "GB", currency: "EUR", afterDiscount: 3000 },
		],
	])("lists the methods for a cart with %s, priced for it", async (_name, chosen, check, asked) => {
		const options = [{ ...standard, listPrice: 499 }];
		const { caller, calls } = fake({ "promotions.check": check, "shipping.options": () => options });
		expect(await shippingOptionsOf(caller, cart({ shippingAddress: address, ...chosen }))).toBe(options);
		expect(calls.at(-1)).toEqual(["shipping.options", asked]);
	});

	it("lists no methods for a cart without an address", async () => {
		await expect(shippingOptionsOf(fake({}).caller, cart())).rejects.toMatchObject({
			code: 422,
			type: "SHIPPING_REQUIRED",
		});
	});
});
