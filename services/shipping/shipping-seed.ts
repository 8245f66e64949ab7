import { DuplicateKeyError } from "../../lib/errors";
import type { Doc, Store } from "../../lib/storage";
import type { ShippingMethod, TaxRate } from "./contract";
import { newMethod, newRate } from "./shipping-rules";

/**
 * The demo shop's shipping methods and tax rates (README "Money rules"), seeded with the demo catalogue. Fixed ids, so
 * shipping nodes seeding at once insert each only once.
 */
export function seedMethods(now: string): ShippingMethod[] {
	return [
		newMethod(
			{ name: "Standard", price: 499, currency: "USD", countries: ["*"], freeOver: 5000 },
			"seed-standard",
			now,
		),
		newMethod({ name: "Express", price: 1499, currency: "USD", countries: ["*"] }, "seed-express", now),
	];
}

export function seedRates(now: string): TaxRate[] {
	return [
		newRate({ country: "DE", rate: 1900 }, now),
		newRate({ country: "FR", rate: 2000 }, now),
		newRate({ country: "GB", rate: 2000, shippingTaxable: true }, now),
		newRate({ country: "US", rate: 0 }, now),
	];
}

/** Inserts `docs` into an empty collection (one an admin has filled is left alone); returns how many it inserted. */
export async function seedEmpty<T extends Doc>(store: Pick<Store<T>, "count" | "insert">, docs: T[]): Promise<number> {
	if ((await store.count({})) > 0) return 0;
	let inserted = 0;
	for (const doc of docs) {
		try {
			await store.insert(doc);
			inserted++;
		} catch (err) {
			if (!(err instanceof DuplicateKeyError)) throw err; // another shipping node seeded it
		}
	}
	return inserted;
}
