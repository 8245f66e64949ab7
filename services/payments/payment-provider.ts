/** What a card processor answers; the simulated one decides by token, as a test card number would. */
export type ChargeOutcome = "SUCCEEDED" | "DECLINED" | "UNAVAILABLE";

export interface PaymentProvider {
	charge(token: string, amount: number, currency: string): Promise<ChargeOutcome>;
	refund(token: string, amount: number, currency: string): Promise<void>;
}

export class SimulatedProvider implements PaymentProvider {
	charge(token: string): Promise<ChargeOutcome> {
		if (token === "tok_visa") return Promise.resolve("SUCCEEDED");
		if (token === "tok_unavailable") return Promise.resolve("UNAVAILABLE");
		return Promise.resolve("DECLINED");
	}

	async refund(): Promise<void> {}
}
