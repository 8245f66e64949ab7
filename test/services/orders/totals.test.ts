import { describe, expect, it } from "vitest";
import {
	allocate,
	discountOf,
	divideHalfUp,
	priceTotals,
	refundOfUnits,
	shippingOf,
	taxOf,
	type DiscountRule,
	type ShippingCharge,
	type TaxRule,
} from "../../../services/orders/totals";

const pct = (value: number): DiscountRule => ({ code: "PCT", type: "PERCENTAGE", value });
const fixed = (value: number): DiscountRule => ({ code: "FIX", type: "FIXED", value });
const FREE: DiscountRule = { code: "FREESHIP", type: "FREE_SHIPPING", value: null };
const STANDARD: ShippingCharge = { id: "m-std", name: "Standard", price: 499, freeOver: 5000 };
const EXPRESS: ShippingCharge = { id: "m-exp", name: "Express", price: 1499, freeOver: null };
const GB: TaxRule = { country: "GB", rate: 2000, shippingTaxable: true };
const DE: TaxRule = { country: "DE", rate: 1900, shippingTaxable: false };

describe("money rules (totals.ts)", () => {
	it.each([
		[0, 1, 0],
		[1, 2, 1], // 0.5 rounds up
		[3, 2, 2], // 1.5
		[5, 2, 3], // 2.5: half up, not to even
		[4, 3, 1], // 1.33
		[5, 3, 2], // 1.67
		[Number.MAX_SAFE_INTEGER, 1, Number.MAX_SAFE_INTEGER],
	])("divides %d by %d rounding half up: %d", (n, d, expected) => {
		expect(divideHalfUp(n, d)).toBe(expected);
	});

	it("refuses to divide by 0 or a negative or fractional amount", () => {
		for (const [n, d] of [
			[1, 0],
			[-1, 2],
			[1.5, 2],
		])
			expect(() => divideHalfUp(n, d)).toThrow(RangeError);
	});

	describe("discount of a code", () => {
		it.each([
			["15 % of 3333 (499.95)", pct(15), 3333, 500],
			["15 % of 3330 (499.5)", pct(15), 3330, 500],
			["15 % of 3329 (499.35)", pct(15), 3329, 499],
			["10 % of 5 (0.5)", pct(10), 5, 1],
			["10 % of 4 (0.4)", pct(10), 4, 0],
			["1 % of 49 (0.49)", pct(1), 49, 0],
			["100 % of 999", pct(100), 999, 999],
			["10 % of 0", pct(10), 0, 0],
			["fixed 500 of 3000", fixed(500), 3000, 500],
			["fixed 5000 of 3000: capped at the subtotal", fixed(5000), 3000, 3000],
			["fixed 500 of 0", fixed(500), 0, 0],
			["free shipping: no discount", FREE, 3000, 0],
			["no code", null, 3000, 0],
			// amount × value passes 2^53: exact all the same
			["33 % of 2^52 (1486187877032263.68)", pct(33), 2 ** 52, 1486187877032264],
		] as const)("%s", (_, rule, subtotal, expected) => {
			expect(discountOf(rule, subtotal)).toBe(expected);
		});
	});

	describe("allocation by largest remainder", () => {
		it.each([
			[1000, [1, 1, 1], [334, 333, 333]],
			[1001, [1, 1, 1], [334, 334, 333]],
			[2, [1, 1, 1], [1, 1, 0]], // ties go to the earlier part
			[100, [1, 2], [33, 67]], // 33.33 and 66.67: the larger remainder gets the cent
			[305, [2400, 650], [240, 65]],
			[10, [0, 5, 5], [0, 5, 5]],
			[7, [3, 3, 1], [3, 3, 1]],
			[1, [1, 1000], [0, 1]], // proportional: the heavier line takes it
			[999, [1, 1, 998], [1, 1, 997]],
			[500, [3333], [500]],
			[0, [10, 20], [0, 0]],
			[0, [0, 0], [0, 0]],
		])("%d over %j is %j", (amount, weights, expected) => {
			const parts = allocate(amount, weights);
			expect(parts).toEqual(expected);
			expect(parts.reduce((s, p) => s + p, 0)).toBe(amount);
		});

		it("refuses to allocate an amount over weights that are all 0", () => {
			expect(() => allocate(5, [0, 0])).toThrow(RangeError);
		});
	});

	describe("shipping", () => {
		it.each([
			["no method", null, 1000, null, 0],
			["under the threshold", STANDARD, 4999, null, 499],
			["at the threshold", STANDARD, 5000, null, 0],
			["over the threshold", STANDARD, 8000, null, 0],
			["a method never free", EXPRESS, 1_000_000, null, 1499],
			["a FREE_SHIPPING code", EXPRESS, 100, FREE, 0],
			["a percentage code does not make it free", EXPRESS, 100, pct(10), 1499],
		] as const)("%s", (_, method, afterDiscount, rule, expected) => {
			expect(shippingOf(method, afterDiscount, rule)).toBe(expected);
		});

		it("applies the free threshold to the subtotal after discount", () => {
			// 5500 - 10 % = 4950: under 5000, shipping is charged.
			expect(priceTotals([5500], { discount: pct(10), shipping: STANDARD, tax: null }).totals).toEqual({
				subtotal: 5500,
				discount: 550,
				shipping: 499,
				tax: 0,
				total: 5449,
			});
			// 6000 - 10 % = 5400: free.
			expect(priceTotals([6000], { discount: pct(10), shipping: STANDARD, tax: null }).totals.shipping).toBe(0);
			// 5000 and no code: free from the threshold up.
			expect(priceTotals([5000], { discount: null, shipping: STANDARD, tax: null }).totals.shipping).toBe(0);
		});

		it("shows a FREE_SHIPPING code as shipping 0, not as a discount", () => {
			expect(priceTotals([1000, 200], { discount: FREE, shipping: EXPRESS, tax: null })).toEqual({
				lines: [
					{ discount: 0, tax: 0, total: 1000 },
					{ discount: 0, tax: 0, total: 200 },
				],
				totals: { subtotal: 1200, discount: 0, shipping: 0, tax: 0, total: 1200 },
				shippingTax: 0,
			});
		});
	});

	describe("tax", () => {
		it.each([
			[1000, 2000, 200],
			[499, 2000, 100], // 99.8
			[333, 1900, 63], // 63.27
			[250, 1900, 48], // 47.5: half up
			[1000, 0, 0],
			[1000, 10000, 1000],
		])("%d at %d basis points is %d", (amount, rate, expected) => {
			expect(taxOf(amount, rate)).toBe(expected);
		});

		it("taxes each line on its total after discount, and shipping where the country taxes it (GB)", () => {
			const priced = priceTotals([2400, 650], { discount: pct(10), shipping: EXPRESS, tax: GB });
			expect(priced).toEqual({
				lines: [
					{ discount: 240, tax: 432, total: 2592 },
					{ discount: 65, tax: 117, total: 702 },
				],
				// 1499 × 20 % = 299.8: 300 of tax on shipping.
				totals: { subtotal: 3050, discount: 305, shipping: 1499, tax: 849, total: 5093 },
				shippingTax: 300,
			});
		});

		it("does not tax shipping where the country does not (DE), and rounds each line on its own", () => {
			// Three lines of 333 at 19 %: 63.27 each, so 63 × 3 = 189 (not 19 % of 999 = 189.81 → 190).
			const priced = priceTotals([333, 333, 333], { discount: null, shipping: EXPRESS, tax: DE });
			expect(priced.lines).toEqual([
				{ discount: 0, tax: 63, total: 396 },
				{ discount: 0, tax: 63, total: 396 },
				{ discount: 0, tax: 63, total: 396 },
			]);
			expect(priced.totals).toEqual({ subtotal: 999, discount: 0, shipping: 1499, tax: 189, total: 2687 });
			expect(priced.shippingTax).toBe(0);
		});

		it("charges no tax without a rate, nor shipping without a method", () => {
			expect(priceTotals([1000], { discount: fixed(100), shipping: null, tax: null })).toEqual({
				lines: [{ discount: 100, tax: 0, total: 900 }],
				totals: { subtotal: 1000, discount: 100, shipping: 0, tax: 0, total: 900 },
				shippingTax: 0,
			});
		});
	});

	describe("refund of units", () => {
		// 3 × 1000, 100 of discount, 19 % on the 2900 left: 551 of tax; the line cost 3451.
		const line = { unitPrice: 1000, quantity: 3, discount: 100, tax: 551 };
		const LINE_TOTAL = 3000 - 100 + 551;

		it.each([[[1, 1, 1]], [[2, 1]], [[1, 2]], [[3]]])("splits %j add up to the line's total", splits => {
			let before = 0;
			let refunded = 0;
			for (const quantity of splits) {
				refunded += refundOfUnits(line, before, quantity);
				before += quantity;
			}
			expect(refunded).toBe(LINE_TOTAL);
		});

		it("gives back each unit's cumulative share, rounded half up", () => {
			// Discount shares 33, 67, 100 (cumulative) and tax shares 184 (183.67), 367 (367.33), 551.
			expect(refundOfUnits(line, 0, 1)).toBe(1000 - 33 + 184);
			expect(refundOfUnits(line, 1, 1)).toBe(1000 - 34 + 183);
			expect(refundOfUnits(line, 2, 1)).toBe(1000 - 33 + 184);
		});

		it("refuses units the line does not have", () => {
			expect(() => refundOfUnits(line, 2, 2)).toThrow(RangeError);
			expect(() => refundOfUnits(line, 0, 0)).toThrow(RangeError);
			expect(() => refundOfUnits(line, -1, 1)).toThrow(RangeError);
			expect(() => refundOfUnits(line, 0, 1.5)).toThrow(RangeError);
		});
	});

	describe("identities on random orders", () => {
		/** A small seeded generator (mulberry32), so a failure reproduces. */
		function random(seed: number) {
			let a = seed;
			const next = () => {
				a = (a + 0x6d2b79f5) | 0;
				let t = Math.imul(a ^ (a >>> 15), 1 | a);
				t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
				return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
			};
			const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
			return { int, pick: <T>(xs: readonly T[]) => xs[int(0, xs.length - 1)] };
		}

		it("total = subtotal - discount + shipping + tax; lines and shipping add up to it; so do full refunds", () => {
			for (let seed = 1; seed <= 500; seed++) {
				const { int, pick } = random(seed);
				const lines = Array.from({ length: int(1, 6) }, () => ({
					unitPrice: pick([0, int(1, 99), int(100, 100_000)]),
					quantity: int(1, 7),
				}));
				const lineTotals = lines.map(l => l.unitPrice * l.quantity);
				const subtotal = lineTotals.reduce((s, t) => s + t, 0);
				const discount = pick([null, pct(int(1, 100)), fixed(int(0, subtotal * 2 + 10)), FREE]);
				const freeOver = pick([null, int(0, subtotal * 2 + 10)]);
				const shipping = pick([null, { id: "m", name: "M", price: int(0, 3000), freeOver }]);
				const tax = pick([null, { country: "XX", rate: int(0, 10_000), shippingTaxable: pick([true, false]) }]);
				const context = JSON.stringify({ seed, lineTotals, discount, shipping, tax });

				const priced = priceTotals(lineTotals, { discount, shipping, tax });
				const { totals } = priced;
				const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
				expect(totals.subtotal, context).toBe(subtotal);
				expect(totals.total, context).toBe(totals.subtotal - totals.discount + totals.shipping + totals.tax);
				expect(sum(priced.lines.map(l => l.total)) + totals.shipping + priced.shippingTax, context).toBe(totals.total);
				expect(sum(priced.lines.map(l => l.discount)), context).toBe(totals.discount);
				expect(sum(priced.lines.map(l => l.tax)) + priced.shippingTax, context).toBe(totals.tax);
				expect(totals.discount, context).toBeLessThanOrEqual(subtotal);
				for (const [i, l] of priced.lines.entries()) {
					expect(l.discount, context).toBeGreaterThanOrEqual(0);
					expect(l.discount, context).toBeLessThanOrEqual(lineTotals[i]);
					expect(l.total, context).toBe(lineTotals[i] - l.discount + l.tax);
				}

				// Every unit of every line returned, in random splits: the refunds and shipping with its tax are the total.
				let refunded = 0;
				for (const [i, l] of lines.entries()) {
					const refundable = { ...l, discount: priced.lines[i].discount, tax: priced.lines[i].tax };
					let lineRefund = 0;
					for (let before = 0; before < l.quantity;) {
						const quantity = int(1, l.quantity - before);
						const part = refundOfUnits(refundable, before, quantity);
						expect(part, context).toBeGreaterThanOrEqual(0);
						lineRefund += part;
						before += quantity;
					}
					expect(lineRefund, context).toBe(priced.lines[i].total);
					refunded += lineRefund;
				}
				expect(refunded + totals.shipping + priced.shippingTax, context).toBe(totals.total);
			}
		});
	});
});
