import { describe, expect, it } from "vitest";
import { UnprocessableError } from "../../../lib/errors";
import type { ActionParams } from "../../../lib/actor";
import { priceRequest, type PricingCalls } from "../../../services/orders/order-pricing";
import type { ShippingAddress } from "../../../services/orders/contract";
import type { DiscountRule, ShippingCharge, TaxRule } from "../../../services/orders/totals";
import type { VariantLine } from "../../../services/products/contract";

const variant = (variantId: string, price: number): VariantLine => ({
	variantId,
	productId: variantId,
	sku: variantId.toUpperCase(),
	name: variantId,
	options: {},
	price,
	currency: "EUR",
	title: variantId,
});
const CATALOGUE = { variants: [variant("mug", 1200), variant("tea", 650)], multiVariantProductIds: [] };
const ITEMS = [
	{ variantId: "mug", quantity: 1 },
	{ variantId: "tea", quantity: 1 },
	{ variantId: "mug", quantity: 1 }, // merged with the first line
];
const ADDRESS: ShippingAddress = { line1: "1 High St", city: "London", postalCode: "N1 1AA", country: "GB" };
const SAVE10: DiscountRule = { code: "SAVE10", type: "PERCENTAGE", value: 10 };
const STANDARD: ShippingCharge = { id: "m-std", name: "Standard", price: 500, freeOver: null };
const GB: TaxRule = { country: "GB", rate: 2000, shippingTaxable: true };

type Made = { [N in keyof PricingCalls]: { action: N; params: ActionParams<N> } }[keyof PricingCalls];

/** The calls pricing makes, recorded and answered by `answers` or by a default: the rule, method and tax above. */
function fakeCalls(answers: Partial<PricingCalls> = {}) {
	const made: Made[] = [];
	const calls: PricingCalls = {
		"products.getVariants": params => {
			made.push({ action: "products.getVariants", params });
			return Promise.resolve(CATALOGUE);
		},
		"promotions.check": params => {
			made.push({ action: "promotions.check", params });
			return answers["promotions.check"]?.(params) ?? Promise.resolve(SAVE10);
		},
		"shipping.quote": params => {
			made.push({ action: "shipping.quote", params });
			const shipping = params.methodId ? STANDARD : null;
			return answers["shipping.quote"]?.(params) ?? Promise.resolve({ shipping, tax: GB });
		},
	};
	return { calls, made };
}

const base = { items: ITEMS, paymentToken: "tok_visa" };

describe("order pricing with the money rules", () => {
	it("without code or address: the lines' totals, no shipping, no tax, no call but the catalogue", async () => {
		const { calls, made } = fakeCalls();
		const priced = await priceRequest(calls, base, "u-1");
		expect(made).toEqual([{ action: "products.getVariants", params: { ids: ["mug", "tea"] } }]);
		expect(priced).toMatchObject({
			currency: "EUR",
			total: 3050,
			totals: { subtotal: 3050, discount: 0, shipping: 0, tax: 0, total: 3050 },
			discountCode: null,
			discount: null,
			shippingMethod: null,
			taxRate: null,
		});
		expect(priced.items).toEqual([
			expect.objectContaining({ variantId: "mug", quantity: 2, lineTotal: 2400, discount: 0, tax: 0, total: 2400 }),
			expect.objectContaining({ variantId: "tea", quantity: 1, lineTotal: 650, discount: 0, tax: 0, total: 650 }),
		]);
	});

	it("with a code, a method and a taxed country: checks the code upper case, quotes, allocates and taxes", async () => {
		const { calls, made } = fakeCalls();
		const priced = await priceRequest(
			calls,
			{ ...base, discountCode: "save10", shippingMethodId: "m-std", shippingAddress: ADDRESS },
			"u-1",
		);
		expect(made.slice(1)).toEqual([
			{ action: "promotions.check", params: { code: "SAVE10", subtotal: 3050, currency: "EUR", userId: "u-1" } },
			{ action: "shipping.quote", params: { country: "GB", currency: "EUR", methodId: "m-std" } },
		]);
		expect(priced).toMatchObject({
			total: 3894,
			totals: { subtotal: 3050, discount: 305, shipping: 500, tax: 649, total: 3894 },
			discountCode: "SAVE10",
			discount: SAVE10,
			shippingMethod: STANDARD,
			taxRate: GB,
		});
		expect(priced.items.map(({ lineTotal, discount, tax, total }) => ({ lineTotal, discount, tax, total }))).toEqual([
			{ lineTotal: 2400, discount: 240, tax: 432, total: 2592 },
			{ lineTotal: 650, discount: 65, tax: 117, total: 702 },
		]);
	});

	it("with an address and no method: quotes for the tax only, and charges no shipping", async () => {
		const { calls, made } = fakeCalls();
		const priced = await priceRequest(calls, { ...base, shippingAddress: ADDRESS }, "u-1");
		expect(made.at(-1)).toEqual({ action: "shipping.quote", params: { country: "GB", currency: "EUR" } });
		expect(priced).toMatchObject({
			totals: { subtotal: 3050, discount: 0, shipping: 0, tax: 610, total: 3660 },
			shippingMethod: null,
			taxRate: GB,
		});
	});

	it("with a FREE_SHIPPING code: the method costs nothing, and no discount shows", async () => {
		const free: DiscountRule = { code: "SHIPFREE", type: "FREE_SHIPPING", value: null };
		const { calls } = fakeCalls({ "promotions.check": () => Promise.resolve(free) });
		const priced = await priceRequest(
			calls,
			{ ...base, discountCode: "shipfree", shippingMethodId: "m-std", shippingAddress: ADDRESS },
			"u-1",
		);
		expect(priced).toMatchObject({
			totals: { subtotal: 3050, discount: 0, shipping: 0, tax: 610, total: 3660 },
			discountCode: "SHIPFREE",
			shippingMethod: STANDARD,
		});
	});

	it("refuses a method without an address: 422 SHIPPING_REQUIRED, before asking anyone", async () => {
		const { calls, made } = fakeCalls();
		await expect(
			priceRequest(calls, { ...base, shippingMethodId: "m-std", discountCode: "SAVE10" }, "u-1"),
		).rejects.toMatchObject({ code: 422, type: "SHIPPING_REQUIRED" });
		expect(made.map(m => m.action)).toEqual(["products.getVariants"]);
	});

	it("passes promotions' and shipping's refusals to the client as they are", async () => {
		const notApplicable = new UnprocessableError("No", "DISCOUNT_NOT_APPLICABLE", { reason: "MIN_SUBTOTAL" });
		const refusing = fakeCalls({ "promotions.check": () => Promise.reject(notApplicable) });
		await expect(priceRequest(refusing.calls, { ...base, discountCode: "SAVE10" }, "u-1")).rejects.toBe(notApplicable);

		const notAvailable = new UnprocessableError("No", "SHIPPING_NOT_AVAILABLE", { methodId: "m-x" });
		const noShipping = fakeCalls({ "shipping.quote": () => Promise.reject(notAvailable) });
		const request = { ...base, shippingMethodId: "m-x", shippingAddress: ADDRESS };
		await expect(priceRequest(noShipping.calls, request, "u-1")).rejects.toBe(notAvailable);
	});

	it("refuses a total past the largest safe integer once tax is added", async () => {
		const huge = { variants: [variant("gold", Math.floor(Number.MAX_SAFE_INTEGER * 0.9))], multiVariantProductIds: [] };
		const { calls } = fakeCalls();
		calls["products.getVariants"] = () => Promise.resolve(huge);
		const request = { items: [{ variantId: "gold", quantity: 1 }], paymentToken: "t", shippingAddress: ADDRESS };
		await expect(priceRequest(calls, request, "u-1")).rejects.toMatchObject({ code: 422, type: "TOTAL_TOO_LARGE" });
	});
});
