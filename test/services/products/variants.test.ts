import { describe, expect, it } from "vitest";
import type { ProductRecord, Variant } from "../../../services/products/contract";
import { addedVariant, buildProduct, changedProduct, changedVariant } from "../../../services/products/product-input";
import { derivedFields, optionErrors, resolveVariants, variantErrors } from "../../../services/products/variants";

const SIZE = { name: "Size", values: ["S", "M", "L"] };
const COLOUR = { name: "Colour", values: ["Red", "Blue"] };
const NOW = "2026-01-01T00:00:00.000Z";
let n = 0;
const newId = () => `v${++n}`;

const record: ProductRecord = {
	...{ id: "p1", name: "Tee", description: "", category: "c", options: [SIZE], price: 100, currency: "USD" },
	...{ createdAt: NOW, updatedAt: NOW },
};
const v = (id: string, size: string, price: number, position = 0): Variant => ({
	...{ id, productId: "p1", sku: `SKU-${id}`, title: size, options: { Size: size }, price, currency: "USD" },
	...{ position, createdAt: NOW, updatedAt: NOW },
});

describe("variant rules", () => {
	it.each([
		{ options: [], errors: 0 },
		{ options: [SIZE, COLOUR], errors: 0 },
		{ options: [SIZE, COLOUR, { name: "Fit", values: ["a"] }, { name: "Cut", values: ["b"] }], errors: 1 },
		{ options: [SIZE, { ...SIZE }], errors: 1 },
		{ options: [{ name: "Size", values: [] }], errors: 1 },
		{ options: [{ name: "Size", values: ["S", "S"] }], errors: 1 },
	])("options $options.length: $errors error(s)", ({ options, errors }) => {
		expect(optionErrors(options)).toHaveLength(errors);
	});

	it.each([
		{ what: "one declared value of every option", variants: [{ options: { Size: "S", Colour: "Red" } }], fields: [] },
		{ what: "a missing option", variants: [{ options: { Size: "S" } }], fields: ["variants[0].options"] },
		{
			what: "an undeclared value",
			variants: [{ options: { Size: "XL", Colour: "Red" } }],
			fields: ["variants[0].options"],
		},
		{
			what: "an undeclared option",
			variants: [{ options: { Size: "S", Colour: "Red", Fit: "x" } }],
			fields: ["variants[0].options"],
		},
		{
			what: "a repeated combination",
			variants: [{ options: { Size: "S", Colour: "Red" } }, { options: { Colour: "Red", Size: "S" } }],
			fields: ["variants[1].options"],
		},
		{ what: "no variant", variants: [], fields: ["variants"] },
		{
			what: "two currencies",
			variants: [
				{ options: { Size: "S", Colour: "Red" }, currency: "USD" },
				{ options: { Size: "M", Colour: "Red" }, currency: "EUR" },
			],
			fields: ["variants"],
		},
	])("variants with $what", ({ variants, fields }) => {
		expect(variantErrors([SIZE, COLOUR], variants).map(e => e.field)).toEqual(fields);
	});

	it.each([
		{ variants: [v("a", "S", 300)], derived: { price: 300, currency: "USD", sku: "SKU-a" } },
		{ variants: [v("a", "S", 300), v("b", "M", 200)], derived: { price: 200, currency: "USD", sku: null } },
	])("derives price, currency and SKU from $variants.length variant(s)", ({ variants, derived }) => {
		expect(derivedFields(variants)).toEqual(derived);
	});

	it("resolves variant ids, a single-variant product's id, and lists multi-variant products apart", () => {
		const single = { ...v("p2", "S", 10), productId: "p2" };
		const products = [record, { ...record, id: "p2", name: "Mug" }];
		expect(resolveVariants(["a", "p1", "p2", "nope", "a"], [v("a", "S", 300), single], products)).toEqual({
			variants: [
				{ variantId: "a", productId: "p1", sku: "SKU-a", name: "Tee", options: { Size: "S" } },
				{ variantId: "p2", productId: "p2", sku: "SKU-p2", name: "Mug", options: { Size: "S" } },
			].map((line, i) => ({ ...line, price: [300, 10][i], currency: "USD", title: "S" })),
			multiVariantProductIds: ["p1"],
		});
	});
});

describe("building products and variants", () => {
	it("gives today's body one variant with the product's id", () => {
		const built = buildProduct({ name: "Mug", category: "k", price: 900, sku: "MUG" }, "p9", NOW, newId);
		expect(built.variants).toEqual(
			[{ id: "p9", productId: "p9", sku: "MUG", title: "Mug", options: {}, price: 900, currency: "USD" }].map(x => ({
				...x,
				position: 0,
				createdAt: NOW,
				updatedAt: NOW,
			})),
		);
		expect(built.record).toMatchObject({ id: "p9", options: [], price: 900, currency: "USD" });
	});

	it.each([
		{ what: "today's body without a price", input: { name: "x", category: "c", sku: "X" } },
		{ what: "options without variants", input: { name: "x", category: "c", price: 1, sku: "X", options: [SIZE] } },
		{
			what: "a variant without a declared value",
			input: { name: "x", category: "c", options: [SIZE], variants: [{ sku: "X", options: {}, price: 1 }] },
		},
	])("refuses $what with 422 VALIDATION_ERROR", ({ input }) => {
		expect(() => buildProduct(input, "p", NOW, newId)).toThrow(
			expect.objectContaining({ code: 422, type: "VALIDATION_ERROR" }),
		);
	});

	it("titles variants by their values and prices the product at the lowest", () => {
		const input = {
			...{ name: "Tee", category: "c", options: [SIZE, COLOUR] },
			variants: [
				{ sku: "A", options: { Size: "M", Colour: "Blue" }, price: 500 },
				{ sku: "B", options: { Size: "S", Colour: "Red" }, price: 400, title: "Small red" },
			],
		};
		const built = buildProduct(input, "p", NOW, newId);
		expect(built.variants.map(x => [x.title, x.position])).toEqual([
			["M / Blue", 0],
			["Small red", 1],
		]);
		expect(built.variants.map(x => x.id)).not.toContain("p");
		expect(built.record.price).toBe(400);
	});

	it("adds and changes variants only into unused combinations", () => {
		const variants = [v("a", "S", 100), v("b", "M", 200, 1)];
		expect(addedVariant(record, variants, { sku: "C", options: { Size: "L" }, price: 50 }, "c", NOW)).toMatchObject({
			...{ id: "c", productId: "p1", title: "L", position: 2, currency: "USD" },
		});
		expect(() => addedVariant(record, variants, { sku: "C", options: { Size: "S" }, price: 50 }, "c", NOW)).toThrow(
			expect.objectContaining({ type: "VALIDATION_ERROR" }),
		);
		expect(changedVariant(record, variants, "b", { options: { Size: "L" } }, NOW)).toMatchObject({ title: "L" });
		expect(() => changedVariant(record, variants, "b", { options: { Size: "S" } }, NOW)).toThrow(
			expect.objectContaining({ type: "VALIDATION_ERROR" }),
		);
		expect(() => changedVariant(record, variants, "zz", { price: 1 }, NOW)).toThrow(
			expect.objectContaining({ code: 404 }),
		);
	});

	it.each([
		{ what: "price of a multi-variant product", changes: { price: 1 }, type: "VARIANT_REQUIRED" },
		{ what: "options its variants do not fit", changes: { options: [COLOUR] }, type: "VALIDATION_ERROR" },
	])("refuses a product change: $what", ({ changes, type }) => {
		expect(() => changedProduct(record, [v("a", "S", 1), v("b", "M", 2)], changes, NOW)).toThrow(
			expect.objectContaining({ code: 422, type }),
		);
	});

	it("changes a single-variant product's price on its variant", () => {
		const single = [v("p1", "S", 100)];
		const next = changedProduct(record, single, { price: 700, name: "New" }, NOW);
		expect(next.record.name).toBe("New");
		expect(next.variant).toMatchObject({ id: "p1", price: 700 });
	});
});
