import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionName, ActionParams, ActionResult } from "../../lib/actor";
import type { ShippingMethod } from "../../services/shipping/contract";
import { createTestDatabase } from "../support/databases";
import { describeWithServers, type SERVERS } from "../support/servers";
import { startShop, type Shop } from "../support/shop";

const ADMIN = { user: { id: "admin-1", role: "admin" } };
const CUSTOMER = { user: { id: "customer-1", role: "customer" } };

/** Calls a shipping action as the admin (the REPL's way: the user in `meta`). */
function caller(shop: () => Shop) {
	return <N extends ActionName>(action: N, params: ActionParams<N>, meta: object = ADMIN): Promise<ActionResult<N>> =>
		shop().broker.call(action, params, { meta });
}

/** Resolves to the error a call failed with, or fails the test when the call succeeded. */
async function failure(call: Promise<unknown>): Promise<{ code: number; type: string; data?: unknown }> {
	try {
		await call;
	} catch (err) {
		return err as { code: number; type: string; data?: unknown };
	}
	throw new Error("expected the call to fail");
}

/** Every store: the rate upsert's duplicate key is a real unique violation on SQL, racing connections of a pool. */
const STORES: { kind: "memory" | "mariadb" | "postgres"; servers: (keyof typeof SERVERS)[] }[] = [
	{ kind: "memory", servers: [] },
	{ kind: "mariadb", servers: ["mariadb"] },
	{ kind: "postgres", servers: ["postgres"] },
];

for (const { kind, servers } of STORES) {
	await describeWithServers(servers, `shipping: methods and tax rates on ${kind}`, () => {
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		let shop: Shop;
		const call = caller(() => shop);

		beforeAll(async () => {
			db = kind === "memory" ? undefined : await createTestDatabase(kind);
			shop = await startShop({ services: ["shipping"], env: db ? { SHIPPING_DB_URI: db.uri } : {} });
		});
		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		it("creates, lists, patches and removes methods, admin only", async () => {
			const created = await call("shipping.createMethod", {
				name: "Courier",
				price: 900,
				currency: "EUR",
				countries: ["de", "AT", "de"],
			});
			expect(created).toMatchObject({
				name: "Courier",
				price: 900,
				currency: "EUR",
				countries: ["DE", "AT"],
				freeOver: null,
				active: true,
			});
			expect(created.id).toEqual(expect.any(String));
			expect(created.createdAt).toBe(created.updatedAt);

			const page = await call("shipping.listMethods", { pageSize: 1 });
			expect(page).toEqual({ rows: [created], total: 1, page: 1, pageSize: 1, totalPages: 1 });

			await new Promise(resolve => setTimeout(resolve, 5));
			const patched = await call("shipping.updateMethod", { id: created.id, freeOver: 10_000, countries: ["*"] });
			expect(patched).toMatchObject({ ...created, freeOver: 10_000, countries: ["*"], updatedAt: expect.any(String) });
			expect(patched.updatedAt > created.updatedAt).toBe(true);
			const cleared = await call("shipping.updateMethod", { id: created.id, freeOver: null, active: false });
			expect(cleared).toMatchObject({ name: "Courier", price: 900, freeOver: null, active: false, countries: ["*"] });

			expect(await failure(call("shipping.listMethods", {}, CUSTOMER))).toMatchObject({ code: 403 });
			expect(await failure(call("shipping.listMethods", {}, {}))).toMatchObject({ code: 401 });

			expect(await call("shipping.removeMethod", { id: created.id })).toEqual(cleared);
			expect(await failure(call("shipping.removeMethod", { id: created.id }))).toMatchObject({
				code: 404,
				type: "NOT_FOUND",
			});
			expect(await failure(call("shipping.updateMethod", { id: created.id, price: 1 }))).toMatchObject({
				code: 404,
				type: "NOT_FOUND",
			});
			expect(await call("shipping.listMethods", {})).toMatchObject({ rows: [], total: 0 });
		});

		it.each([
			["no countries", "VALIDATION_ERROR", { countries: [] }],
			["a three-letter code", "INVALID_COUNTRIES", { countries: ["DEU"] }],
			["a country name", "INVALID_COUNTRIES", { countries: ["FR", "Germany"] }],
			["* among codes", "INVALID_COUNTRIES", { countries: ["*", "DE"] }],
			["a lower-case currency", "VALIDATION_ERROR", { currency: "usd" }],
			["a negative price", "VALIDATION_ERROR", { price: -1 }],
			["a fractional threshold", "VALIDATION_ERROR", { freeOver: 10.5 }],
			["no name", "VALIDATION_ERROR", { name: "" }],
		])("refuses to create or patch a method with %s (422 %s)", async (_case, type, change) => {
			const valid = { name: "Good", price: 100, currency: "USD", countries: ["US"] };
			expect(await failure(call("shipping.createMethod", { ...valid, ...change }))).toMatchObject({ code: 422, type });
			const good = await call("shipping.createMethod", valid);
			expect(await failure(call("shipping.updateMethod", { id: good.id, ...change }))).toMatchObject({
				code: 422,
				type,
			});
			expect(await call("shipping.removeMethod", { id: good.id })).toEqual(good);
		});

		describe("options and quotes", () => {
			let standard: ShippingMethod;
			let express: ShippingMethod;
			let local: ShippingMethod;
			let euro: ShippingMethod;
			let retired: ShippingMethod;

			beforeAll(async () => {
				const create = (input: ActionParams<"shipping.createMethod">) =>
					call("shipping.createMethod", { currency: "USD", countries: ["*"], ...input });
				standard = await create({ name: "Standard", price: 499, freeOver: 5000 });
				express = await create({ name: "Express", price: 1499 });
				local = await create({ name: "Local", price: 299, countries: ["DE", "AT"] });
				euro = await create({ name: "Euro", price: 100, currency: "EUR" });
				retired = await create({ name: "Retired", price: 1, active: false });
				await call("shipping.putRate", { country: "de", rate: 1900 });
				await call("shipping.putRate", { country: "GB", rate: 2000, shippingTaxable: true });
			});
			afterAll(async () => {
				for (const m of [standard, express, local, euro, retired]) await call("shipping.removeMethod", { id: m.id });
				for (const country of ["DE", "GB"]) await call("shipping.removeRate", { country });
			});

			const options = async (country: string, afterDiscount: number, free?: boolean, currency = "USD") =>
				(await call("shipping.options", { country, currency, afterDiscount, ...(free !== undefined && { free }) })).map(
					o => [o.name, o.price, o.listPrice],
				);

			it.each([
				[
					"US",
					4999,
					undefined,
					[
						["Standard", 499, 499],
						["Express", 1499, 1499],
					],
				],
				[
					"US",
					5000,
					undefined,
					[
						["Standard", 0, 499],
						["Express", 1499, 1499],
					],
				],
				[
					"de",
					100,
					undefined,
					[
						["Local", 299, 299],
						["Standard", 499, 499],
						["Express", 1499, 1499],
					],
				],
				[
					"AT",
					6000,
					undefined,
					[
						["Standard", 0, 499],
						["Local", 299, 299],
						["Express", 1499, 1499],
					],
				],
				[
					"US",
					10,
					true,
					[
						["Express", 0, 1499],
						["Standard", 0, 499],
					],
				],
				[
					"Germany",
					0,
					undefined,
					[
						["Standard", 499, 499],
						["Express", 1499, 1499],
					],
				],
			])("to %s after a discount, at %i (free code: %s): %j", async (country, afterDiscount, free, expected) => {
				expect(await options(country, afterDiscount, free)).toEqual(expected);
			});

			it("offers only methods in the cart's currency, with the whole method", async () => {
				const [only, ...others] = await call("shipping.options", { country: "FR", currency: "EUR", afterDiscount: 0 });
				expect(others).toEqual([]);
				expect(only).toEqual({ ...euro, listPrice: 100 });
			});

			it("is internal: a customer's cart may ask", async () => {
				const found = await call("shipping.options", { country: "US", currency: "USD", afterDiscount: 0 }, CUSTOMER);
				expect(found).toHaveLength(2);
			});

			it.each([
				["DE", { country: "DE", rate: 1900, shippingTaxable: false }],
				["de", { country: "DE", rate: 1900, shippingTaxable: false }],
				["gb", { country: "GB", rate: 2000, shippingTaxable: true }],
				["US", null],
				["Germany", null],
			])("quotes the tax of %s: %j", async (country, tax) => {
				expect(await call("shipping.quote", { country, currency: "USD" })).toEqual({ shipping: null, tax });
			});

			it("quotes a chosen method as the order keeps it", async () => {
				expect(await call("shipping.quote", { country: "at", currency: "USD", methodId: local.id })).toEqual({
					shipping: { id: local.id, name: "Local", price: 299, freeOver: null },
					tax: null,
				});
				expect(await call("shipping.quote", { country: "de", currency: "USD", methodId: standard.id })).toEqual({
					shipping: { id: standard.id, name: "Standard", price: 499, freeOver: 5000 },
					tax: { country: "DE", rate: 1900, shippingTaxable: false },
				});
			});

			it.each([
				["an unknown method", () => "no-such-method", "US", "USD"],
				["an inactive method", () => retired.id, "US", "USD"],
				["a method in another currency", () => euro.id, "FR", "USD"],
				["a method not shipping there", () => local.id, "fr", "USD"],
			])("refuses %s with 422 SHIPPING_NOT_AVAILABLE", async (_case, methodId, country, currency) => {
				const err = await failure(call("shipping.quote", { country, currency, methodId: methodId() }));
				expect(err).toMatchObject({
					code: 422,
					type: "SHIPPING_NOT_AVAILABLE",
					data: { shippingMethodId: methodId(), country: country.toUpperCase() },
				});
			});
		});

		describe("tax rates", () => {
			it("puts, lists and removes rates by country, admin only", async () => {
				const put = await call("shipping.putRate", { country: "fr", rate: 2000 });
				expect(put).toEqual({ country: "FR", rate: 2000, shippingTaxable: false, updatedAt: expect.any(String) });
				const replaced = await call("shipping.putRate", { country: "FR", rate: 550, shippingTaxable: true });
				expect(replaced).toMatchObject({ country: "FR", rate: 550, shippingTaxable: true });
				await call("shipping.putRate", { country: "AT", rate: 2000 });

				expect(await call("shipping.listRates", { pageSize: 1 })).toEqual({
					rows: [{ country: "AT", rate: 2000, shippingTaxable: false, updatedAt: expect.any(String) }],
					total: 2,
					page: 1,
					pageSize: 1,
					totalPages: 2,
				});
				expect((await call("shipping.listRates", { page: 2, pageSize: 1 })).rows).toEqual([replaced]);

				expect(await failure(call("shipping.putRate", { country: "AT", rate: 1 }, CUSTOMER))).toMatchObject({
					code: 403,
				});
				expect(await call("shipping.removeRate", { country: "fr" })).toEqual(replaced);
				expect(await failure(call("shipping.removeRate", { country: "FR" }))).toMatchObject({
					code: 404,
					type: "NOT_FOUND",
				});
				await call("shipping.removeRate", { country: "AT" });
				expect((await call("shipping.listRates", {})).total).toBe(0);
			});

			it.each([
				["a rate over 100 %", { country: "DE", rate: 10_001 }],
				["a negative rate", { country: "DE", rate: -1 }],
				["a fractional rate", { country: "DE", rate: 19.5 }],
				["a three-letter country", { country: "DEU", rate: 1900 }],
				["a wildcard country", { country: "*", rate: 1900 }],
			])("refuses %s with 422", async (_case, input) => {
				expect(await failure(call("shipping.putRate", input))).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
			});

			it("keeps one row per country under 20 concurrent puts, holding one of the puts", async () => {
				const rates = Array.from({ length: 20 }, (_, i) => 100 * i);
				const results = await Promise.all(
					rates.map(rate =>
						call("shipping.putRate", { country: spelling(rate), rate, shippingTaxable: rate % 200 === 0 }),
					),
				);
				expect(results.map(r => r.rate)).toEqual(rates);
				const { rows, total } = await call("shipping.listRates", { pageSize: 100 });
				expect(total).toBe(1);
				expect(rows[0].country).toBe("NL");
				expect(rates).toContain(rows[0].rate);
				expect(rows[0].shippingTaxable).toBe(rows[0].rate % 200 === 0);
				await call("shipping.removeRate", { country: "NL" });
			});
		});
	});
}

/** Alternates the spelling of one country, as concurrent admins might send it. */
function spelling(n: number): string {
	return n % 300 === 0 ? "nl" : "NL";
}

describe("shipping: seeded with the demo catalogue", () => {
	let shop: Shop | undefined;
	const call = caller(() => shop!);
	let dir: string;
	/** A node kept in files, so a restart finds what the last one left. */
	const start = async (seed: boolean) => {
		await shop?.stop();
		shop = await startShop({ services: ["shipping"], env: { SEED: String(seed), SHIPPING_DB_URI: `nedb://${dir}` } });
	};
	const methods = async () => (await call("shipping.listMethods", {})).rows.map(m => m.name);
	const rates = async () => (await call("shipping.listRates", {})).rows.map(r => [r.country, r.rate]);

	beforeAll(async () => {
		dir = await mkdtemp(path.join(os.tmpdir(), "shipping-seed-"));
	});
	afterAll(async () => {
		await shop?.stop();
		await rm(dir, { recursive: true, force: true });
	});

	it("seeds nothing when SEED is off", async () => {
		await start(false);
		expect(await methods()).toEqual([]);
		expect(await rates()).toEqual([]);
	});

	it("seeds the demo methods and rates when SEED is on", async () => {
		await start(true);
		const seeded = await call("shipping.listMethods", {});
		expect(seeded.rows.map(m => [m.name, m.price, m.currency, m.countries, m.freeOver, m.active])).toEqual([
			["Express", 1499, "USD", ["*"], null, true],
			["Standard", 499, "USD", ["*"], 5000, true],
		]);
		expect((await call("shipping.listRates", {})).rows.map(r => [r.country, r.rate, r.shippingTaxable])).toEqual([
			["DE", 1900, false],
			["FR", 2000, false],
			["GB", 2000, true],
			["US", 0, false],
		]);
		const options = await call("shipping.options", { country: "GB", currency: "USD", afterDiscount: 5000 });
		expect(options.map(o => [o.name, o.price])).toEqual([
			["Standard", 0],
			["Express", 1499],
		]);
		expect(await call("shipping.quote", { country: "gb", currency: "USD", methodId: "seed-standard" })).toEqual({
			shipping: { id: "seed-standard", name: "Standard", price: 499, freeOver: 5000 },
			tax: { country: "GB", rate: 2000, shippingTaxable: true },
		});
	});

	it("leaves a collection an admin has changed alone, and refills only an emptied one", async () => {
		await call("shipping.removeMethod", { id: "seed-express" });
		await call("shipping.putRate", { country: "DE", rate: 700 });
		await call("shipping.removeRate", { country: "US" });
		await start(true);
		expect(await methods()).toEqual(["Standard"]);
		expect(await rates()).toEqual([
			["DE", 700],
			["FR", 2000],
			["GB", 2000],
		]);

		await call("shipping.removeMethod", { id: "seed-standard" });
		await start(true);
		expect(await methods()).toEqual(["Express", "Standard"]);
		expect(await rates()).toEqual([
			["DE", 700],
			["FR", 2000],
			["GB", 2000],
		]);
	});
});
