import { describe, expect, it } from "vitest";
import { DuplicateKeyError } from "../../../lib/errors";
import type { Store, Where, Change } from "../../../lib/storage";
import type { TaxRate } from "../../../services/shipping/contract";
import { newRate } from "../../../services/shipping/shipping-rules";
import { seedEmpty, seedMethods, seedRates } from "../../../services/shipping/shipping-seed";
import { upsertRate } from "../../../services/shipping/tax-rates";

/** A one-collection store keyed by id, unique by id, that can lose a row between two calls. */
class FakeRates implements Pick<Store<TaxRate>, "insert" | "update" | "count"> {
	rows = new Map<string, TaxRate>();
	/** Removes the row right after each failed insert, so the following update finds nothing. */
	removeAfterDuplicate = 0;

	insert(doc: TaxRate): Promise<TaxRate> {
		if (this.rows.has(doc.id)) {
			if (this.removeAfterDuplicate-- > 0) this.rows.delete(doc.id);
			return Promise.reject(new DuplicateKeyError("tax_rates"));
		}
		this.rows.set(doc.id, { ...doc });
		return Promise.resolve(doc);
	}

	update(where: Where<TaxRate>, change: Change<TaxRate>): Promise<number> {
		const row = [...this.rows.values()].find(r => r.country === where.country);
		if (!row) return Promise.resolve(0);
		Object.assign(row, change.set);
		return Promise.resolve(1);
	}

	count(): Promise<number> {
		return Promise.resolve(this.rows.size);
	}
}

describe("upserting a tax rate", () => {
	it.each([
		["inserts a new country", [], 0, { rate: 1900, shippingTaxable: false }],
		["updates an existing country", [newRate({ country: "DE", rate: 1600 }, "t0")], 0, { rate: 1900 }],
		["inserts again when the row went away", [newRate({ country: "DE", rate: 1600 }, "t0")], 1, { rate: 1900 }],
	])("%s", async (_case, existing, removals, expected) => {
		const store = new FakeRates();
		for (const r of existing) store.rows.set(r.id, r);
		store.removeAfterDuplicate = removals;
		const put = newRate({ country: "de", rate: 1900 }, "t1");
		expect(await upsertRate(store, put)).toEqual(put);
		expect([...store.rows.values()]).toEqual([{ ...put, ...expected, id: "DE", country: "DE", updatedAt: "t1" }]);
	});

	it("gives up with 409 when the row vanishes after every failed insert", async () => {
		let inserts = 0;
		const store = {
			insert: () => (inserts++, Promise.reject(new DuplicateKeyError("tax_rates"))),
			update: () => Promise.resolve(0),
		};
		await expect(upsertRate(store, newRate({ country: "DE", rate: 2 }, "t1"))).rejects.toMatchObject({ code: 409 });
		expect(inserts).toBe(3);
	});

	it("propagates other store errors", async () => {
		const store = new FakeRates();
		store.insert = () => Promise.reject(new Error("down"));
		await expect(upsertRate(store, newRate({ country: "DE", rate: 2 }, "t1"))).rejects.toThrow("down");
	});
});

describe("seeding", () => {
	it("fills an empty collection once, skipping rows another node inserted", async () => {
		const store = new FakeRates();
		const rates = seedRates("t");
		expect(await seedEmpty(store, rates)).toBe(4);
		expect(await seedEmpty(store, rates)).toBe(0);
		const racing = new FakeRates();
		racing.count = () => Promise.resolve(0); // both nodes saw it empty
		racing.rows.set("FR", rates[1]);
		expect(await seedEmpty(racing, rates)).toBe(3);
		expect(racing.rows.size).toBe(4);
	});

	it("seeds the documented methods and rates", () => {
		expect(seedMethods("t").map(m => [m.id, m.name, m.price, m.currency, m.countries, m.freeOver, m.active])).toEqual([
			["seed-standard", "Standard", 499, "USD", ["*"], 5000, true],
			["seed-express", "Express", 1499, "USD", ["*"], null, true],
		]);
		expect(seedRates("t").map(r => [r.country, r.rate, r.shippingTaxable])).toEqual([
			["DE", 1900, false],
			["FR", 2000, false],
			["GB", 2000, true],
			["US", 0, false],
		]);
	});
});
