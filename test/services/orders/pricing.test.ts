import { describe, expect, it } from "vitest";
import { mergeLines, priceOrder, stockKey, type VariantCatalogue } from "../../../services/orders/pricing";
import type { VariantLine } from "../../../services/products/contract";

const line = (variantId: string, productId: string, price: number, currency = "USD"): VariantLine => ({
	variantId,
	productId,
	sku: variantId.toUpperCase(),
	name: productId === "shirt" ? "Shirt" : "Book",
	options: productId === "shirt" ? { Size: variantId.slice(-1) } : {},
	price,
	currency,
	title: variantId,
});
const catalogue: VariantCatalogue = {
	variants: [line("book", "book", 1999), line("shirt-m", "shirt", 2500), line("shirt-l", "shirt", 2700)],
	multiVariantProductIds: ["shirt"],
};

describe("pricing", () => {
	it("snapshots variant, SKU, options and unit prices, and totals in minor units", () => {
		expect(
			priceOrder(
				[
					{ variantId: "book", quantity: 3 },
					{ variantId: "shirt-m", quantity: 2 },
				],
				catalogue,
			),
		).toEqual({
			currency: "USD",
			total: 10997,
			items: [
				{
					...{ productId: "book", variantId: "book", sku: "BOOK", name: "Book", options: {} },
					...{ unitPrice: 1999, quantity: 3, lineTotal: 5997 },
				},
				{
					...{ productId: "shirt", variantId: "shirt-m", sku: "SHIRT-M", name: "Shirt", options: { Size: "m" } },
					...{ unitPrice: 2500, quantity: 2, lineTotal: 5000 },
				},
			],
		});
	});

	it.each([
		{
			what: "repeated lines of one variant, by variantId and by productId of a single-variant product",
			lines: [
				{ variantId: "book", quantity: 1 },
				{ variantId: "shirt-m", quantity: 4 },
				{ productId: "book", quantity: 2 },
			],
			merged: [
				{ variantId: "book", quantity: 3 },
				{ variantId: "shirt-m", quantity: 4 },
			],
		},
		{
			what: "variantId wins over productId",
			lines: [{ productId: "shirt", variantId: "shirt-l", quantity: 1 }],
			merged: [{ variantId: "shirt-l", quantity: 1 }],
		},
	])("merges $what", ({ lines, merged }) => {
		expect(mergeLines(lines)).toEqual(merged);
	});

	it.each([
		{ lines: [{ quantity: 1 }], type: "VALIDATION_ERROR", code: 422 },
		{
			lines: [
				{ variantId: "book", quantity: 600 },
				{ productId: "book", quantity: 600 },
			],
			type: "QUANTITY_TOO_LARGE",
			code: 422,
		},
	])("refuses $type when merging", ({ lines, type, code }) => {
		expect(() => mergeLines(lines)).toThrow(expect.objectContaining({ code, type }));
	});

	it.each([
		{
			what: "a multi-variant product named alone",
			lines: [{ variantId: "shirt", quantity: 1 }],
			error: { code: 422, type: "VARIANT_REQUIRED", data: { productIds: ["shirt"] } },
		},
		{
			what: "an unknown id",
			lines: [
				{ variantId: "book", quantity: 1 },
				{ variantId: "nope", quantity: 1 },
			],
			error: { code: 422, type: "UNKNOWN_PRODUCT", data: { productIds: ["nope"] } },
		},
	])("refuses $what", ({ lines, error }) => {
		expect(() => priceOrder(lines, catalogue)).toThrow(expect.objectContaining(error));
	});

	it("rejects mixed currencies", () => {
		const mixed = { ...catalogue, variants: [line("book", "book", 1999), line("shirt-m", "shirt", 2500, "EUR")] };
		const lines = [
			{ variantId: "book", quantity: 1 },
			{ variantId: "shirt-m", quantity: 1 },
		];
		expect(() => priceOrder(lines, mixed)).toThrow(expect.objectContaining({ code: 422, type: "MIXED_CURRENCY" }));
	});

	it("refuses totals beyond exact integer range", () => {
		const huge = { ...catalogue, variants: [line("book", "book", Number.MAX_SAFE_INTEGER)] };
		expect(() => priceOrder([{ variantId: "book", quantity: 2 }], huge)).toThrow(
			expect.objectContaining({ type: "TOTAL_TOO_LARGE" }),
		);
	});

	it.each([
		{ item: { productId: "shirt", variantId: "shirt-m" }, key: "shirt-m" },
		{ item: { productId: "book" }, key: "book" },
	])("keys stock by variant: $key", ({ item, key }) => {
		expect(stockKey(item)).toBe(key);
	});
});
