// Returns of part of an order: what may be returned and until when, what each return gives back, and the order's
// status after a receipt. Pure; services/orders/return-flow.ts stores and moves returns by these rules.
import { UnprocessableError } from "../../lib/errors";
import type { CollectionSpec } from "../../lib/storage";
import type { Order, OrderItem, OrderReturn, ReturnItem, ReturnStatus, ReturnView } from "./contract";
import type { OrderStatus } from "./order-state";
import { stockKey, type VariantQuantity } from "./pricing";
import { refundOfUnits, type RefundableLine } from "./totals";

export const DAY_MS = 86_400_000;

/** The statuses an order may be returned from. */
export const RETURNABLE_STATUSES: readonly OrderStatus[] = ["SHIPPED", "DELIVERED", "PARTIALLY_RETURNED"];
/** Returns that hold units of the order: a REJECTED one holds nothing. */
export const HOLDING: readonly ReturnStatus[] = ["REQUESTED", "RECEIVED"];

/**
 * A return as stored. `slot` (`<orderId>:<n>`: the order's n-th return) and `receipt` (`<orderId>:<n>`: its n-th
 * receipt, null before) are unique: a request or a receipt takes the number after those it has read, so of two that
 * read the same returns only one is written and the other reads again. That keeps concurrent requests from holding
 * more than was bought, and receipts in one sequence, on every store without a transaction.
 */
export interface StoredReturn extends OrderReturn {
	slot: string;
	receipt: string | null;
}

export const RETURNS: CollectionSpec<StoredReturn> = {
	name: "returns",
	fields: {
		orderId: "string",
		userId: "string",
		status: "string",
		items: "json",
		refundAmount: "money",
		currency: "string",
		reason: "text",
		refundStatus: "string",
		slot: "string",
		receipt: "string",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["slot", "receipt"],
	indexes: ["orderId", "status", "createdAt", "updatedAt"],
};

export function returnView(stored: StoredReturn): ReturnView {
	const { slot, receipt, ...rest } = stored;
	return rest;
}

/**
 * The order as returns read it. Orders placed before totals existed have none, and lines without discount or tax
 * (their refunds are their unit prices); orders shipped before `shippedAt` existed count from their last change.
 */
export type ReturnableOrder = Pick<Order, "status" | "items" | "shippedAt" | "deliveredAt" | "updatedAt"> & {
	totals?: Order["totals"] | null;
};
export type HeldReturn = Pick<OrderReturn, "status" | "items">;

export type ReturnRefusal = "STATUS" | "WINDOW_CLOSED" | "UNKNOWN_VARIANT" | "QUANTITY";

function refused(reason: ReturnRefusal, message: string, details: Record<string, unknown>): UnprocessableError {
	return new UnprocessableError(message, "RETURN_NOT_ALLOWED", { reason, ...details });
}

/** Units of each variant in the returns whose status is one of `statuses`. */
export function unitsIn(returns: readonly HeldReturn[], statuses: readonly ReturnStatus[]): Map<string, number> {
	const units = new Map<string, number>();
	for (const r of returns)
		if (statuses.includes(r.status))
			for (const item of r.items) units.set(item.variantId, (units.get(item.variantId) ?? 0) + item.quantity);
	return units;
}

/** Units bought of each variant. */
function bought(order: ReturnableOrder): Map<string, number> {
	return new Map(order.items.map(item => [stockKey(item), item.quantity]));
}

/** One line per variant, quantities added up. */
export function mergeReturnLines(lines: readonly VariantQuantity[]): VariantQuantity[] {
	const byVariant = new Map<string, number>();
	for (const l of lines) byVariant.set(l.variantId, (byVariant.get(l.variantId) ?? 0) + l.quantity);
	return [...byVariant].map(([variantId, quantity]) => ({ variantId, quantity }));
}

/** When the return window closes (ms): `windowDays` after delivery, after shipping while not delivered. */
export function windowClosesAt(order: ReturnableOrder, windowDays: number): number {
	return Date.parse(order.deliveredAt ?? order.shippedAt ?? order.updatedAt) + windowDays * DAY_MS;
}

/**
 * The lines (one per variant) of a return the order allows at `now`, given its earlier `returns`; else 422
 * RETURN_NOT_ALLOWED with `data.reason`: STATUS (not SHIPPED, DELIVERED or PARTIALLY_RETURNED), WINDOW_CLOSED,
 * UNKNOWN_VARIANT (not in the order), QUANTITY (more than bought minus what REQUESTED and RECEIVED returns hold).
 */
export function checkReturn(
	order: ReturnableOrder,
	returns: readonly HeldReturn[],
	lines: readonly VariantQuantity[],
	now: number,
	windowDays: number,
): VariantQuantity[] {
	if (!RETURNABLE_STATUSES.includes(order.status))
		throw refused("STATUS", `An order that is ${order.status} cannot be returned`, { status: order.status });
	const closesAt = windowClosesAt(order, windowDays);
	if (now > closesAt)
		throw refused("WINDOW_CLOSED", `Returns closed ${windowDays} days after delivery`, {
			closedAt: new Date(closesAt).toISOString(),
		});
	const merged = mergeReturnLines(lines);
	const inOrder = bought(order);
	const unknown = merged.filter(l => !inOrder.has(l.variantId)).map(l => l.variantId);
	if (unknown.length) throw refused("UNKNOWN_VARIANT", "These variants are not in the order", { variantIds: unknown });
	const held = unitsIn(returns, HOLDING);
	const over = merged
		.map(l => ({
			variantId: l.variantId,
			requested: l.quantity,
			returnable: inOrder.get(l.variantId)! - (held.get(l.variantId) ?? 0),
		}))
		.filter(l => l.requested > l.returnable);
	if (over.length) throw refused("QUANTITY", "More units than are left to return", { lines: over });
	return merged;
}

function refundable(item: OrderItem): RefundableLine {
	// Lines of orders placed before totals existed carry no discount or tax.
	const { unitPrice, quantity, discount = 0, tax = 0 } = item as Partial<OrderItem> & RefundableLine;
	return { unitPrice, quantity, discount, tax };
}

/** What shipping cost with its tax (the order's tax not on its lines): given back with the last units. */
export function shippingRefund(order: ReturnableOrder): number {
	if (!order.totals) return 0;
	const linesTax = order.items.reduce((sum, item) => sum + refundable(item).tax, 0);
	return order.totals.shipping + order.totals.tax - linesTax;
}

export interface ReturnAmounts {
	items: ReturnItem[];
	refundAmount: number;
}

/**
 * What returning `lines` gives back when other returns already take the first `before` units of each variant: each
 * item the share of its units (totals.ts refundOfUnits), and, if these lines leave nothing of the order, shipping and
 * its tax. Returns priced one after another this way add up to the order's total to the cent.
 */
export function priceReturn(
	order: ReturnableOrder,
	lines: readonly VariantQuantity[],
	before: ReadonlyMap<string, number>,
): ReturnAmounts {
	const byVariant = new Map(order.items.map(item => [stockKey(item), item]));
	const after = new Map(before);
	const items = lines.map(({ variantId, quantity }) => {
		const item = byVariant.get(variantId);
		if (!item) throw new RangeError(`Variant ${variantId} is not in the order`);
		after.set(variantId, (after.get(variantId) ?? 0) + quantity);
		return { variantId, quantity, refundAmount: refundOfUnits(refundable(item), before.get(variantId) ?? 0, quantity) };
	});
	const complete = order.items.every(item => (after.get(stockKey(item)) ?? 0) >= item.quantity);
	const refundAmount = items.reduce((sum, i) => sum + i.refundAmount, complete ? shippingRefund(order) : 0);
	return { items, refundAmount };
}

/** A new return's amounts: after the units its order's REQUESTED and RECEIVED returns hold. */
export function requestAmounts(
	order: ReturnableOrder,
	returns: readonly HeldReturn[],
	lines: readonly VariantQuantity[],
): ReturnAmounts {
	return priceReturn(order, lines, unitsIn(returns, HOLDING));
}

/**
 * A return's final amounts as it is received: after the units of the order's RECEIVED returns (`received`, not this
 * one), so that the refunds add up to the order's total once all is received, whatever was rejected in between.
 */
export function receiptAmounts(
	order: ReturnableOrder,
	received: readonly HeldReturn[],
	lines: readonly VariantQuantity[],
): ReturnAmounts {
	return priceReturn(order, lines, unitsIn(received, ["RECEIVED"]));
}

/** The order's status once `received` (every RECEIVED return, this one included) are back. */
export function statusAfterReceipt(
	order: ReturnableOrder,
	received: readonly HeldReturn[],
): "PARTIALLY_RETURNED" | "RETURNED" {
	const units = unitsIn(received, ["RECEIVED"]);
	return order.items.every(item => (units.get(stockKey(item)) ?? 0) >= item.quantity)
		? "RETURNED"
		: "PARTIALLY_RETURNED";
}
