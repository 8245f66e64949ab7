import { describe, expect, it } from "vitest";
import type { Payment, PaymentStatus } from "../../../services/payments/contract";
import {
	afterCharge,
	assertNotInFlight,
	auditRow,
	canTransition,
	chargeError,
	chargeRequest,
	needsCharge,
	newPayment,
	publicView,
	refundDone,
	refundedEvent,
	refundIntent,
	refundRequest,
	sourcesOf,
	providerHolds,
	voidChange,
	voidedPayment,
} from "../../../services/payments/payment-status";

const STATUSES: PaymentStatus[] = [
	"PENDING",
	"SUCCEEDED",
	"DECLINED",
	"FAILED",
	"PARTIALLY_REFUNDED",
	"REFUNDING",
	"REFUNDED",
	"VOIDED",
];
const NOW = "2024-01-01T00:00:00.000Z";
const input = { orderId: "o1", userId: "u1", amount: 1250, currency: "USD", paymentToken: "tok_visa" };

describe("payment status rules", () => {
	it("allows exactly the documented transitions", () => {
		const allowed = STATUSES.flatMap(from =>
			STATUSES.filter(to => canTransition(from, to)).map(to => `${from}->${to}`),
		);
		expect(allowed.sort()).toEqual([
			"FAILED->PENDING",
			"FAILED->REFUNDING",
			"FAILED->VOIDED",
			"PARTIALLY_REFUNDED->PARTIALLY_REFUNDED",
			"PARTIALLY_REFUNDED->REFUNDED",
			"PENDING->DECLINED",
			"PENDING->FAILED",
			"PENDING->REFUNDING",
			"PENDING->SUCCEEDED",
			"PENDING->VOIDED",
			"REFUNDING->REFUNDED",
			"SUCCEEDED->PARTIALLY_REFUNDED",
			"SUCCEEDED->REFUNDED",
			"SUCCEEDED->REFUNDING",
			"VOIDED->REFUNDING",
		]);
	});

	it.each([
		{ to: "VOIDED", from: ["PENDING", "FAILED"] },
		{ to: "REFUNDING", from: ["PENDING", "FAILED", "SUCCEEDED", "VOIDED"] },
		{ to: "REFUNDED", from: ["SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDING"] },
		{ to: "PENDING", from: ["FAILED"] },
	] as const)("a move to $to is a compare-and-set on $from", ({ to, from }) => {
		expect(sourcesOf(to)).toEqual(from);
	});

	it.each([
		{ record: null, holds: false },
		{ record: { charged: null, refunded: 0, currency: "USD" }, holds: false },
		{ record: { charged: 0, refunded: 0, currency: "USD" }, holds: false },
		{ record: { charged: 1250, refunded: 0, currency: "USD" }, holds: true },
		{ record: { charged: 1250, refunded: 250, currency: "USD" }, holds: true },
		{ record: { charged: 1250, refunded: 1250, currency: "USD" }, holds: false },
	])("the provider holds money for $record: $holds", ({ record, holds }) => {
		expect(providerHolds(record)).toBe(holds);
	});

	it.each([
		{ reason: "cancelled", change: { failureReason: "cancelled" } },
		{ reason: null, change: {} },
	])("voids and records a refund intent keeping the reason $reason", ({ reason, change }) => {
		expect(voidChange(reason, NOW)).toEqual({ status: "VOIDED", updatedAt: NOW, ...change });
		expect(refundIntent(reason, NOW)).toEqual({ status: "REFUNDING", updatedAt: NOW, ...change });
		expect(refundDone({ amount: 1250 }, NOW)).toEqual({
			status: "REFUNDED",
			refundedAt: NOW,
			updatedAt: NOW,
			refunded: 1250,
		});
	});

	it("asks the provider with one charge key and one refund key per payment, and announces the refund's reason", () => {
		const refunding: Payment = { ...newPayment(input, "p1", NOW), status: "REFUNDING", failureReason: "cancelled" };
		expect(chargeRequest(refunding)).toEqual({ key: "p1:charge", token: "tok_visa", amount: 1250, currency: "USD" });
		expect(refundRequest(refunding)).toEqual({
			key: "p1:refund",
			chargeKey: "p1:charge",
			amount: 1250,
			currency: "USD",
		});
		expect(refundedEvent(refunding)).toEqual({
			orderId: "o1",
			userId: "u1",
			paymentId: "p1",
			amount: 1250,
			currency: "USD",
			reason: "cancelled",
		});
		const record = { charged: 1250, refunded: 0, currency: "USD" };
		expect(auditRow(refunding, 0, record)).toEqual({
			orderId: "o1",
			status: "REFUNDING",
			amount: 1250,
			currency: "USD",
			refunded: 0,
			provider: record,
		});
	});

	it.each([
		{ outcome: "SUCCEEDED", status: "SUCCEEDED", failureReason: null },
		{ outcome: "DECLINED", status: "DECLINED", failureReason: "DECLINED" },
		{ outcome: "UNAVAILABLE", status: "FAILED", failureReason: "UNAVAILABLE" },
	] as const)("records the provider's $outcome as $status", ({ outcome, status, failureReason }) => {
		expect(afterCharge(outcome)).toEqual({ status, failureReason });
	});

	it.each([
		{ status: "PENDING", result: true },
		{ status: "SUCCEEDED", result: false },
	] as const)("charges a claimed $status payment: $result", ({ status, result }) => {
		expect(needsCharge({ orderId: "o1", status })).toBe(result);
	});

	it.each([
		{ status: "DECLINED", code: 402, type: "PAYMENT_DECLINED" },
		{ status: "FAILED", code: 409, type: "PAYMENT_CLOSED" },
		{ status: "PARTIALLY_REFUNDED", code: 409, type: "PAYMENT_CLOSED" },
		{ status: "REFUNDING", code: 409, type: "PAYMENT_CLOSED" },
		{ status: "REFUNDED", code: 409, type: "PAYMENT_CLOSED" },
		{ status: "VOIDED", code: 409, type: "PAYMENT_CLOSED" },
	] as const)("refuses to charge a $status payment with $type", ({ status, code, type }) => {
		expect(() => needsCharge({ orderId: "o1", status })).toThrow(expect.objectContaining({ code, type }));
	});

	it("reports a payment being charged by another request as unavailable for now", () => {
		expect(() => assertNotInFlight({ orderId: "o1", status: "PENDING" })).toThrow(
			expect.objectContaining({ code: 503, type: "PAYMENT_UNAVAILABLE", data: { orderId: "o1" } }),
		);
		for (const status of STATUSES.filter(s => s !== "PENDING"))
			expect(() => assertNotInFlight({ orderId: "o1", status })).not.toThrow();
	});

	it.each([
		{ outcome: "DECLINED", code: 402, type: "PAYMENT_DECLINED" },
		{ outcome: "UNAVAILABLE", code: 503, type: "PAYMENT_UNAVAILABLE" },
	] as const)("ends a $outcome charge with $type", ({ outcome, code, type }) => {
		expect(chargeError(outcome, "o1")).toMatchObject({ code, type, data: { orderId: "o1" } });
	});

	it("creates the order's payment PENDING for a first charge, and VOIDED when the order gives up first", () => {
		expect(newPayment(input, "p1", NOW)).toEqual({
			id: "p1",
			...input,
			status: "PENDING",
			failureReason: null,
			createdAt: NOW,
			updatedAt: NOW,
			refundedAt: null,
			refunded: 0,
		});
		expect(voidedPayment("o1", "out of stock", "p2", NOW)).toEqual({
			id: "p2",
			orderId: "o1",
			userId: "",
			amount: 0,
			currency: "",
			status: "VOIDED",
			paymentToken: "",
			failureReason: "out of stock",
			createdAt: NOW,
			updatedAt: NOW,
			refundedAt: null,
			refunded: 0,
		});
	});

	it("never shows the payment token", () => {
		const payment: Payment = newPayment(input, "p1", NOW);
		const { paymentToken: _token, ...view } = payment;
		expect(publicView(payment)).toEqual(view);
		expect(publicView(payment)).not.toHaveProperty("paymentToken");
		expect(publicView({ ...payment, refundIds: ["return:r1"] })).toEqual(view);
	});
});
