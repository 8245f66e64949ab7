import { describe, expect, it } from "vitest";
import { SimulatedProvider } from "../../../services/payments/payment-provider";

const charge = { key: "p1:charge", token: "tok_visa", amount: 2500, currency: "USD" };
const refund = { key: "p1:refund", chargeKey: "p1:charge", amount: 2500, currency: "USD" };

describe("simulated payment provider (idempotency keys, like a real PSP)", () => {
	it.each([
		{ token: "tok_visa", outcome: "SUCCEEDED", record: { charged: 2500, refunded: 0, currency: "USD" } },
		{ token: "tok_declined", outcome: "DECLINED", record: { charged: 0, refunded: 0, currency: "USD" } },
		{ token: "tok_unavailable", outcome: "UNAVAILABLE", record: null },
	] as const)(
		"answers $outcome for $token and records what reached the processor",
		async ({ token, outcome, record }) => {
			const provider = new SimulatedProvider();
			await expect(provider.charge({ ...charge, token })).resolves.toBe(outcome);
			await expect(provider.record(charge.key)).resolves.toEqual(record);
		},
	);

	it("charges once per key: a repeated charge answers the first outcome without charging again", async () => {
		const provider = new SimulatedProvider();
		await provider.charge(charge);
		await expect(provider.charge(charge)).resolves.toBe("SUCCEEDED");
		await expect(provider.record(charge.key)).resolves.toEqual({ charged: 2500, refunded: 0, currency: "USD" });
	});

	it("refunds once per key, however often the refund is repeated or raced", async () => {
		const provider = new SimulatedProvider();
		await provider.charge(charge);
		await Promise.all([provider.refund(refund), provider.refund(refund), provider.refund(refund)]);
		await provider.refund(refund);
		await expect(provider.record(charge.key)).resolves.toEqual({ charged: 2500, refunded: 2500, currency: "USD" });
	});

	it.each([
		{
			what: "a charge key reused for another amount",
			run: (p: SimulatedProvider) => p.charge({ ...charge, amount: 1 }),
		},
		{
			what: "a refund key reused for another amount",
			run: (p: SimulatedProvider) => p.refund({ ...refund, amount: 1 }),
		},
		{
			what: "a second refund of the whole charge",
			run: (p: SimulatedProvider) => p.refund({ ...refund, key: "p1:refund-2" }),
		},
		{
			what: "a refund in another currency",
			run: (p: SimulatedProvider) => p.refund({ ...refund, key: "p1:refund-3", currency: "EUR" }),
		},
	])("rejects $what", async ({ run }) => {
		const provider = new SimulatedProvider();
		await provider.charge(charge);
		await provider.refund(refund);
		await expect(run(provider)).rejects.toMatchObject({ code: 409, type: "PROVIDER_REJECTED" });
		await expect(provider.record(charge.key)).resolves.toEqual({ charged: 2500, refunded: 2500, currency: "USD" });
	});

	it("refuses to give back a declined charge", async () => {
		const provider = new SimulatedProvider();
		await provider.charge({ ...charge, token: "tok_declined" });
		await expect(provider.refund(refund)).rejects.toMatchObject({ type: "PROVIDER_REJECTED" });
		await expect(provider.record(charge.key)).resolves.toEqual({ charged: 0, refunded: 0, currency: "USD" });
	});

	it("gives back a charge made elsewhere (another node, before a restart), saying it has no record of it", async () => {
		const provider = new SimulatedProvider();
		await expect(provider.record(charge.key)).resolves.toBeNull();
		await provider.refund(refund);
		await provider.refund(refund);
		await expect(provider.record(charge.key)).resolves.toEqual({ charged: null, refunded: 2500, currency: "USD" });
	});
});
