import { describe, expect, it } from "vitest";
import type { Payment, PaymentStatus, RefundRecord } from "../../../services/payments/contract";
import { newPayment } from "../../../services/payments/payment-status";
import {
	afterPart,
	assertSamePart,
	fullRefund,
	isCounted,
	newPartRefund,
	partRefundedEvent,
	partRefundRequest,
	partRefusal,
	partVerdict,
	paymentRows,
	refundedByPayment,
	refundView,
} from "../../../services/payments/refund-rules";

const NOW = "2024-01-01T00:00:00.000Z";
const LATER = "2024-01-02T00:00:00.000Z";
const charge = (status: PaymentStatus, refunded = 0): Payment => ({
	...newPayment({ orderId: "o1", userId: "u1", amount: 1000, currency: "USD", paymentToken: "tok_visa" }, "p1", NOW),
	status,
	refunded,
});
const input = { orderId: "o1", returnId: "r1", amount: 300, reason: "too small" };

describe("refund rules", () => {
	it.each([
		{ status: "SUCCEEDED", refunded: 0, amount: 300, verdict: "COUNT" },
		{ status: "SUCCEEDED", refunded: 0, amount: 1000, verdict: "COUNT" },
		{ status: "SUCCEEDED", refunded: 0, amount: 1001, verdict: "EXCEEDS" },
		{ status: "PARTIALLY_REFUNDED", refunded: 700, amount: 300, verdict: "COUNT" },
		{ status: "PARTIALLY_REFUNDED", refunded: 700, amount: 301, verdict: "EXCEEDS" },
		{ status: "PARTIALLY_REFUNDED", refunded: 700, amount: 0, verdict: "COUNT" },
		{ status: "REFUNDED", refunded: 1000, amount: 1, verdict: "CLOSED" },
		{ status: "REFUNDING", refunded: 0, amount: 1, verdict: "CLOSED" },
		{ status: "PENDING", refunded: 0, amount: 1, verdict: "CLOSED" },
		{ status: "FAILED", refunded: 0, amount: 1, verdict: "CLOSED" },
		{ status: "DECLINED", refunded: 0, amount: 1, verdict: "CLOSED" },
		{ status: "VOIDED", refunded: 0, amount: 1, verdict: "CLOSED" },
	] as const)("$amount of a $status charge of 1000 with $refunded refunded: $verdict", c => {
		expect(partVerdict(charge(c.status, c.refunded), c.amount)).toBe(c.verdict);
	});

	it.each([
		{ status: "SUCCEEDED", refunded: 0, amount: 300, after: { status: "PARTIALLY_REFUNDED", refunded: 300 } },
		{
			status: "PARTIALLY_REFUNDED",
			refunded: 300,
			amount: 300,
			after: { status: "PARTIALLY_REFUNDED", refunded: 600 },
		},
		{ status: "PARTIALLY_REFUNDED", refunded: 600, amount: 400, after: { status: "REFUNDED", refunded: 1000 } },
		{ status: "SUCCEEDED", refunded: 0, amount: 1000, after: { status: "REFUNDED", refunded: 1000 } },
		{ status: "SUCCEEDED", refunded: 0, amount: 0, after: { status: "SUCCEEDED", refunded: 0 } },
	] as const)("counting $amount against a $status charge with $refunded refunded: $after", c => {
		const next = afterPart(charge(c.status, c.refunded), c.amount, LATER);
		expect(next).toMatchObject({ ...c.after, updatedAt: LATER });
		expect(next.refundedAt).toBe(c.after.status === "REFUNDED" ? LATER : undefined);
	});

	it("parts that add up to the charge close it, and the next cent is refused", () => {
		let payment = charge("SUCCEEDED");
		for (const amount of [333, 333, 334]) {
			expect(partVerdict(payment, amount)).toBe("COUNT");
			payment = { ...payment, ...afterPart(payment, amount, LATER) };
		}
		expect(payment).toMatchObject({ status: "REFUNDED", refunded: 1000 });
		expect(partVerdict(payment, 1)).toBe("CLOSED");
	});

	it.each([
		{ verdict: "EXCEEDS", type: "REFUND_EXCEEDS_CHARGE", data: { orderId: "o1", amount: 400, left: 300 } },
		{ verdict: "CLOSED", type: "PAYMENT_CLOSED", data: { orderId: "o1" } },
	] as const)("refuses $verdict with 409 $type", ({ verdict, type, data }) => {
		expect(partRefusal(verdict, charge("PARTIALLY_REFUNDED", 700), 400)).toMatchObject({ code: 409, type, data });
	});

	it("records a return's refund PENDING and uncounted, with its own provider key against the charge's", () => {
		const refund = newPartRefund(charge("SUCCEEDED"), input, NOW);
		expect(refund).toEqual({
			id: "return:r1",
			orderId: "o1",
			paymentId: "p1",
			returnId: "r1",
			amount: 300,
			currency: "USD",
			status: "PENDING",
			reason: "too small",
			createdAt: NOW,
			updatedAt: NOW,
			counted: false,
		});
		expect(partRefundRequest(charge("SUCCEEDED"), refund)).toEqual({
			key: "return:r1:refund",
			chargeKey: "p1:charge",
			amount: 300,
			currency: "USD",
		});
		expect(partRefundedEvent(charge("SUCCEEDED"), refund)).toEqual({
			orderId: "o1",
			userId: "u1",
			paymentId: "p1",
			amount: 300,
			currency: "USD",
			reason: "too small",
			returnId: "r1",
		});
	});

	it.each([
		{ change: {}, ok: true },
		{ change: { amount: 301 }, ok: false },
		{ change: { orderId: "o2" }, ok: false },
		{ change: { reason: "another" }, ok: true },
	])("a repeated return $change asks for the same refund: $ok", ({ change, ok }) => {
		const refund = newPartRefund(charge("SUCCEEDED"), input, NOW);
		const check = () => assertSamePart(refund, { ...input, ...change });
		if (ok) expect(check).not.toThrow();
		else expect(check).toThrow(expect.objectContaining({ code: 409, type: "REFUND_MISMATCH" }));
	});

	it.each([
		{ counted: false, refundIds: undefined, result: false },
		{ counted: true, refundIds: undefined, result: true },
		{ counted: false, refundIds: ["return:r2"], result: false },
		{ counted: false, refundIds: ["return:r2", "return:r1"], result: true },
	])("counted: flag $counted, charge markers $refundIds: $result", ({ counted, refundIds, result }) => {
		expect(isCounted({ id: "return:r1", counted }, { refundIds })).toBe(result);
	});

	it("lists the charge, then its refunds in the order they were made, the full refund included", () => {
		const cancelled = { ...charge("REFUNDED", 1000), failureReason: "cancelled" };
		const full = fullRefund(cancelled, LATER);
		expect(full).toEqual({
			id: "p1:refund",
			orderId: "o1",
			paymentId: "p1",
			returnId: null,
			amount: 1000,
			currency: "USD",
			status: "SUCCEEDED",
			reason: "cancelled",
			createdAt: LATER,
			updatedAt: LATER,
			counted: true,
		});
		const part: RefundRecord = { ...newPartRefund(cancelled, input, NOW), status: "FAILED" };
		const { paymentToken: _t, ...view } = cancelled;
		const rows = paymentRows(view, [full, part]);
		expect(rows.map(r => [r.kind, r.id, r.status])).toEqual([
			["CHARGE", "p1", "REFUNDED"],
			["REFUND", "return:r1", "FAILED"],
			["REFUND", "p1:refund", "SUCCEEDED"],
		]);
		expect(rows[1]).not.toHaveProperty("counted");
		const { returnId: _stored, ...asStoredInMemory } = full;
		expect(paymentRows(null, [asStoredInMemory as RefundRecord])).toEqual([{ ...refundView(full), kind: "REFUND" }]);
		expect(refundView(full)).toMatchObject({ returnId: null });
		expect(paymentRows(null, [])).toEqual([]);
		// Made in the same millisecond: in the order the store gave them.
		const twin = { ...part, id: "return:r0" };
		expect(paymentRows(null, [part, twin]).map(r => r.id)).toEqual([part.id, "return:r0"]);
		expect(paymentRows(null, [twin, part]).map(r => r.id)).toEqual(["return:r0", part.id]);
	});

	it("sums what the SUCCEEDED refunds of each payment gave back", () => {
		const refunds = [
			{ paymentId: "p1", amount: 300, status: "SUCCEEDED" },
			{ paymentId: "p1", amount: 200, status: "FAILED" },
			{ paymentId: "p1", amount: 100, status: "PENDING" },
			{ paymentId: "p1", amount: 50, status: "SUCCEEDED" },
			{ paymentId: "p2", amount: 999, status: "SUCCEEDED" },
		] as const;
		expect(refundedByPayment(refunds)).toEqual(
			new Map([
				["p1", 350],
				["p2", 999],
			]),
		);
	});
});
