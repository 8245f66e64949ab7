// The payments actor's contract: its entity, the actions other actors call and the events it publishes.
import type { Doc } from "../../lib/storage";

/** VOIDED: the order gave up before any charge was made, so a late charge for it is refused. */
export type PaymentStatus = "PENDING" | "SUCCEEDED" | "DECLINED" | "FAILED" | "REFUNDED" | "VOIDED";

export interface Payment extends Doc {
	orderId: string;
	userId: string;
	amount: number;
	currency: string;
	status: PaymentStatus;
	paymentToken: string;
	failureReason: string | null;
	createdAt: string;
	updatedAt: string;
	refundedAt: string | null;
}
/** What clients and other actors see of a payment: never its token. */
export type PaymentView = Omit<Payment, "paymentToken">;

export interface ChargeParams {
	orderId: string;
	userId: string;
	amount: number;
	currency: string;
	paymentToken: string;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		"payments.charge": { params: ChargeParams; result: PaymentView };
		"payments.refund": { params: { orderId: string; reason?: string }; result: PaymentView };
	}
}
