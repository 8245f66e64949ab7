/**
 * Payment rules: one payment per order, and the statuses it goes through.
 *   PENDING → SUCCEEDED | DECLINED | FAILED (the provider's answer) | VOIDED (the order gave up first)
 *   FAILED → PENDING (another attempt); SUCCEEDED → REFUNDED. DECLINED, REFUNDED and VOIDED are final.
 * Pure: the service applies each move as a compare-and-set on the stored status, so only one caller wins it.
 */
import { ConflictError, PaymentDeclinedError, PaymentUnavailableError } from "../../lib/errors";
import type { ChargeParams, Payment, PaymentStatus, PaymentView } from "./contract";
import type { ChargeOutcome } from "./payment-provider";

const TRANSITIONS: Record<PaymentStatus, readonly PaymentStatus[]> = {
	PENDING: ["SUCCEEDED", "DECLINED", "FAILED", "VOIDED"],
	FAILED: ["PENDING"],
	SUCCEEDED: ["REFUNDED"],
	DECLINED: [],
	REFUNDED: [],
	VOIDED: [],
};

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
	return TRANSITIONS[from].includes(to);
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
	return { id, ...input, status: "PENDING", failureReason: null, createdAt: now, updatedAt: now, refundedAt: null };
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
	};
}

/** What clients and other actors see of a payment: never its token. */
export function publicView(payment: Payment): PaymentView {
	const { paymentToken: _token, ...view } = payment;
	return view;
}
