/**
 * Refund rules: a charge is given back whole (a cancelled or failed order, payment-status.ts) or in parts (returns),
 * and its refunds never add up to more than it. A part is counted against the charge (`refunded`) before the
 * provider is asked, by compare-and-set on the amount read, so concurrent parts cannot both spend the same money.
 * Pure: refund-ledger.ts applies them.
 */
import { ConflictError } from "../../lib/errors";
import type { EventPayload } from "../../lib/events";
import type { Payment, PaymentRow, PaymentStatus, PaymentView, Refund, RefundRecord } from "./contract";
import { chargeRequest } from "./payment-status";
import type { RefundRequest } from "./payment-provider";

/** What a return asks to be given back of its order's charge. */
export interface PartRefundInput {
	orderId: string;
	returnId: string;
	amount: number;
	reason: string | null;
}

/** One refund per return: its id (and the provider's key) follow from the return's id. */
export function partRefundId(returnId: string): string {
	return `return:${returnId}`;
}

/** The full refund of a charge, stored like a part so that the charge's refunds list it. */
export function fullRefundId(paymentId: string): string {
	return `${paymentId}:refund`;
}

/** The charge statuses a part may be counted against: charged, and not given back whole or on its way to be. */
const COUNTABLE: readonly PaymentStatus[] = ["SUCCEEDED", "PARTIALLY_REFUNDED"];

export type PartVerdict = "COUNT" | "EXCEEDS" | "CLOSED";

/**
 * Whether `amount` may be counted against the charge as read: not when nothing was charged or nothing is left of it
 * (CLOSED: given back whole, or refunded in parts to the last cent), nor when it would take the refunds over the
 * charge (EXCEEDS).
 */
export function partVerdict(payment: Pick<Payment, "status" | "amount" | "refunded">, amount: number): PartVerdict {
	if (!COUNTABLE.includes(payment.status)) return "CLOSED";
	return (payment.refunded ?? 0) + amount <= payment.amount ? "COUNT" : "EXCEEDS";
}

/** The error a refused part is answered with. */
export function partRefusal(verdict: Exclude<PartVerdict, "COUNT">, payment: Payment, amount: number): ConflictError {
	const { orderId, status, amount: charged, refunded } = payment;
	if (verdict === "CLOSED")
		return new ConflictError(`Payment of order ${orderId} is ${status}`, "PAYMENT_CLOSED", { orderId });
	const data = { orderId, amount, charged, refunded, left: charged - refunded };
	return new ConflictError("The refund exceeds what is left of the charge", "REFUND_EXCEEDS_CHARGE", data);
}

/** The charge once `amount` more is counted against it: REFUNDED when nothing is left of it. */
export function afterPart(
	payment: Pick<Payment, "status" | "amount" | "refunded">,
	amount: number,
	now: string,
): Pick<Payment, "status" | "refunded" | "updatedAt"> & Partial<Pick<Payment, "refundedAt">> {
	const refunded = (payment.refunded ?? 0) + amount;
	if (refunded >= payment.amount) return { status: "REFUNDED", refunded, updatedAt: now, refundedAt: now };
	// A part of nothing leaves the charge as it was.
	const status: PaymentStatus = refunded === 0 ? payment.status : "PARTIALLY_REFUNDED";
	return { status, refunded, updatedAt: now };
}

/** A return's refund as first recorded: PENDING and not yet counted against the charge. */
export function newPartRefund(payment: Payment, input: PartRefundInput, now: string): RefundRecord {
	const { orderId, returnId, amount, reason } = input;
	const { id: paymentId, currency } = payment;
	const row = { orderId, paymentId, returnId, amount, currency, status: "PENDING", reason } as const;
	return { id: partRefundId(returnId), ...row, createdAt: now, updatedAt: now, counted: false };
}

/** The full refund of a charge, recorded once the provider gave it back. */
export function fullRefund(payment: Payment, now: string): RefundRecord {
	const { id: paymentId, orderId, amount, currency, failureReason: reason } = payment;
	const row = { orderId, paymentId, returnId: null, amount, currency, reason, createdAt: now, updatedAt: now };
	return { id: fullRefundId(paymentId), ...row, status: "SUCCEEDED", counted: true };
}

/** A repeated return must ask for the same refund: anything else is a caller's bug, not a second refund. */
export function assertSamePart(refund: RefundRecord, input: PartRefundInput): void {
	if (refund.orderId === input.orderId && refund.amount === input.amount) return;
	const data = { returnId: input.returnId, orderId: refund.orderId, amount: refund.amount };
	throw new ConflictError("This return was refunded with another order or amount", "REFUND_MISMATCH", data);
}

/** Counted against the charge: on SQL the row's flag, on the document stores the charge's marker too. */
export function isCounted(refund: Pick<RefundRecord, "id" | "counted">, payment: Pick<Payment, "refundIds">): boolean {
	return refund.counted || !!payment.refundIds?.includes(refund.id);
}

/** The provider's request for a part: its own key, against the charge's key. */
export function partRefundRequest(payment: Payment, refund: Refund): RefundRequest {
	return {
		key: `${refund.id}:refund`,
		chargeKey: chargeRequest(payment).key,
		amount: refund.amount,
		currency: refund.currency,
	};
}

/** payment.refunded for a part, sent once the provider gave it back. */
export function partRefundedEvent(payment: Payment, refund: Refund): EventPayload<"payment.refunded"> {
	const { orderId, userId, id: paymentId } = payment;
	const { amount, currency, reason, returnId } = refund;
	return { orderId, userId, paymentId, amount, currency, reason, ...(returnId === null ? {} : { returnId }) };
}

/** What clients see of a refund; the document stores leave a null `returnId` (a unique field) out. */
export function refundView(refund: RefundRecord): Refund {
	const { counted: _counted, ...view } = refund;
	return { ...view, returnId: view.returnId ?? null };
}

/**
 * `GET /api/payments?orderId=`: the charge first, then its refunds in the order they were made. The sort is stable:
 * refunds made in the same millisecond keep the order the store read them in (the order written, in memory).
 */
export function paymentRows(charge: PaymentView | null, refunds: readonly RefundRecord[]): PaymentRow[] {
	const rows: PaymentRow[] = charge ? [{ ...charge, kind: "CHARGE" }] : [];
	const made = [...refunds].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
	return [...rows, ...made.map(r => ({ ...refundView(r), kind: "REFUND" as const }))];
}

/** What the SUCCEEDED refunds of each payment gave back, by payment id. */
export function refundedByPayment(refunds: readonly Pick<Refund, "paymentId" | "amount" | "status">[]) {
	const total = new Map<string, number>();
	for (const r of refunds)
		if (r.status === "SUCCEEDED") total.set(r.paymentId, (total.get(r.paymentId) ?? 0) + r.amount);
	return total;
}
