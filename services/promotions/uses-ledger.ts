import { DuplicateKeyError } from "../../lib/errors";
import type { CollectionSpec, Doc, Store, Where } from "../../lib/storage";
import type { Promotion } from "./contract";
import { SLOT_WINDOW, freeSlots, slotWindows, type UsesHeld } from "./promotion-rules";

/**
 * The uses of discount codes, held like stock: each use is a row, so taking one is a single insert and giving it back
 * a delete, with nothing to resume after a crash. A limited code's use holds one of its `usageLimit` slots, a unique
 * key `<promotionId>:<k>` with k < usageLimit: the database refuses a second holder of a slot, on every node at once,
 * so the limit holds under any concurrency without a read-then-write. A per-customer limit works the same way with
 * the slots `<promotionId>:<userId>:<k>`, k < perCustomerLimit.
 *
 * An order holds at most one row of each kind, their ids being `<orderId>:USE` and `<orderId>:CUSTOMER`: a retry, or
 * a concurrent run of the same order, finds its own rows instead of taking a second use.
 */

/**
 * USE: the order's use of the code (what `timesUsed` counts); CUSTOMER: its slot of the per-customer limit;
 * RELEASED: the order gave its code back for good (failed or cancelled), so a reserve arriving late holds nothing.
 */
export type UseKind = "USE" | "CUSTOMER" | "RELEASED";

export interface PromotionUse extends Doc {
	orderId: string;
	promotionId: string;
	/** The code as it was when used (an order keeps the code it was priced with). */
	code: string;
	userId: string;
	kind: UseKind;
	/** The slot held, unique; null for the use of a code without a usage limit. */
	slot: string | null;
	/** The slot's number k. */
	k: number | null;
	createdAt: string;
}

export const PROMOTION_USES: CollectionSpec<PromotionUse> = {
	name: "promotion_uses",
	fields: {
		orderId: "string",
		promotionId: "string",
		code: "string",
		userId: "string",
		kind: "string",
		slot: "string",
		k: "int",
		createdAt: "string",
	},
	unique: ["slot"],
	indexes: ["orderId", "promotionId", "userId"],
};

/** Which limit refused a use. */
export type Refusal = "EXHAUSTED" | "CUSTOMER_LIMIT";

const rowId = (orderId: string, kind: UseKind) => `${orderId}:${kind}`;

export class UsesLedger {
	constructor(private readonly uses: Store<PromotionUse>) {}

	/** How many orders hold a use of the promotion. */
	timesUsed(promotionId: string): Promise<number> {
		return this.uses.count({ promotionId, kind: "USE" });
	}

	/** How many orders of this customer hold a use of the promotion. */
	usesBy(promotionId: string, userId: string): Promise<number> {
		return this.uses.count({ promotionId, kind: "USE", userId });
	}

	/** The uses held that a check compares with the promotion's limits (counted only when it has the limit). */
	async held(promotion: Promotion, userId?: string): Promise<UsesHeld> {
		return {
			total: promotion.usageLimit === null ? 0 : await this.timesUsed(promotion.id),
			customer: promotion.perCustomerLimit === null || !userId ? 0 : await this.usesBy(promotion.id, userId),
		};
	}

	/** What the order holds (its use, its customer slot), of any code. */
	rowsOf(orderId: string): Promise<PromotionUse[]> {
		return this.uses.find({ orderId });
	}

	/**
	 * Holds one use of `promotion` for the order, or says which limit refused (nothing is held then); `rows` are the
	 * order's (`rowsOf`). An order holding a use of it already holds nothing more; one holding a use of another code
	 * gives that back first.
	 */
	async take(promotion: Promotion, orderId: string, userId: string, rows: PromotionUse[]): Promise<Refusal | null> {
		if (rows.some(row => row.promotionId !== promotion.id)) await this.giveBack(orderId);
		else if (rows.some(row => row.kind === "USE")) return null;
		const base = {
			orderId,
			promotionId: promotion.id,
			code: promotion.code,
			userId,
			createdAt: new Date().toISOString(),
		};
		const customerRow = { ...base, id: rowId(orderId, "CUSTOMER"), kind: "CUSTOMER" as const };
		const useRow = { ...base, id: rowId(orderId, "USE"), kind: "USE" as const };
		const limit = promotion.perCustomerLimit;
		// A crashed earlier run may have left the customer slot: it is this order's, keep it.
		const ownSlot = rows.some(row => row.id === customerRow.id && row.promotionId === promotion.id);
		let tookSlot = false;
		if (limit !== null && !ownSlot) {
			const mine = await this.heldBefore(limit, () => this.usesBy(promotion.id, userId));
			const scope: Where<PromotionUse> = { promotionId: promotion.id, kind: "CUSTOMER", userId };
			if (mine >= limit || !(await this.takeSlot(customerRow, scope, `${promotion.id}:${userId}`, limit, mine)))
				return "CUSTOMER_LIMIT";
			tookSlot = true;
		}
		if (promotion.usageLimit === null) {
			// Without a slot only the id can be a duplicate: a concurrent run of the same order holds the use.
			await this.inserted({ ...useRow, slot: null, k: null });
			return null;
		}
		if (await this.takeUse(useRow, promotion.id, promotion.usageLimit)) return null;
		if (tookSlot || ownSlot) await this.uses.remove({ id: customerRow.id });
		return "EXHAUSTED";
	}

	private async takeUse(row: Omit<PromotionUse, "slot" | "k">, promotionId: string, limit: number): Promise<boolean> {
		const held = await this.heldBefore(limit, () => this.timesUsed(promotionId));
		return held < limit && this.takeSlot(row, { promotionId, kind: "USE" }, promotionId, limit, held);
	}

	/**
	 * The uses held before taking a slot, where counting them pays: with more slots than one window, to start where
	 * the free ones likely are and to refuse a full code without reading every window. Up to one window, reading it
	 * tells as much (0: start at slot 0); uses held outside the slots are then caught by `verify`.
	 */
	private heldBefore(limit: number, count: () => Promise<number>): Promise<number> {
		return limit > SLOT_WINDOW ? count() : Promise.resolve(0);
	}

	/**
	 * Inserts `row` into a free slot `<prefix>:<k>` of `scope`, k < limit, one that looked free when its window was
	 * read; an insert refused by the unique key means another order took that slot first, and the window is read
	 * again. Racers pick at random among the free slots, so that a round of them fills every free slot rather than
	 * all trying the lowest. False when every slot is taken.
	 *
	 * A concurrent run of the same order holds the row's id: its row shows up in the window, or the slot refused
	 * still looks free (the id was the duplicate key).
	 */
	private async takeSlot(
		row: Omit<PromotionUse, "slot" | "k">,
		scope: Where<PromotionUse>,
		prefix: string,
		limit: number,
		held: number,
	): Promise<boolean> {
		for (const [from, to] of slotWindows(held, limit)) {
			let refused: number | null = null;
			for (;;) {
				const taken = await this.uses.find({ ...scope, k: { $gte: from, $lt: to } });
				if (taken.some(t => t.id === row.id)) return true;
				const free = freeSlots(
					taken.map(t => t.k ?? -1),
					from,
					to,
				);
				if (refused !== null && free.includes(refused) && (await this.uses.findOne({ id: row.id }))) return true;
				if (!free.length) break;
				const k = free[Math.floor(Math.random() * free.length)];
				if (await this.inserted({ ...row, slot: `${prefix}:${k}`, k })) return true;
				refused = k;
			}
		}
		return false;
	}

	/** False when a unique key (the row's id or slot) is taken. */
	private async inserted(row: PromotionUse): Promise<boolean> {
		try {
			await this.uses.insert(row);
			return true;
		} catch (err) {
			if (err instanceof DuplicateKeyError) return false;
			throw err;
		}
	}

	/**
	 * After a use was taken: uses held from before a limit was set or lowered sit outside the slots, so a free slot
	 * does not prove room. Gives the order's use back when the holders exceed a limit. Without such uses the slots
	 * hold every limit and this never refuses; with them, racers may all give theirs back (none is lost, a later
	 * checkout succeeds), but never all keep theirs.
	 */
	async verify(promotion: Promotion, orderId: string, userId: string): Promise<Refusal | null> {
		let refusal: Refusal | null = null;
		if (promotion.usageLimit !== null && (await this.timesUsed(promotion.id)) > promotion.usageLimit)
			refusal = "EXHAUSTED";
		else if (
			promotion.perCustomerLimit !== null &&
			(await this.usesBy(promotion.id, userId)) > promotion.perCustomerLimit
		)
			refusal = "CUSTOMER_LIMIT";
		if (refusal) await this.giveBack(orderId);
		return refusal;
	}

	/**
	 * The order gave up: marks it released, then gives back what it holds; the number of uses given back (0 or 1).
	 * The marker comes first and a reserve looks for it after taking its use (`wasReleased`), so a reserve that
	 * arrives after the release (its call timed out and the saga moved on) gives its use back: none is left held.
	 */
	async release(orderId: string): Promise<number> {
		const marker = { orderId, promotionId: "", code: "", userId: "", slot: null, k: null };
		await this.inserted({
			...marker,
			id: rowId(orderId, "RELEASED"),
			kind: "RELEASED",
			createdAt: new Date().toISOString(),
		});
		return this.giveBack(orderId);
	}

	/** Whether the order was released (its saga gave the code back for good). */
	async wasReleased(orderId: string): Promise<boolean> {
		return (await this.uses.findOne({ id: rowId(orderId, "RELEASED") })) !== null;
	}

	/** Gives back the order's use and customer slot; the number of uses given back (0 or 1). */
	async giveBack(orderId: string): Promise<number> {
		// The use first: a customer slot left by a crash in between is freed by the next release.
		const released = await this.uses.remove({ orderId, kind: "USE" });
		await this.uses.remove({ orderId, kind: "CUSTOMER" });
		return released;
	}

	/** The uses held, by row id, for the invariant check. */
	async audit(offset: number, limit: number): Promise<{ orderId: string; code: string; userId: string }[]> {
		const rows = await this.uses.find({ kind: "USE" }, { sort: ["id"], offset, limit });
		return rows.map(({ orderId, code, userId }) => ({ orderId, code, userId }));
	}
}
