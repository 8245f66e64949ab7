import { ConflictError, DuplicateKeyError } from "../../lib/errors";
import type { Store } from "../../lib/storage";
import type { TaxRate } from "./contract";

/** A removal that slips between a failed insert and its update makes the upsert insert again, at most this often. */
const UPSERT_ATTEMPTS = 3;

/**
 * Sets a country's rate, creating it when missing: an insert, and on the duplicate key (the country is unique) an
 * update of that row. Never read-then-write, so concurrent puts of one country leave one row, the last put's.
 */
export async function upsertRate(store: Pick<Store<TaxRate>, "insert" | "update">, rate: TaxRate): Promise<TaxRate> {
	const { id: _id, country, ...set } = rate;
	for (let attempt = 0; attempt < UPSERT_ATTEMPTS; attempt++) {
		try {
			return await store.insert(rate);
		} catch (err) {
			if (!(err instanceof DuplicateKeyError)) throw err;
		}
		if ((await store.update({ country }, { set })) > 0) return rate;
	}
	throw new ConflictError(`The tax rate of ${country} is being changed concurrently; try again`);
}
