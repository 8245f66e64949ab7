import { randomUUID } from "node:crypto";
import { DuplicateKeyError } from "../../lib/errors";
import type { CollectionSpec, Store } from "../../lib/storage";
import type { InventoryAudit, ReturnedStock, StockLine, StockRecord } from "./contract";
import { newReturnedStock, returnLines, returnMarker, returnsInFlight, type ReturnMarker } from "./returns";
import { guardCondition, movements, restockStages } from "./stock";
import type { StockLedger } from "./stock-ledger";

/** A returned-stock record as stored; memory:// and MongoDB only: the marker of the restock it accounts for. */
export interface ReturnedStockRecord extends ReturnedStock {
	moves?: string[];
}

export const RETURNED_STOCK: CollectionSpec<ReturnedStockRecord> = {
	name: "returned_stock",
	fields: { returnId: "string", productId: "string", quantity: "int", moves: "json", updatedAt: "string" },
	indexes: ["returnId"],
	documentOnly: ["moves"],
};

const now = () => new Date().toISOString();

/**
 * Returns put back on the shelf, once per return and variant: the record's unique id is the idempotency check. On
 * SQL the record and the restock commit together. memory:// and MongoDB have no transaction, so the restock is staged
 * like a settlement (stock-ledger.ts): the units are counted as received but kept aside with a marker, the record
 * is inserted naming the marker, then the units become available (or, if another attempt's marker got the record,
 * are taken out again). Every step is one atomic single-document write, and a repeat of the return finishes the
 * markers an earlier attempt left (it failed or died between two steps), so the units move exactly once.
 */
export class ReturnedStockLedger {
	constructor(
		private readonly stock: Store<StockRecord>,
		private readonly returned: Store<ReturnedStockRecord>,
		private readonly ledger: StockLedger,
	) {}

	/** Puts the return's units back; returns how many units this call put back (0 for a repeat). */
	async returnStock(returnId: string, items: readonly StockLine[]): Promise<number> {
		let returned = 0;
		for (const line of returnLines(items)) {
			await this.ledger.ensure(line.productId);
			if (await this.returnLine(returnId, line)) returned += line.quantity;
		}
		return returned;
	}

	/** True when this call recorded the line. */
	private async returnLine(returnId: string, line: StockLine): Promise<boolean> {
		const record = newReturnedStock(returnId, line, now());
		if (this.stock.kind === "sql") {
			return this.stock.transaction(async tx => {
				try {
					await this.returned.insert(record, tx);
				} catch (err) {
					if (err instanceof DuplicateKeyError) return false; // this return's line is back already
					throw err;
				}
				await this.ledger.move(line.productId, movements.restock(line.quantity), tx);
				return true;
			});
		}
		let recorded = false;
		const stock = await this.stock.findOne({ productId: line.productId });
		for (const marker of returnsInFlight(record.id, stock?.moves))
			recorded = (await this.finish(record, marker)) || recorded;
		if (await this.returned.findOne({ id: record.id })) return recorded;
		const marker: ReturnMarker = { returnedId: record.id, quantity: line.quantity, token: randomUUID() };
		const { take } = restockStages(line.quantity);
		const push = { moves: returnMarker(marker) };
		await this.stock.update({ productId: line.productId }, { inc: take.inc, push, set: { updatedAt: now() } });
		return this.finish(record, marker);
	}

	/**
	 * Records the line for this marker's restock unless a record exists, then hands the units set aside on: to
	 * available if the record names this marker, else back out. The hand-over is conditional on the marker, so any
	 * number of runs apply it once. True if this call inserted the record.
	 */
	private async finish(record: ReturnedStock, marker: ReturnMarker): Promise<boolean> {
		const name = returnMarker(marker);
		let inserted = false;
		try {
			await this.returned.insert({ ...record, quantity: marker.quantity, moves: [name] });
			inserted = true;
		} catch (err) {
			if (!(err instanceof DuplicateKeyError)) throw err; // the marker stays: the next attempt finishes it
		}
		const recorded = inserted || !!(await this.returned.findOne({ id: record.id }))?.moves?.includes(name);
		const { give, giveBack } = restockStages(marker.quantity);
		const step = recorded ? give : giveBack;
		await this.stock.update(
			{ productId: record.productId, moves: name, ...guardCondition(step) },
			{ inc: step.inc, pull: { moves: name }, set: { updatedAt: now() } },
		);
		return inserted;
	}

	/** Every returned-stock record, for the invariant check. */
	async audit(): Promise<InventoryAudit["returns"]> {
		const rows = await this.returned.find({}, { sort: ["id"], limit: 10_000_000 });
		return rows.map(({ returnId, productId, quantity }) => ({ returnId, productId, quantity }));
	}
}
