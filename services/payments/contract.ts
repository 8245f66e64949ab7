// The payments actor's contract: its entity, the actions other actors call and the events it publishes.
import type { Page } from "../../lib/actor";
import type { CollectionSpec, Doc } from "../../lib/storage";
import type { ChargeOutcome, ProviderRecord } from "./payment-provider";

/**
 * VOIDED: the order gave up before any charge was made, so a late charge for it is refused (or, if it was already
 * under way, given back). REFUNDING: the refund is recorded and the provider asked; REFUNDED once it answered.
 * PARTIALLY_REFUNDED: returns' refunds are counted against the charge (`refunded`) and leave some of it; REFUNDED
 * once they add up to all of it.
 */
export type PaymentStatus =
	"PENDING" | "SUCCEEDED" | "DECLINED" | "FAILED" | "PARTIALLY_REFUNDED" | "REFUNDING" | "REFUNDED" | "VOIDED";

export interface Payment extends Doc {
	orderId: string;
	userId: string;
	amount: number;
	currency: string;
	status: PaymentStatus;
	paymentToken: string;
	/** Why the payment did not stay SUCCEEDED: the provider's answer, or why the order gave up or gave the money back. */
	failureReason: string | null;
	createdAt: string;
	updatedAt: string;
	refundedAt: string | null;
	/**
	 * What the refunds counted against the charge add up to (refund-ledger.ts): partial refunds add to it by
	 * compare-and-set, so that it never exceeds `amount`; the full refund sets it to `amount`.
	 */
	refunded: number;
	/** memory:// and MongoDB only: the ids of the partial refunds `refunded` counts (their markers). */
	refundIds?: string[];
}
/** The payments collection: a column for every field of Payment. */
export const PAYMENTS: CollectionSpec<Payment> = {
	name: "payments",
	fields: {
		orderId: "string",
		userId: "string",
		amount: "money",
		currency: "string",
		status: "string",
		paymentToken: "string",
		failureReason: "string",
		createdAt: "string",
		updatedAt: "string",
		refundedAt: "string",
		refunded: "money",
		refundIds: "json",
	},
	unique: ["orderId"],
	indexes: ["status"],
	documentOnly: ["refundIds"],
};

/** What clients and other actors see of a payment: never its token. */
export type PaymentView = Omit<Payment, "paymentToken">;

/**
 * A refund of part of a charge (a return): one per return, its id the refund's key with the provider. SUCCEEDED
 * once the provider gave the money back, FAILED while it could not (a retry of the same return finishes it).
 */
export interface Refund extends Doc {
	orderId: string;
	paymentId: string;
	returnId: string | null;
	amount: number;
	currency: string;
	status: "PENDING" | "SUCCEEDED" | "FAILED";
	reason: string | null;
	createdAt: string;
	updatedAt: string;
}

/**
 * A refund as stored: `counted` once its amount is added to the charge's `refunded` (on SQL in the same transaction;
 * on memory:// and MongoDB the charge's `refundIds` marker is what counts, the flag follows it). The full refund of a
 * charge is stored too, as `<paymentId>:refund` with no `returnId`.
 */
export interface RefundRecord extends Refund {
	counted: boolean;
}
export const REFUNDS: CollectionSpec<RefundRecord> = {
	name: "refunds",
	fields: {
		orderId: "string",
		paymentId: "string",
		returnId: "string",
		amount: "money",
		currency: "string",
		status: "string",
		reason: "string",
		counted: "bool",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["returnId"],
	indexes: ["orderId", "paymentId"],
};

/** A row of `GET /api/payments?orderId=`: the order's charge and its refunds. */
export type PaymentRow = (PaymentView & { kind: "CHARGE" }) | (Refund & { kind: "REFUND" });

export interface ChargeParams {
	orderId: string;
	userId: string;
	amount: number;
	currency: string;
	paymentToken: string;
}

/**
 * What the invariant check (lib/audit) reads of a payment, with the provider's side of its charge; `refunded`: what
 * its SUCCEEDED refunds (the full refund included) gave back.
 */
export type PaymentAudit = Pick<Payment, "orderId" | "status" | "amount" | "currency"> & {
	refunded: number;
	provider: ProviderRecord | null;
};

/** What every payment event carries. */
export interface PaymentEventData {
	orderId: string;
	userId: string;
	paymentId: string;
	amount: number;
	currency: string;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		/** Idempotent per order: a repeated charge returns the first outcome and never charges twice. */
		"payments.charge": { params: ChargeParams; result: PaymentView };
		/**
		 * Idempotent per order: gives back a successful charge, and answers only once the provider has (else 503
		 * PAYMENT_UNAVAILABLE: call again); voids the order's payment if no charge was made.
		 */
		"payments.refund": { params: { orderId: string; reason?: string }; result: PaymentView };
		/**
		 * Idempotent per return: gives back `amount` of the order's charge (never more than is left of it), and answers
		 * once the provider has (else 503 PAYMENT_UNAVAILABLE: call again).
		 */
		"payments.refundPart": {
			params: { orderId: string; returnId: string; amount: number; reason?: string };
			result: Refund;
		};
		/** The charge and refunds of an order the caller (ctx.meta.user) may see. */
		"payments.list": { params: { orderId: string; page?: number; pageSize?: number }; result: Page<PaymentRow> };
		/** Every payment, paged (`offset`/`limit`, default everything), for the invariant check (lib/audit). */
		"payments.audit": { params: { offset?: number; limit?: number }; result: PaymentAudit[] };
	}
}

declare module "../../lib/events" {
	interface EventPayloads {
		"payment.succeeded": PaymentEventData;
		"payment.failed": PaymentEventData & { reason: Exclude<ChargeOutcome, "SUCCEEDED"> };
		/**
		 * `amount`: what was given back (all of the charge, or a return's part); `reason`: why (cancellation, a failed
		 * step, a return), when known; `returnId` for a return's refund.
		 */
		"payment.refunded": PaymentEventData & { reason: string | null; returnId?: string };
	}
}
