import { randomUUID } from "node:crypto";
import { Errors } from "moleculer";
import type { Transaction } from "sequelize";
import { DuplicateKeyError, NotFoundError } from "../../lib/errors";
import type { CollectionSpec, Store } from "../../lib/storage";
import type { InventoryAudit, Reservation, StockLine, StockRecord } from "./contract";
import {
	SETTLEMENTS,
	moveMarker,
	movesInFlight,
	newReservation,
	settlementTo,
	type MoveMarker,
	type Settlement,
} from "./reservations";
import { guardCondition, movements, stages, type Movement } from "./stock";

/**
 * The inventory's two collections and the only writes made to them: counters change by guarded increments,
 * reservations by guarded status flips. On SQL a reservation's flip and its stock movement commit together; memory://
 * and MongoDB have no transaction, so there every write is one atomic single-document step that a retry can
 * finish (see `reserveLine` and `settle`). The rules (which movement, which flip) come from stock.ts and
 * reservations.ts.
 */
export const STOCK: CollectionSpec<StockRecord> = {
	name: "stock",
	fields: {
		productId: "string",
		available: "int",
		reserved: "int",
		sold: "int",
		received: "int",
		pending: "int",
		moves: "json",
		updatedAt: "string",
	},
	unique: ["productId"],
	documentOnly: ["pending", "moves"],
};
export const RESERVATIONS: CollectionSpec<Reservation> = {
	name: "reservations",
	fields: {
		orderId: "string",
		productId: "string",
		quantity: "int",
		status: "string",
		moves: "json",
		updatedAt: "string",
	},
	indexes: ["orderId"],
	documentOnly: ["moves"],
};

/** A line the stock cannot cover; the reserve action turns the shortages into OUT_OF_STOCK. */
export class Shortage extends Error {}

/**
 * The counters do not hold what a reservation says they hold. Retryable: off SQL a duplicate settlement in flight
 * may hold the units aside for a moment; if it persists, the invariant check reports the product.
 */
export class StockInconsistentError extends Errors.MoleculerRetryableError {
	constructor(data: { reservationId: string; productId: string; quantity: number; status: string }) {
		super("Stock counters do not cover the reservation", 500, "STOCK_INCONSISTENT", data);
	}
}

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

	/** Every reservation of the order. */
	holdings(orderId: string): Promise<Reservation[]> {
		return this.reservations.find({ orderId }, { limit: 1000 });
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
	 * Holds every line of the order or none: returns the lines the stock could not cover (empty when all are held).
	 * Reserving the order again holds nothing more. `lines` come in `reservationOrder`.
	 */
	async reserve(orderId: string, lines: StockLine[]): Promise<StockLine[]> {
		if (this.stock.kind === "sql") {
			const short = await this.reserveAllInTransaction(orderId, lines);
			if (short) return short;
		}
		const short: StockLine[] = [];
		for (const line of lines) {
			try {
				await this.reserveLine(orderId, line);
			} catch (err) {
				if (!(err instanceof Shortage)) {
					await this.settle(orderId, SETTLEMENTS.release);
					throw err;
				}
				short.push(line);
			}
		}
		if (short.length) await this.settle(orderId, SETTLEMENTS.release);
		return short;
	}

	/**
	 * SQL: every line in one transaction, which a shortage rolls back whole (one round trip per statement, none to
	 * give lines back). The short lines, or null when the order holds a line already (a retry, or a concurrent run of
	 * it): the line-by-line path then takes what is left.
	 */
	private async reserveAllInTransaction(orderId: string, lines: StockLine[]): Promise<StockLine[] | null> {
		const short: StockLine[] = [];
		try {
			await this.stock.transaction(async tx => {
				for (const line of lines) {
					await this.reservations.insert(newReservation(orderId, line, now()), tx);
					if (!(await this.move(line.productId, movements.reserve(line.quantity), tx))) short.push(line);
				}
				if (short.length) throw new Shortage();
			});
			return [];
		} catch (err) {
			if (err instanceof Shortage) return short;
			if (err instanceof DuplicateKeyError) return null;
			throw err;
		}
	}

	/** Holds one line of an order; reserving it again has no further effect, a shortage throws Shortage. */
	private async reserveLine(orderId: string, line: StockLine): Promise<void> {
		if (this.stock.kind === "sql") return this.reserveLineInTransaction(orderId, line);
		// No transaction: the stock moves first, then the row records it. A concurrent run of the same order that
		// finds the row inserted first gives its own move back, so the line is held once and only with its stock.
		const reservation = newReservation(orderId, line, now());
		const marker = moveMarker({ reservationId: reservation.id, to: "RESERVED", token: randomUUID() });
		const row = { ...reservation, moves: [marker] };
		if (await this.reservations.findOne({ id: row.id })) return;
		if (!(await this.move(line.productId, movements.reserve(line.quantity)))) {
			if (await this.reservations.findOne({ id: row.id })) return; // a concurrent run of the order holds it
			throw new Shortage();
		}
		try {
			await this.reservations.insert(row);
		} catch (err) {
			// An insert answered with an error may still have applied: the move stays only if the row records it.
			const duplicate = err instanceof DuplicateKeyError;
			if (!duplicate && (await this.reservations.findOne({ id: row.id }))?.moves?.includes(marker)) return;
			// The exact inverse of the move just made, unguarded: a settlement in flight may hold reserved units aside.
			await this.move(line.productId, { inc: movements.release(line.quantity).inc });
			if (!duplicate) throw err;
		}
	}

	/** SQL: the row and the stock movement commit together; a concurrent run waits on the row's key. */
	private async reserveLineInTransaction(orderId: string, line: StockLine): Promise<void> {
		await this.stock.transaction(async tx => {
			try {
				await this.reservations.insert(newReservation(orderId, line, now()), tx);
			} catch (err) {
				if (err instanceof DuplicateKeyError) return; // this line is already held for this order
				throw err;
			}
			if (!(await this.move(line.productId, movements.reserve(line.quantity), tx))) throw new Shortage();
		});
	}

	/**
	 * Moves every reservation of the order from the settlement's status to the next, applying its stock movement
	 * once; returns how many this call moved. Nothing to move is 0, not an error (commit checks the lines itself).
	 */
	async settle(orderId: string, settlement: Settlement, holdings?: Reservation[]): Promise<number> {
		if (this.stock.kind === "sql") return this.settleInTransaction(orderId, settlement, holdings);
		const rows = await this.holdings(orderId);
		if (rows.length === 0) return 0;
		const productIds = [...new Set(rows.map(row => row.productId))];
		const stock = await this.stock.find({ productId: { $in: productIds } }, { limit: productIds.length });
		const inFlight = new Map(stock.map(record => [record.productId, record.moves]));
		let moved = 0;
		for (const row of rows) {
			// First finish what an earlier attempt left in flight (it failed or died between two writes).
			let status = row.status;
			for (const marker of movesInFlight(row.id, inFlight.get(row.productId))) {
				const earlier = settlementTo(marker.to);
				if (!earlier) continue;
				if ((await this.finishMove(row, marker, earlier)) && earlier.to === settlement.to) moved++;
				status = (await this.reservations.findOne({ id: row.id }))?.status ?? status;
			}
			if (status === settlement.from && (await this.settleRow(row, settlement))) moved++;
		}
		return moved;
	}

	/**
	 * Off SQL, one reservation's settlement in three atomic steps: the units go aside (`pending`, with the move's
	 * marker), the reservation's status flips recording the marker, the units go on. A failure between any two
	 * leaves the marker, and the next settle of the order finishes the move (`finishMove`).
	 */
	private async settleRow(row: Reservation, settlement: Settlement): Promise<boolean> {
		const marker: MoveMarker = { reservationId: row.id, to: settlement.to, token: randomUUID() };
		const { take } = stages(settlement.movement(row.quantity));
		const taken = await this.stock.update(
			{ productId: row.productId, ...guardCondition(take) },
			{ inc: take.inc, push: { moves: moveMarker(marker) }, set: { updatedAt: now() } },
		);
		if (!taken) {
			// Fine if another run settled the reservation meanwhile; otherwise the counters do not hold it.
			if ((await this.reservations.findOne({ id: row.id }))?.status !== settlement.from) return false;
			const { id: reservationId, productId, quantity } = row;
			throw new StockInconsistentError({ reservationId, productId, quantity, status: settlement.from });
		}
		return this.finishMove(row, marker, settlement);
	}

	/**
	 * Flips the reservation to the move's status if it has not moved on; then hands the units set aside to their
	 * target if the reservation records this move, or back to their source if another move settled it. Each step is
	 * conditional (on the status, on the marker), so any number of runs apply each once. True if this call flipped.
	 */
	private async finishMove(row: Reservation, marker: MoveMarker, settlement: Settlement): Promise<boolean> {
		const name = moveMarker(marker);
		const flip = { set: { status: settlement.to, updatedAt: now() }, push: { moves: name } };
		const flipped = (await this.reservations.update({ id: row.id, status: settlement.from }, flip)) === 1;
		const recorded = flipped || !!(await this.reservations.findOne({ id: row.id }))?.moves?.includes(name);
		const { give, giveBack } = stages(settlement.movement(row.quantity));
		const step = recorded ? give : giveBack;
		await this.stock.update(
			{ productId: row.productId, moves: name, ...guardCondition(step) },
			{ inc: step.inc, pull: { moves: name }, set: { updatedAt: now() } },
		);
		return flipped;
	}

	/**
	 * SQL: all rows of the order in one transaction, two statements each; the order settles whole. `holdings`: the
	 * order's reservations as the caller has just read them (the flips are conditional, so they need not be fresher).
	 */
	private async settleInTransaction(
		orderId: string,
		{ from, to, movement }: Settlement,
		holdings?: Reservation[],
	): Promise<number> {
		const rows = holdings
			? holdings.filter(row => row.status === from)
			: await this.reservations.find({ orderId, status: from }, { limit: 1000 });
		if (rows.length === 0) return 0;
		return this.stock.transaction(async tx => {
			let moved = 0;
			for (const row of rows) {
				// The status flip is the idempotency check: only one caller wins it.
				const flip = { set: { status: to, updatedAt: now() } };
				if (!(await this.reservations.update({ id: row.id, status: from }, flip, tx))) continue;
				if (!(await this.move(row.productId, movement(row.quantity), tx))) {
					const { id: reservationId, productId, quantity } = row;
					throw new StockInconsistentError({ reservationId, productId, quantity, status: from });
				}
				moved++;
			}
			return moved;
		});
	}

	/** Every stock counter, and one page of the reservations (by id), for the invariant check. */
	async audit(offset: number, limit: number): Promise<Omit<InventoryAudit, "returns">> {
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
