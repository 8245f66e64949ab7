/**
 * The card processor, behind an interface modelled on a real PSP: every request carries an idempotency key, so a
 * request repeated after a timeout or a crash has its first effect only. The simulated one decides by token, as a
 * test card number would, and keeps its books in this process's memory: with several payments nodes each knows the
 * requests it served (the audit merges their books), and a restart forgets them.
 */
import { ConflictError } from "../../lib/errors";

export type ChargeOutcome = "SUCCEEDED" | "DECLINED" | "UNAVAILABLE";

export interface ChargeRequest {
	/** One per payment: a repeated key answers the first outcome and never charges again. */
	key: string;
	token: string;
	amount: number;
	currency: string;
}
export interface RefundRequest {
	/** One per refund: a repeated key gives nothing back a second time. */
	key: string;
	/** The key of the charge given back. */
	chargeKey: string;
	amount: number;
	currency: string;
}
/**
 * The provider's books for one charge key, in minor units: what it took (null: a charge it has no record of) and what
 * it gave back.
 */
export interface ProviderRecord {
	charged: number | null;
	refunded: number;
	currency: string;
}

export interface PaymentProvider {
	/** UNAVAILABLE: the request never reached the processor, so a retry with the same key may charge. */
	charge(request: ChargeRequest): Promise<ChargeOutcome>;
	/** Resolves once the money is given back (or was, for a repeated key); rejects if the provider could not. */
	refund(request: RefundRequest): Promise<void>;
	/** The provider's side of a charge, for reconciliation (`payments.audit`); null when it has no record of it. */
	record(chargeKey: string): Promise<ProviderRecord | null>;
}

interface ChargeEntry extends ChargeRequest {
	outcome: Exclude<ChargeOutcome, "UNAVAILABLE">;
}

function outcomeOf(token: string): ChargeOutcome {
	if (token === "tok_visa") return "SUCCEEDED";
	if (token === "tok_unavailable") return "UNAVAILABLE";
	return "DECLINED";
}

function sameRequest<T extends object>(a: T, b: T): boolean {
	return (Object.keys(a) as (keyof T)[]).every(k => a[k] === b[k]);
}

/** Rejects what a real PSP rejects: a key reused for another request, a refund of more than the charge. */
function rejected(message: string, data: object): Promise<never> {
	return Promise.reject(new ConflictError(message, "PROVIDER_REJECTED", data));
}

export class SimulatedProvider implements PaymentProvider {
	private readonly charges = new Map<string, ChargeEntry>();
	private readonly refunds = new Map<string, RefundRequest>();
	/** Given back per charge key, also for charges made elsewhere (another node, before a restart). */
	private readonly refunded = new Map<string, { amount: number; currency: string }>();

	charge(request: ChargeRequest): Promise<ChargeOutcome> {
		const first = this.charges.get(request.key);
		if (first) {
			const { outcome, ...firstRequest } = first;
			return sameRequest(firstRequest, request) ? Promise.resolve(outcome) : rejected("Charge key reused", request);
		}
		const outcome = outcomeOf(request.token);
		if (outcome !== "UNAVAILABLE") this.charges.set(request.key, { ...request, outcome });
		return Promise.resolve(outcome);
	}

	refund(request: RefundRequest): Promise<void> {
		const first = this.refunds.get(request.key);
		if (first) return sameRequest(first, request) ? Promise.resolve() : rejected("Refund key reused", request);
		const { chargeKey, amount, currency } = request;
		const given = this.refunded.get(chargeKey)?.amount ?? 0;
		// A charge it has no record of was made elsewhere: the simulation gives the money back without checking it.
		const charge = this.charges.get(chargeKey);
		if (charge) {
			const left = charge.outcome === "SUCCEEDED" ? charge.amount - given : 0;
			if (amount > left || currency !== charge.currency)
				return rejected("Refund exceeds the charge", { ...request, left });
		}
		this.refunds.set(request.key, { ...request });
		this.refunded.set(chargeKey, { amount: given + amount, currency });
		return Promise.resolve();
	}

	record(chargeKey: string): Promise<ProviderRecord | null> {
		const charge = this.charges.get(chargeKey);
		const refund = this.refunded.get(chargeKey);
		if (!charge && !refund) return Promise.resolve(null);
		return Promise.resolve({
			charged: charge ? (charge.outcome === "SUCCEEDED" ? charge.amount : 0) : null,
			refunded: refund?.amount ?? 0,
			currency: charge?.currency ?? refund!.currency,
		});
	}
}
