import { describe, expect, it } from "vitest";
import { mergeLines, priceOrder } from "../../../services/orders/pricing";

const book = { id: "p1", name: "Book", price: 1999, currency: "USD" };
const pen = { id: "p2", name: "Pen", price: 150, currency: "USD" };

describe("pricing", () => {
	it("snapshots names and unit prices and totals in minor units", () => {
		expect(
			priceOrder(
				[
					{ productId: "p1", quantity: 3 },
					{ productId: "p2", quantity: 2 },
				],
				[book, pen],
			),
		).toEqual({
			currency: "USD",
			total: 6297,
			items: [
				{ productId: "p1", name: "Book", unitPrice: 1999, quantity: 3, lineTotal: 5997 },
				{ productId: "p2", name: "Pen", unitPrice: 150, quantity: 2, lineTotal: 300 },
			],
		});
	});

	it("merges repeated lines of one product", () => {
		expect(
			mergeLines([
				{ productId: "p1", quantity: 1 },
				{ productId: "p2", quantity: 4 },
				{ productId: "p1", quantity: 2 },
			]),
		).toEqual([
			{ productId: "p1", quantity: 3 },
			{ productId: "p2", quantity: 4 },
		]);
	});

	it("rejects unknown products with 422 UNKNOWN_PRODUCT naming them", () => {
		expect(() =>
			priceOrder(
				[
					{ productId: "p1", quantity: 1 },
					{ productId: "nope", quantity: 1 },
				],
				[book],
			),
		).toThrow(expect.objectContaining({ code: 422, type: "UNKNOWN_PRODUCT", data: { productIds: ["nope"] } }));
	});

	it("rejects mixed currencies", () => {
		expect(() =>
			priceOrder(
				[
					{ productId: "p1", quantity: 1 },
					{ productId: "p2", quantity: 1 },
				],
				[book, { ...pen, currency: "EUR" }],
			),
		).toThrow(expect.objectContaining({ code: 422, type: "MIXED_CURRENCY" }));
	});

	it("refuses totals beyond exact integer range", () => {
		const huge = { ...book, price: Number.MAX_SAFE_INTEGER };
		expect(() => priceOrder([{ productId: "p1", quantity: 2 }], [huge])).toThrow(
			expect.objectContaining({ type: "TOTAL_TOO_LARGE" }),
		);
	});
});
