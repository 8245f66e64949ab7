import { describe, expect, it } from "vitest";
import { cartBasis, cartView, UNPRICED, type CartPricing } from "../../../services/carts/cart-view";
import { newCart } from "../../../services/carts/cart-state";
import type { VariantLine } from "../../../services/products/contract";
import type { ShippingCharge, TaxRule } from "../../../services/orders/totals";

const variant = (id: string, price: number): VariantLine => ({
	variantId: id,
	productId: id,
	sku: `SKU-${id}`,
	name: id,
	options: {},
	title: id,
	price,
	currency: "EUR",
});
const variants = [variant("m", 1999), variant("p", 150)];
// 2 × 1999 + 3 × 150: subtotal 4448.
const cart = {
	...newCart("c1", null, {}, "t"),
	lines: [
		{ id: "l1", variantId: "m", quantity: 2 },
		{ id: "l2", variantId: "p", quantity: 3 },
	],
};
const standard: ShippingCharge = { id: "std", name: "Standard", price: 499, freeOver: 5000 };
const de: TaxRule = { country: "DE", rate: 1900, shippingTaxable: false };
const gb: TaxRule = { country: "GB", rate: 2000, shippingTaxable: true };
const tenPercent = { code: "SAVE10", type: "PERCENTAGE" as const, value: 10 };

type Row = [string, Partial<CartPricing>, [number, number, number, number, number], [number, number][]];

describe("cart view totals (services/orders/totals.ts with the cart's code, method and tax)", () => {
	it.each<Row>([
		// name, pricing, [subtotal, discount, shipping, tax, total], per line [discount, tax]
		[
			"nothing chosen",
			{},
			[4448, 0, 0, 0, 4448],
			[
				[0, 0],
				[0, 0],
			],
		],
		[
			"10 % off, rounded half up (444.8)",
			{ discount: tenPercent },
			[4448, 445, 0, 0, 4003],
			[
				[400, 0],
				[45, 0],
			],
		],
		[
			"a fixed amount capped at the subtotal",
			{ discount: { code: "BIG", type: "FIXED", value: 9000 } },
			[4448, 4448, 0, 0, 0],
			[
				[3998, 0],
				[450, 0],
			],
		],
		[
			"a method under its threshold",
			{ shipping: standard },
			[4448, 0, 499, 0, 4947],
			[
				[0, 0],
				[0, 0],
			],
		],
		[
			"a method over its threshold",
			{ shipping: { ...standard, freeOver: 4448 } },
			[4448, 0, 0, 0, 4448],
			[
				[0, 0],
				[0, 0],
			],
		],
		[
			"a free-shipping code: shipping 0, no discount",
			{ discount: { code: "FREESHIP", type: "FREE_SHIPPING", value: null }, shipping: standard },
			[4448, 0, 0, 0, 4448],
			[
				[0, 0],
				[0, 0],
			],
		],
		[
			"tax per line (759.62, 85.5), not on shipping",
			{ shipping: standard, tax: de },
			[4448, 0, 499, 846, 5793],
			[
				[0, 760],
				[0, 86],
			],
		],
		[
			"tax on shipping too (99.8)",
			{ shipping: standard, tax: gb },
			[4448, 0, 499, 990, 5937],
			[
				[0, 800],
				[0, 90],
			],
		],
		[
			"code, method and tax: lines taxed after their share of the discount",
			{ discount: tenPercent, shipping: standard, tax: de },
			[4448, 445, 499, 761, 5263],
			[
				[400, 684],
				[45, 77],
			],
		],
		[
			"a code that no longer applies takes nothing off",
			{ discountProblem: "EXPIRED", shipping: standard },
			[4448, 0, 499, 0, 4947],
			[
				[0, 0],
				[0, 0],
			],
		],
		[
			"a method no longer eligible costs nothing; the country's tax still counts",
			{ shippingProblem: "SHIPPING_NOT_AVAILABLE", tax: gb },
			[4448, 0, 0, 890, 5338],
			[
				[0, 800],
				[0, 90],
			],
		],
	])("%s", (_name, pricing, [subtotal, discount, shipping, tax, total], lines) => {
		const view = cartView(cart, variants, new Map(), { ...UNPRICED, ...pricing });
		expect(view.totals).toEqual({ subtotal, discount, shipping, tax, total });
		expect(view.items.map(i => [i.discount, i.tax])).toEqual(lines);
		for (const item of view.items) expect(item.total).toBe(item.lineTotal - item.discount + item.tax);
		// The lines and shipping add up to the cart's totals, to the cent.
		expect(view.items.reduce((s, i) => s + i.total, 0) + shipping + (tax - lines.reduce((s, l) => s + l[1], 0))).toBe(
			total,
		);
	});

	it("shows the code and the method chosen, and why they count for nothing when they do", () => {
		const chosen = { ...cart, discountCode: "OLD", shippingMethodId: "gone" };
		const view = cartView(chosen, variants, new Map(), {
			...UNPRICED,
			discountProblem: "EXHAUSTED",
			shippingProblem: "SHIPPING_NOT_AVAILABLE",
		});
		expect(view).toMatchObject({
			discountCode: "OLD",
			discountProblem: "EXHAUSTED",
			shippingMethodId: "gone",
			shippingProblem: "SHIPPING_NOT_AVAILABLE",
		});
		const fine = cartView(chosen, variants, new Map(), { ...UNPRICED, discount: tenPercent });
		expect(fine).toMatchObject({ discountCode: "OLD", shippingMethodId: "gone" });
		expect(Object.keys(fine)).not.toContain("discountProblem");
		expect(Object.keys(fine)).not.toContain("shippingProblem");
	});

	it("charges no shipping on an empty cart", () => {
		const empty = newCart("c2", null, {}, "t");
		expect(cartView(empty, [], new Map(), { ...UNPRICED, shipping: standard, tax: gb }).totals).toEqual({
			subtotal: 0,
			discount: 0,
			shipping: 0,
			tax: 0,
			total: 0,
		});
	});

	it.each([
		["an empty cart", [], { currency: "USD", subtotal: 0 }],
		["priced lines", cart.lines, { currency: "EUR", subtotal: 4448 }],
		["a line whose variant is gone", [{ id: "x", variantId: "gone", quantity: 2 }], { currency: "USD", subtotal: 0 }],
	])("checks codes and methods against the currency and subtotal of %s", (_name, lines, basis) => {
		expect(cartBasis(lines, variants)).toEqual(basis);
	});
});
