import { DuplicateKeyError } from "../../lib/errors";
import type { CollectionSpec, Doc, Store, Where } from "../../lib/storage";
import type { Promotion } from "./contract";
import { freeSlots, slotWindows, type UsesHeld } from "./promotion-rules";

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

/** USE: the order's use of the code (what `timesUsed` counts); CUSTOMER: its slot of the per-customer limit. */
export type UseKind = "USE" | "CUSTOMER";

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

	/** The use the order holds, if any. */
	heldBy(orderId: string): Promise<PromotionUse | null> {
		return this.uses.findOne({ id: rowId(orderId, "USE") });
	}

	/**
	 * Holds one use of `promotion` for the order, or says which limit refused (nothing is held then). An order holding
	 * a use of it already holds nothing more; one holding a use of another code gives that back first.
	 */
	async take(promotion: Promotion, orderId: string, userId: string): Promise<Refusal | null> {
		const rows = await this.uses.find({ orderId });
		if (rows.some(row => row.promotionId !== promotion.id)) await this.release(orderId);
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
		if (limit !== null && !rows.some(row => row.id === customerRow.id && row.promotionId === promotion.id)) {
			const mine = await this.usesBy(promotion.id, userId);
			const scope: Where<PromotionUse> = { promotionId: promotion.id, kind: "CUSTOMER", userId };
			if (mine >= limit || !(await this.takeSlot(customerRow, scope, `${promotion.id}:${userId}`, limit, mine)))
				return "CUSTOMER_LIMIT";
		}
		const taken =
			promotion.usageLimit === null
				? await this.insertOwn({ ...useRow, slot: null, k: null })
				: await this.takeUse(useRow, promotion.id, promotion.usageLimit);
		if (taken) return null;
		await this.uses.remove({ id: customerRow.id });
		return "EXHAUSTED";
	}

	private async takeUse(row: Omit<PromotionUse, "slot" | "k">, promotionId: string, limit: number): Promise<boolean> {
		const held = await this.timesUsed(promotionId);
		return held < limit && this.takeSlot(row, { promotionId, kind: "USE" }, promotionId, limit, held);
	}

	/**
	 * Inserts `row` into a free slot `<prefix>:<k>` of `scope`, k < limit, trying those that look free; an insert
	 * refused by the unique key means another order took that slot first. False when every slot is taken.
	 */
	private async takeSlot(
		row: Omit<PromotionUse, "slot" | "k">,
		scope: Where<PromotionUse>,
		prefix: string,
		limit: number,
		held: number,
	): Promise<boolean> {
		for (const [from, to] of slotWindows(held, limit)) {
			const taken = await this.uses.find({ ...scope, k: { $gte: from, $lt: to } });
			for (const k of freeSlots(
				taken.map(t => t.k ?? -1),
				from,
				to,
				held,
			))
				if (await this.insertOwn({ ...row, slot: `${prefix}:${k}`, k })) return true;
		}
		return false;
	}

	/** True when the row is in: inserted now, or already there under its id (a concurrent run of the same order). */
	private async insertOwn(row: PromotionUse): Promise<boolean> {
		try {
			await this.uses.insert(row);
			return true;
		} catch (err) {
			if (!(err instanceof DuplicateKeyError)) throw err;
			return (await this.uses.findOne({ id: row.id })) !== null;
		}
	}

	/**
	 * After a use was taken, with the promotion as it is now: uses held from before a limit was set or lowered sit
	 * outside the slots, so a free slot does not prove room. Gives the order's use back when the holders exceed a
	 * limit (a slot holds the limit whenever there are no such uses, and this never refuses then).
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
		if (refusal) await this.release(orderId);
		return refusal;
	}

	/** Gives back everything the order holds; the number of uses given back (0 or 1). */
	async release(orderId: string): Promise<number> {
		// The use first: a customer slot left by a crash in between is freed by the next release.
		const released = await this.uses.remove({ orderId, kind: "USE" });
		await this.uses.remove({ orderId });
		return released;
	}

	/** The uses held, by row id, for the invariant check. */
	async audit(offset: number, limit: number): Promise<{ orderId: string; code: string; userId: string }[]> {
		const rows = await this.uses.find({ kind: "USE" }, { sort: ["id"], offset, limit });
		return rows.map(({ orderId, code, userId }) => ({ orderId, code, userId }));
	}
}
