/**
 * Payment rules: one payment per order, and the statuses it goes through.
 *   PENDING → SUCCEEDED | DECLINED | FAILED (the provider's answer) | VOIDED (the order gave up first)
 *   FAILED → PENDING (another attempt) | VOIDED (the order gave up)
 *   PENDING, FAILED → REFUNDING (the order gave up, but the provider holds a charge whose answer was never recorded)
 *   SUCCEEDED → REFUNDING (the refund is recorded before the provider is asked) → REFUNDED (the provider did it)
 *   SUCCEEDED, PARTIALLY_REFUNDED → PARTIALLY_REFUNDED | REFUNDED (a return's refund is counted against the charge;
 *     REFUNDED once the refunds reach its amount, refund-rules.ts); a partially refunded charge is never refunded whole
 *   VOIDED → REFUNDING (a charge under way when the order gave up went through: it is given back)
 *   DECLINED and REFUNDED are final.
 * Pure: the service applies each move as a compare-and-set on the stored status, so only one caller wins it.
 */
import { ConflictError, PaymentDeclinedError, PaymentUnavailableError } from "../../lib/errors";
import type { ChargeParams, Payment, PaymentAudit, PaymentEventData, PaymentStatus, PaymentView } from "./contract";
import type { ChargeOutcome, ChargeRequest, ProviderRecord, RefundRequest } from "./payment-provider";

const TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
	PENDING: ["SUCCEEDED", "DECLINED", "FAILED", "VOIDED", "REFUNDING"],
	FAILED: ["PENDING", "VOIDED", "REFUNDING"],
	SUCCEEDED: ["REFUNDING", "PARTIALLY_REFUNDED", "REFUNDED"],
	PARTIALLY_REFUNDED: ["PARTIALLY_REFUNDED", "REFUNDED"],
	REFUNDING: ["REFUNDED"],
	VOIDED: ["REFUNDING"],
	DECLINED: [],
	REFUNDED: [],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
	return TRANSITIONS[from].includes(to);
}

/** The statuses a payment may leave for `to`: what the compare-and-set of that move matches. */
export function sourcesOf(to: PaymentStatus): PaymentStatus[] {
	return (Object.keys(TRANSITIONS) as PaymentStatus[]).filter(from => canTransition(from, to));
}

type Change = Pick<Payment, "status" | "updatedAt"> & Partial<Pick<Payment, "failureReason">>;

/** The order gave up: a payment not charged yet is closed to charges; the reason is kept when given. */
export function voidChange(reason: string | null, now: string): Change {
	return { status: "VOIDED", updatedAt: now, ...(reason === null ? {} : { failureReason: reason }) };
}

/** The provider keeps money for this charge: it charged (maybe unknown to us) and did not give it all back. */
export function providerHolds(record: ProviderRecord | null): boolean {
	return !!record && (record.charged ?? 0) > record.refunded;
}

/** The refund intent, recorded before the provider is asked; its reason goes out with payment.refunded. */
export function refundIntent(reason: string | null, now: string): Change {
	return { status: "REFUNDING", updatedAt: now, ...(reason === null ? {} : { failureReason: reason }) };
}

/** The provider has given the whole charge back. */
export function refundDone(
	payment: Pick<Payment, "amount">,
	now: string,
): Pick<Payment, "status" | "refundedAt" | "updatedAt" | "refunded"> {
	return { status: "REFUNDED", refundedAt: now, updatedAt: now, refunded: payment.amount };
}

/** The provider's idempotency keys: one charge and one refund per payment, however often either is retried. */
export function chargeRequest(payment: Payment): ChargeRequest {
	const { paymentToken: token, amount, currency } = payment;
	return { key: `${payment.id}:charge`, token, amount, currency };
}

export function refundRequest(payment: Payment): RefundRequest {
	const { amount, currency } = payment;
	return { key: `${payment.id}:refund`, chargeKey: chargeRequest(payment).key, amount, currency };
}

/** payment.refunded, sent once the provider has given the money back. */
export function refundedEvent(payment: Payment): PaymentEventData & { reason: string | null } {
	const { orderId, userId, id: paymentId, amount, currency, failureReason: reason } = payment;
	return { orderId, userId, paymentId, amount, currency, reason };
}

const STATUS_BY_OUTCOME: Record<ChargeOutcome, PaymentStatus> = {
	SUCCEEDED: "SUCCEEDED",
	DECLINED: "DECLINED",
	UNAVAILABLE: "FAILED",
};

/** The status a PENDING payment takes for the provider's answer; a failure keeps the answer as its reason. */
export function afterCharge(outcome: ChargeOutcome): { status: PaymentStatus; failureReason: ChargeOutcome | null } {
	return { status: STATUS_BY_OUTCOME[outcome], failureReason: outcome === "SUCCEEDED" ? null : outcome };
}

/**
 * What a charge request does with the order's payment once claimed: charge it (PENDING), answer the first outcome
 * again (SUCCEEDED: false), or refuse: DECLINED is declined again, any other status is closed to charges.
 */
export function needsCharge(payment: Pick<Payment, "orderId" | "status">): boolean {
	const { orderId, status } = payment;
	if (status === "SUCCEEDED") return false;
	if (status === "DECLINED") throw new PaymentDeclinedError({ orderId });
	if (status !== "PENDING") throw new ConflictError(`Payment of order ${orderId} is ${status}`, "PAYMENT_CLOSED");
	return true;
}

/** A payment another request holds PENDING is being charged right now: the caller may try again later. */
export function assertNotInFlight(payment: Pick<Payment, "orderId" | "status">): void {
	if (payment.status === "PENDING") throw new PaymentUnavailableError({ orderId: payment.orderId });
}

/** The error a charge ends with when the provider did not take the money. */
export function chargeError(outcome: Exclude<ChargeOutcome, "SUCCEEDED">, orderId: string): Error {
	return outcome === "DECLINED" ? new PaymentDeclinedError({ orderId }) : new PaymentUnavailableError({ orderId });
}

/** The order's payment as a first charge claims it. */
export function newPayment(input: ChargeParams, id: string, now: string): Payment {
	const at = { createdAt: now, updatedAt: now, refundedAt: null };
	return { id, ...input, status: "PENDING", failureReason: null, ...at, refunded: 0 };
}

/** The order's payment when the order gives up before any charge: a late charge for it is refused. */
export function voidedPayment(orderId: string, reason: string | null, id: string, now: string): Payment {
	return {
		id,
		orderId,
		userId: "",
		amount: 0,
		currency: "",
		status: "VOIDED",
		paymentToken: "",
		failureReason: reason,
		createdAt: now,
		updatedAt: now,
		refundedAt: null,
		refunded: 0,
	};
}

/**
 * What the invariant check reads of a payment: what its SUCCEEDED refunds gave back, and the provider's record of its
 * charge.
 */
export function auditRow(payment: Payment, refunded: number, provider: ProviderRecord | null): PaymentAudit {
	const { orderId, status, amount, currency } = payment;
	return { orderId, status, amount, currency, refunded, provider };
}

/** What clients and other actors see of a payment: never its token (nor the document stores' refund markers). */
export function publicView(payment: Payment): PaymentView {
	const { paymentToken: _token, refundIds: _markers, ...view } = payment;
	return { ...view, refunded: view.refunded ?? 0 };
}
