import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker, type Service } from "moleculer";
import { brokerOptions } from "../../moleculer.config";
import PaymentsService from "../../services/payments/payments.service";
import { SimulatedProvider, type ChargeRequest, type RefundRequest } from "../../services/payments/payment-provider";
import type { ChargeOutcome } from "../../services/payments/payment-provider";
import { consume } from "../../mixins/events.mixin";
import { call } from "../../lib/actor";
import type { DomainEvent } from "../../lib/events";
import { eventually } from "../support/http";

/** The simulated provider, with faults injected at the exact call: a refund that throws, or one that never returns. */
class FaultyProvider extends SimulatedProvider {
	failRefunds = 0;
	/** The next refund never answers, as if the node died right after recording the refund intent. */
	dieInNextRefund = false;
	/** Charges wait for this before reaching the processor. */
	chargeGate: Promise<void> | null = null;
	chargesStarted = 0;
	private readonly dead: (() => void)[] = [];

	async charge(request: ChargeRequest): Promise<ChargeOutcome> {
		this.chargesStarted++;
		await this.chargeGate;
		return super.charge(request);
	}

	async refund(request: RefundRequest): Promise<void> {
		if (this.dieInNextRefund) {
			this.dieInNextRefund = false;
			// Released (rejected) only when the test ends, so that the broker can stop: the "dead" handler never resumes.
			await new Promise<void>((_, reject) => this.dead.push(() => reject(new Error("node died"))));
		}
		if (this.failRefunds > 0) {
			this.failRefunds--;
			throw new Error("provider unreachable");
		}
		return super.refund(request);
	}

	buryTheDead() {
		for (const release of this.dead.splice(0)) release();
	}
}

/**
 * Issue #17, item 3: a refund is recorded (REFUNDING) before the provider is asked and REFUNDED only once it answered;
 * a provider failure is not a success, and a retry or the refund sweep finishes what is in flight, exactly once.
 * Before the fix each of the first three tests failed: the payment was REFUNDED and the provider never refunded.
 */
describe("refunds survive a provider failure or a node dying mid-refund", () => {
	let broker: ServiceBroker;
	let provider: FaultyProvider;
	const refundEvents: DomainEvent[] = [];
	const order = { userId: "u1", amount: 2500, currency: "USD", paymentToken: "tok_visa" };

	const charge = (orderId: string) => call(broker, "payments.charge", { orderId, ...order }, { retries: 0 });
	const refund = (orderId: string, opts: { timeout?: number } = {}) =>
		call(broker, "payments.refund", { orderId, reason: "cancelled" }, { retries: 0, ...opts });
	const audit = async (orderId: string) => (await call(broker, "payments.audit", {})).find(p => p.orderId === orderId);
	const eventsOf = (orderId: string) => refundEvents.filter(e => e.data.orderId === orderId);

	beforeAll(async () => {
		broker = new ServiceBroker({ ...brokerOptions({ METRICS: "false" }), logger: false });
		// The sweep looks every 100 ms and takes over refunds untouched for 1 s.
		broker.createService({ ...PaymentsService, settings: { refundSweepMs: 100, refundGraceMs: 1000 } });
		broker.createService({
			name: "refund-watcher",
			channels: {
				"payment.refunded": consume<Service>(async ctx => {
					refundEvents.push(ctx.params);
				}),
			},
		});
		await broker.start();
		provider = new FaultyProvider();
		(broker.getLocalService("payments") as unknown as { provider: FaultyProvider }).provider = provider;
	});

	afterAll(async () => {
		provider?.buryTheDead();
		await broker?.stop();
	});

	it("a refund the provider fails is answered 503 and left REFUNDING; the retry refunds exactly once", async () => {
		await charge("o1");
		provider.failRefunds = 1;
		await expect(refund("o1")).rejects.toMatchObject({ code: 503, type: "PAYMENT_UNAVAILABLE" });
		expect(await audit("o1")).toMatchObject({ status: "REFUNDING", provider: { charged: 2500, refunded: 0 } });
		expect(eventsOf("o1")).toEqual([]);

		expect(await refund("o1")).toMatchObject({ status: "REFUNDED", failureReason: "cancelled" });
		expect(await refund("o1")).toMatchObject({ status: "REFUNDED" });
		expect(await audit("o1")).toEqual({
			orderId: "o1",
			status: "REFUNDED",
			amount: 2500,
			currency: "USD",
			provider: { charged: 2500, refunded: 2500, currency: "USD" },
		});
		await eventually(async () => eventsOf("o1").length === 1);
		expect(eventsOf("o1")[0].data).toMatchObject({ amount: 2500, currency: "USD", reason: "cancelled" });
	});

	it("a node dying between recording the refund and the provider's answer: the sweep finishes the refund", async () => {
		await charge("o2");
		provider.dieInNextRefund = true;
		await expect(refund("o2", { timeout: 300 })).rejects.toMatchObject({ type: "REQUEST_TIMEOUT" });
		expect((await audit("o2"))?.status).toBe("REFUNDING");
		await eventually(async () => (await audit("o2"))?.status === "REFUNDED", 5000);
		expect((await audit("o2"))?.provider).toEqual({ charged: 2500, refunded: 2500, currency: "USD" });
		await eventually(async () => eventsOf("o2").length === 1);
	});

	it("a charge that lands after the order voided its payment is refunded, even if the provider fails once", async () => {
		let land!: () => void;
		provider.chargeGate = new Promise(resolve => (land = resolve));
		const started = provider.chargesStarted;
		const late = charge("o3");
		await eventually(async () => provider.chargesStarted > started, 2000);
		expect(await refund("o3")).toMatchObject({ status: "VOIDED", failureReason: "cancelled" });
		provider.failRefunds = 1;
		land();
		provider.chargeGate = null;
		await expect(late).rejects.toMatchObject({ code: 409, type: "PAYMENT_CLOSED" });
		expect(await audit("o3")).toMatchObject({ status: "REFUNDING", provider: { charged: 2500, refunded: 0 } });
		await eventually(async () => (await audit("o3"))?.status === "REFUNDED", 5000);
		expect((await audit("o3"))?.provider).toEqual({ charged: 2500, refunded: 2500, currency: "USD" });
		await eventually(async () => eventsOf("o3").length === 1);
		expect(eventsOf("o3")[0].data).toMatchObject({ reason: "cancelled" });
	});

	it("concurrent refunds of one order give the money back once and announce it once", async () => {
		await charge("o4");
		provider.failRefunds = 1;
		await expect(refund("o4")).rejects.toMatchObject({ type: "PAYMENT_UNAVAILABLE" });
		const answers = await Promise.all(Array.from({ length: 5 }, () => refund("o4")));
		expect(answers.map(a => a.status)).toEqual(Array(5).fill("REFUNDED"));
		expect((await audit("o4"))?.provider).toEqual({ charged: 2500, refunded: 2500, currency: "USD" });
		await new Promise(resolve => setTimeout(resolve, 300));
		expect(eventsOf("o4")).toHaveLength(1);
	});

	it("voids a payment the provider could not charge, so that no later attempt can charge it", async () => {
		await expect(
			call(broker, "payments.charge", { orderId: "o5", ...order, paymentToken: "tok_unavailable" }, { retries: 0 }),
		).rejects.toMatchObject({ type: "PAYMENT_UNAVAILABLE" });
		expect(await refund("o5")).toMatchObject({ status: "VOIDED" });
		await expect(charge("o5")).rejects.toMatchObject({ type: "PAYMENT_CLOSED" });
		expect(await audit("o5")).toMatchObject({ status: "VOIDED", provider: null });
	});
});
