import { ConflictError, UnprocessableError } from "../../lib/errors";
import type { DiscountRule } from "../orders/totals";
import type { NotApplicableReason, Promotion } from "./contract";

/**
 * When a discount code applies (README "Money rules"), and how a use of a limited code finds a free slot. Pure: the
 * service reads the promotion and counts its uses, these rules decide.
 */

/** What a cart asks of a code. */
export interface CartOfCode {
	subtotal: number;
	currency: string;
}

/** The uses held now: by all customers, and by the customer asking (0 for a guest). */
export interface UsesHeld {
	total: number;
	customer: number;
}

/**
 * Why a code cannot be used at `now`, whatever the cart: missing, switched off, not started or ended (`endsAt` is the
 * first instant it no longer applies). Null when it can.
 */
export function unusableReason(promotion: Promotion | null, now: string): NotApplicableReason | null {
	if (!promotion) return "UNKNOWN";
	if (!promotion.active) return "INACTIVE";
	if (promotion.startsAt !== null && now < promotion.startsAt) return "NOT_STARTED";
	if (promotion.endsAt !== null && now >= promotion.endsAt) return "EXPIRED";
	return null;
}

/**
 * Why a code does not apply to a cart, or null when it does. The currency comes before the minimum, which is in the
 * code's currency; the limits come last. `uses.customer` counts only when a customer asks (guests are checked again at
 * checkout).
 */
export function notApplicableReason(
	promotion: Promotion | null,
	cart: CartOfCode,
	now: string,
	uses: UsesHeld,
): NotApplicableReason | null {
	const unusable = unusableReason(promotion, now);
	if (unusable || !promotion) return unusable;
	if (promotion.currency !== null && promotion.currency !== cart.currency) return "CURRENCY";
	if (promotion.minSubtotal !== null && cart.subtotal < promotion.minSubtotal) return "MIN_SUBTOTAL";
	if (promotion.usageLimit !== null && uses.total >= promotion.usageLimit) return "EXHAUSTED";
	if (promotion.perCustomerLimit !== null && uses.customer >= promotion.perCustomerLimit) return "CUSTOMER_LIMIT";
	return null;
}

/** What an order keeps of the code it was priced with. */
export function discountRuleOf(promotion: Promotion): DiscountRule {
	return { code: promotion.code, type: promotion.type, value: promotion.value };
}

const MESSAGES: Record<NotApplicableReason, string> = {
	UNKNOWN: "There is no such discount code",
	INACTIVE: "This discount code is not active",
	NOT_STARTED: "This discount code is not valid yet",
	EXPIRED: "This discount code has expired",
	MIN_SUBTOTAL: "The subtotal is below this discount code's minimum",
	CURRENCY: "This discount code is for another currency",
	EXHAUSTED: "This discount code has been used up",
	CUSTOMER_LIMIT: "You have used this discount code as often as it allows",
};

/** 422 DISCOUNT_NOT_APPLICABLE: the code does not apply, `data.reason` says why (`data.orderId` at a reservation). */
export function notApplicable(reason: NotApplicableReason, data: { code: string; orderId?: string }) {
	return new UnprocessableError(MESSAGES[reason], "DISCOUNT_NOT_APPLICABLE", { reason, ...data });
}

/** 409 DISCOUNT_EXHAUSTED: the code ran out while the order's saga ran. */
export function exhausted(reason: "EXHAUSTED" | "CUSTOMER_LIMIT", data: { code: string; orderId: string }) {
	return new ConflictError(MESSAGES[reason], "DISCOUNT_EXHAUSTED", { reason, ...data });
}

/** A reserve for an order that already gave its code back (failed or cancelled): a late call, refused. */
export function released(orderId: string) {
	return new ConflictError("This order gave its discount code back", "PROMOTION_RELEASED", { orderId });
}

/** How many slots one read of the taken ones covers. */
export const SLOT_WINDOW = 100;

/**
 * The windows `[from, to)` of slots `0 .. limit - 1` in the order a use looks for a free one: from the window holding
 * slot `held` (the uses held now: with slots taken densely from 0, the first free one is likely there) to the end,
 * then from 0.
 */
export function slotWindows(held: number, limit: number, size = SLOT_WINDOW): [number, number][] {
	if (limit <= 0) return [];
	const windows: [number, number][] = [];
	const first = Math.min(Math.floor(Math.max(held, 0) / size), Math.floor((limit - 1) / size)) * size;
	for (let from = first; from < limit; from += size) windows.push([from, Math.min(from + size, limit)]);
	for (let from = 0; from < first; from += size) windows.push([from, Math.min(from + size, limit)]);
	return windows;
}

/** The slots of `[from, to)` not in `taken`. */
export function freeSlots(taken: readonly number[], from: number, to: number): number[] {
	const used = new Set(taken);
	const free: number[] = [];
	for (let k = from; k < to; k++) if (!used.has(k)) free.push(k);
	return free;
}
