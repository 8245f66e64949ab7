import type { Transaction } from "sequelize";
import { DuplicateKeyError, NotFoundError } from "../../lib/errors";
import type { CollectionSpec, Store } from "../../lib/storage";
import type { InventoryAudit, Reservation, StockLine, StockRecord } from "./contract";
import { newReservation, type Settlement } from "./reservations";
import { guardCondition, movements, type Movement } from "./stock";

/**
 * The inventory's two collections and the only writes made to them: counters change by guarded increments,
 * reservations by guarded status flips, and on SQL a reservation's flip and its stock movement commit together.
 * The rules (which movement, which flip) come from stock.ts and reservations.ts.
 */
export const STOCK: CollectionSpec<StockRecord> = {
	name: "stock",
	fields: { productId: "string", available: "int", reserved: "int", sold: "int", received: "int", updatedAt: "string" },
	unique: ["productId"],
};
export const RESERVATIONS: CollectionSpec<Reservation> = {
	name: "reservations",
	fields: { orderId: "string", productId: "string", quantity: "int", status: "string", updatedAt: "string" },
	indexes: ["orderId"],
};

/** A line the stock cannot cover; the reserve action turns the shortages into OUT_OF_STOCK. */
export class Shortage extends Error {}

const now = () => new Date().toISOString();

export class StockLedger {
	constructor(
		private readonly stock: Store<StockRecord>,
		private readonly reservations: Store<Reservation>,
	) {}

	async find(productId: string): Promise<StockRecord> {
		const doc = await this.stock.findOne({ productId });
		if (!doc) throw new NotFoundError("Stock for product", { productId });
		return doc;
	}

	/** What is available of the product; undefined when it has no counters. */
	async availableOf(productId: string): Promise<number | undefined> {
		return (await this.stock.findOne({ productId }))?.available;
	}

	/** What is available of each product, in one query; products without counters are left out. */
	async available(productIds: string[]): Promise<Map<string, number>> {
		const stock = await this.stock.find({ productId: { $in: productIds } }, { limit: productIds.length });
		return new Map(stock.map(row => [row.productId, row.available]));
	}

	/** Creates the product's counters at zero if they do not exist yet. */
	async ensure(productId: string): Promise<void> {
		const counters = { available: 0, reserved: 0, sold: 0, received: 0 };
		try {
			await this.stock.insert({ id: productId, productId, ...counters, updatedAt: now() });
		} catch (err) {
			if (!(err instanceof DuplicateKeyError)) throw err;
		}
	}

	/** One guarded, atomic counter update; false when the guard did not hold. */
	async move(productId: string, movement: Movement, tx?: Transaction): Promise<boolean> {
		const where = { productId, ...guardCondition(movement) };
		return (await this.stock.update(where, { inc: movement.inc, set: { updatedAt: now() } }, tx)) === 1;
	}

	/**
	 * Sets the available level; the difference counts as received. Compare-and-set on the current level keeps
	 * `received` exact under concurrent writers. Returns the level it replaced.
	 */
	async setAvailable(productId: string, available: number): Promise<number> {
		for (;;) {
			const current = await this.find(productId);
			const applied = await this.stock.update(
				{ productId, available: current.available },
				{ set: { available, updatedAt: now() }, inc: { received: available - current.available } },
			);
			if (applied) return current.available;
		}
	}

	/**
	 * Holds one line of an order; reserving it again has no further effect, a shortage throws Shortage. The row and
	 * the stock movement commit together in one SQL transaction; without transactions the row is inserted first and
	 * removed again on a shortage (issue #17 changes this order).
	 */
	async reserveLine(orderId: string, line: StockLine): Promise<void> {
		await this.stock.transaction(async tx => {
			const row = newReservation(orderId, line, now());
			try {
				await this.reservations.insert(row, tx);
			} catch (err) {
				if (err instanceof DuplicateKeyError) return; // this line is already held for this order
				throw err;
			}
			if (!(await this.move(line.productId, movements.reserve(line.quantity), tx))) {
				if (!tx) await this.reservations.remove({ id: row.id });
				throw new Shortage();
			}
		});
	}

	/**
	 * Moves every reservation of the order from the settlement's status to the next, applying its stock movement
	 * once; returns how many moved. All rows of the order go in one SQL transaction: two statements fewer per extra
	 * line, and the order settles whole. Nothing to move is 0, not an error (issue #17 makes commit check the lines).
	 */
	async settle(orderId: string, { from, to, movement }: Settlement): Promise<number> {
		const rows = await this.reservations.find({ orderId, status: from }, { limit: 1000 });
		if (rows.length === 0) return 0;
		return this.stock.transaction(async tx => {
			let moved = 0;
			for (const row of rows) {
				// The status flip is the idempotency check: only one caller wins it.
				const flip = { set: { status: to, updatedAt: now() } };
				if (!(await this.reservations.update({ id: row.id, status: from }, flip, tx))) continue;
				if (!(await this.move(row.productId, movement(row.quantity), tx)))
					throw new Error(`Stock counters of ${row.productId} do not cover reservation ${row.id}`);
				moved++;
			}
			return moved;
		});
	}

	/** Every stock counter, and one page of the reservations (by id), for the invariant check. */
	async audit(offset: number, limit: number): Promise<InventoryAudit> {
		const [stock, reservations] = await Promise.all([
			this.stock.find({}, { limit: 1_000_000 }),
			this.reservations.find({}, { sort: ["id"], offset, limit }),
		]);
		return {
			stock: stock.map(({ productId, available, reserved, sold, received }) => ({
				productId,
				available,
				reserved,
				sold,
				received,
			})),
			reservations: reservations.map(({ orderId, productId, quantity, status }) => ({
				orderId,
				productId,
				quantity,
				status,
			})),
		};
	}
}
