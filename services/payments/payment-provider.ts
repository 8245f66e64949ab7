/**
 * The card processor, behind an interface modelled on a real PSP: every request carries an idempotency key, so a
 * request repeated after a timeout or a crash has its first effect only. The simulated one decides by token, as a
 * test card number would, and keeps its ledger in this process's memory.
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
/** What the provider holds for one charge key, in minor units: what it took and what it gave back. */
export interface ProviderRecord {
	charged: number;
	refunded: number;
	currency: string;
}

export interface PaymentProvider {
	/** UNAVAILABLE: the request never reached the processor, so a retry with the same key may charge. */
	charge(request: ChargeRequest): Promise<ChargeOutcome>;
	/** Resolves once the money is given back (or was, for a repeated key); rejects if the provider could not. */
	refund(request: RefundRequest): Promise<void>;
	/** The provider's side of a charge, for reconciliation (`payments.audit`); null when it knows no such charge. */
	record(chargeKey: string): Promise<ProviderRecord | null>;
}

interface ChargeEntry extends ChargeRequest {
	outcome: Exclude<ChargeOutcome, "UNAVAILABLE">;
	refunded: number;
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

	charge(request: ChargeRequest): Promise<ChargeOutcome> {
		const first = this.charges.get(request.key);
		if (first) {
			const { outcome: _o, refunded: _r, ...firstRequest } = first;
			if (!sameRequest(firstRequest, request)) return rejected("Charge key reused", { key: request.key });
			return Promise.resolve(first.outcome);
		}
		const outcome = outcomeOf(request.token);
		if (outcome !== "UNAVAILABLE") this.charges.set(request.key, { ...request, outcome, refunded: 0 });
		return Promise.resolve(outcome);
	}

	refund(request: RefundRequest): Promise<void> {
		const first = this.refunds.get(request.key);
		if (first) return sameRequest(first, request) ? Promise.resolve() : rejected("Refund key reused", request);
		// A charge it does not know was made before this process started: the simulation gives the money back anyway.
		const charge = this.charges.get(request.chargeKey);
		if (charge) {
			const left = charge.outcome === "SUCCEEDED" ? charge.amount - charge.refunded : 0;
			if (request.amount > left || request.currency !== charge.currency)
				return rejected("Refund exceeds the charge", { ...request, left });
			charge.refunded += request.amount;
		}
		this.refunds.set(request.key, { ...request });
		return Promise.resolve();
	}

	record(chargeKey: string): Promise<ProviderRecord | null> {
		const charge = this.charges.get(chargeKey);
		if (!charge) return Promise.resolve(null);
		const charged = charge.outcome === "SUCCEEDED" ? charge.amount : 0;
		return Promise.resolve({ charged, refunded: charge.refunded, currency: charge.currency });
	}
}
