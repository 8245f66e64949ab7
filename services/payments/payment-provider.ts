/** What a card processor answers; the simulated one decides by token, as a test card number would. */
export type ChargeOutcome = "SUCCEEDED" | "DECLINED" | "UNAVAILABLE";

export interface PaymentProvider {
	charge(token: string, amount: number, currency: string): Promise<ChargeOutcome>;
	refund(token: string, amount: number, currency: string): Promise<void>;
}

export class SimulatedProvider implements PaymentProvider {
	async charge(token: string): Promise<ChargeOutcome> {
		if (token === "tok_visa") return "SUCCEEDED";
		if (token === "tok_unavailable") return "UNAVAILABLE";
		return "DECLINED";
	}

	async refund(): Promise<void> {}
}
