import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { client, type Client } from "../support/http";
import type { ApiError, Order, Page, Product, Stock } from "../support/api";
import { auditShop } from "../../lib/audit";

const SIZES = ["S", "M", "L"];
const COLOURS = ["Red", "Green", "Blue"];
const OPTIONS = [
	{ name: "Size", values: SIZES },
	{ name: "Colour", values: COLOURS },
];

/** Products with options and variants (issue 12) over HTTP: catalogue rules, stock per variant, orders by variant. */
describe("products with variants, over HTTP", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;
	let ann: string;
	let shirt: Product;
	const run = Date.now().toString(36);

	beforeAll(async () => {
		shop = await startShop({ env: { SEED: "false" } });
		api = client(shop.url);
		admin = (await api.login("admin@example.com", "admin-password")).token;
		ann = (await api.register(`ann-${run}@example.com`, "ann-password", "Ann")).token;
	});

	afterAll(async () => {
		await shop?.stop();
	});

	const stockOf = async (variantId: string) => (await api.get<Stock>(`/api/inventory/${variantId}`)).body;
	const variant = (size: string, colour: string, price: number) => ({
		sku: `TEE-${run}-${size}-${colour}`,
		options: { Size: size, Colour: colour },
		price,
	});

	it("creates a product with two options of three values, one variant per combination", async () => {
		const variants = SIZES.flatMap((size, i) => COLOURS.map(colour => variant(size, colour, 2000 + 100 * i)));
		const res = await api.post<Product>(
			"/api/products",
			{ name: "Tee", category: "Clothes", options: OPTIONS, variants },
			{ token: admin },
		);
		expect(res.status).toBe(201);
		shirt = res.body;
		expect(shirt).toMatchObject({ name: "Tee", category: "clothes", options: OPTIONS, price: 2000, sku: null });
		expect(shirt.currency).toBe("USD");
		expect(shirt.variants).toHaveLength(9);
		expect(shirt.variants[0]).toMatchObject({ title: "S / Red", options: { Size: "S", Colour: "Red" }, price: 2000 });
		expect(new Set(shirt.variants.map(v => v.id)).size).toBe(9);
		expect(shirt.variants.map(v => v.id)).not.toContain(shirt.id);
		expect((await api.get<Product>(`/api/products/${shirt.id}`)).body).toEqual(shirt);
	});

	it("keeps today's body: one variant with the product's id, its SKU and price", async () => {
		const res = await api.post<Product>(
			"/api/products",
			{ name: "Mug", price: 900, category: "Kitchen", sku: `MUG-${run}` },
			{ token: admin },
		);
		expect(res.status).toBe(201);
		expect(res.body).toMatchObject({ price: 900, currency: "USD", sku: `MUG-${run}`, options: [] });
		expect(res.body.variants).toEqual([
			{ id: res.body.id, sku: `MUG-${run}`, title: "Mug", options: {}, price: 900, currency: "USD" },
		]);
		expect(await stockOf(res.body.id)).toMatchObject({ productId: res.body.id, available: 0 });
	});

	it.each([
		{ what: "a missing option value", variants: [{ sku: `X1-${run}`, options: { Size: "S" }, price: 1 }] },
		{ what: "an undeclared value", variants: [variant("XL", "Red", 1)] },
		{
			what: "an undeclared option",
			variants: [{ ...variant("S", "Red", 1), options: { Size: "S", Colour: "Red", Fit: "Slim" } }],
		},
		{
			what: "a repeated combination",
			variants: [variant("S", "Red", 1), { ...variant("S", "Red", 1), sku: `Y-${run}` }],
		},
		{ what: "no variant", variants: [] },
	])("refuses $what with 422 VALIDATION_ERROR", async ({ variants }) => {
		const res = await api.post<ApiError>(
			"/api/products",
			{ name: "Bad", category: "x", options: OPTIONS, variants: variants.map(v => ({ ...v, sku: `${v.sku}-bad` })) },
			{ token: admin },
		);
		expect(res.status).toBe(422);
		expect(res.body.type).toBe("VALIDATION_ERROR");
	});

	it("keeps SKUs unique across all variants (409 SKU_TAKEN), leaving nothing behind", async () => {
		const taken = shirt.variants[4].sku;
		const res = await api.post<ApiError>(
			"/api/products",
			{ name: "Copy", price: 1, category: "x", sku: taken },
			{ token: admin },
		);
		expect(res.body).toMatchObject({ code: 409, type: "SKU_TAKEN" });
		const added = await api.patch<ApiError>(
			`/api/products/${shirt.id}/variants/${shirt.variants[0].id}`,
			{ sku: taken },
			{ token: admin },
		);
		expect(added.body).toMatchObject({ code: 409, type: "SKU_TAKEN" });
	});

	it("adds, changes and removes variants (admin), never the last one", async () => {
		const mug = (
			await api.post<Product>(
				"/api/products",
				{ name: "Cup", price: 500, category: "k", sku: `CUP-${run}` },
				{ token: admin },
			)
		).body;
		const patched = await api.patch<Product>(
			`/api/products/${mug.id}`,
			{ options: [{ name: "Size", values: ["Small", "Big"] }] },
			{ token: admin },
		);
		expect(patched.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" }); // its variant names no size
		const lastGone = await api.delete<ApiError>(`/api/products/${mug.id}/variants/${mug.id}`, { token: admin });
		expect(lastGone.body).toMatchObject({ code: 409, type: "LAST_VARIANT" });

		const added = await api.post<Product>(
			`/api/products/${shirt.id}/variants`,
			{ sku: `TEE-${run}-XS`, options: { Size: "S", Colour: "Red" }, price: 100 },
			{ token: admin },
		);
		expect(added.body).toMatchObject({ code: 422, type: "VALIDATION_ERROR" }); // same combination as S / Red

		const cheap = shirt.variants[8];
		const changed = await api.patch<Product>(
			`/api/products/${shirt.id}/variants/${cheap.id}`,
			{ price: 1500 },
			{ token: admin },
		);
		expect(changed.status).toBe(200);
		expect(changed.body).toMatchObject({ price: 1500, sku: null });
		expect(changed.body.variants[8]).toMatchObject({ id: cheap.id, price: 1500, title: "L / Blue" });
		const patchPrice = await api.patch<ApiError>(`/api/products/${shirt.id}`, { price: 1 }, { token: admin });
		expect(patchPrice.body).toMatchObject({ code: 422, type: "VARIANT_REQUIRED" });

		const removed = await api.delete<Product>(`/api/products/${shirt.id}/variants/${cheap.id}`, { token: admin });
		expect(removed.status).toBe(200);
		expect(removed.body.variants.map(v => v.id)).not.toContain(cheap.id);
		expect(removed.body.price).toBe(2000);
		expect((await api.delete(`/api/products/${shirt.id}/variants/${cheap.id}`, { token: admin })).status).toBe(404);
		for (const [method, path] of [
			["POST", `/api/products/${shirt.id}/variants`],
			["PATCH", `/api/products/${shirt.id}/variants/${shirt.variants[0].id}`],
			["DELETE", `/api/products/${shirt.id}/variants/${shirt.variants[0].id}`],
		])
			expect((await api.request(method, path, { token: ann, body: {} })).status).toBe(403);
		shirt = removed.body;
	});

	it("filters on minPrice and maxPrice: a product matches when one of its variants is in range", async () => {
		const ids = async (query: string) =>
			(await api.get<Page<Product>>(`/api/products?pageSize=100&${query}`)).body.rows.map(p => p.id);
		expect(await ids("minPrice=2100&maxPrice=2100")).toContain(shirt.id); // the M variants only
		expect(await ids("minPrice=2050&maxPrice=2090")).not.toContain(shirt.id);
		expect(await ids("minPrice=2200")).toContain(shirt.id);
		expect(await ids("maxPrice=1999")).not.toContain(shirt.id);
	});

	it("searches names, descriptions and the SKUs of every variant (case-insensitive substring)", async () => {
		const ids = async (query: string) => {
			const res = await api.get<Page<Product>>(`/api/products?pageSize=100&${query}`);
			expect(res.status, JSON.stringify(res.body)).toBe(200);
			expect(res.body.total).toBe(res.body.rows.length);
			return res.body.rows.map(p => p.id);
		};
		const sku = shirt.variants[shirt.variants.length - 1].sku; // one variant's SKU: TEE-<run>-L-Green
		expect(await ids(`search=${encodeURIComponent(sku.toLowerCase())}`)).toEqual([shirt.id]);
		expect(await ids(`search=${encodeURIComponent(`tee-${run}-`)}`)).toEqual([shirt.id]); // several variants: once
		expect(await ids(`search=${encodeURIComponent(`mug-${run}`)}`)).toHaveLength(1); // a single-variant product
		// Combined with the other filters, and literal (a regex character matches nothing here).
		expect(await ids(`search=${encodeURIComponent(sku)}&category=clothes`)).toEqual([shirt.id]);
		expect(await ids(`search=${encodeURIComponent(sku)}&category=kitchen`)).toEqual([]);
		expect(await ids(`search=${encodeURIComponent(sku)}&maxPrice=1`)).toEqual([]);
		expect(await ids(`search=${encodeURIComponent(`TEE-${run}.`)}`)).toEqual([]);
		// A removed variant's SKU no longer finds its product.
		expect(await ids(`search=${encodeURIComponent(`TEE-${run}-L-Blue`)}`)).toEqual([]);
	});

	it("keeps stock per variant and moves only the ordered variant's stock", async () => {
		const [sRed, mBlue] = [shirt.variants[0], shirt.variants[5]];
		for (const v of [sRed, mBlue])
			expect((await api.put(`/api/inventory/${v.id}`, { available: 10 }, { token: admin })).status).toBe(200);
		const multi = await api.put<ApiError>(`/api/inventory/${shirt.id}`, { available: 10 }, { token: admin });
		expect(multi.body).toMatchObject({ code: 422, type: "VARIANT_REQUIRED" });

		const noVariant = await api.post<ApiError>(
			"/api/orders",
			{ items: [{ productId: shirt.id, quantity: 1 }], paymentToken: "tok_visa" },
			{ token: ann },
		);
		expect(noVariant.body).toMatchObject({ code: 422, type: "VARIANT_REQUIRED" });

		const res = await api.post<Order>(
			"/api/orders",
			{
				items: [
					{ variantId: mBlue.id, quantity: 2 },
					{ variantId: mBlue.id, quantity: 1 },
				],
				paymentToken: "tok_visa",
			},
			{ token: ann },
		);
		expect(res.status).toBe(201);
		expect(res.body.items).toEqual([
			{
				...{ productId: shirt.id, variantId: mBlue.id, sku: mBlue.sku, name: "Tee" },
				...{ options: { Size: "M", Colour: "Blue" }, unitPrice: 2100, quantity: 3, lineTotal: 6300 },
				// No code, no address: no discount, no tax.
				...{ discount: 0, tax: 0, total: 6300 },
			},
		]);
		expect(res.body.total).toBe(6300);
		expect(await stockOf(mBlue.id)).toMatchObject({ productId: mBlue.id, available: 7, reserved: 0 });
		expect(await stockOf(sRed.id)).toMatchObject({ available: 10, reserved: 0 });

		const out = await api.post<ApiError<{ lines: unknown[] }>>(
			"/api/orders",
			{ items: [{ variantId: mBlue.id, quantity: 8 }], paymentToken: "tok_visa" },
			{ token: ann },
		);
		expect(out.body).toMatchObject({ code: 409, type: "OUT_OF_STOCK" });
		expect(await stockOf(mBlue.id)).toMatchObject({ available: 7, reserved: 0 });
		expect(await auditShop(shop.broker, { settled: true })).toMatchObject({ violations: [] });
	});
});
