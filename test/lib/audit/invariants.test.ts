import { describe, expect, it } from "vitest";
import { checkInvariants, type AuditData } from "../../../lib/audit";

function healthy(): AuditData {
	return {
		stock: [{ productId: "p1", available: 8, reserved: 0, sold: 2, received: 10 }],
		reservations: [
			{ orderId: "o1", productId: "p1", quantity: 2, status: "COMMITTED" },
			{ orderId: "o2", productId: "p1", quantity: 1, status: "RESTORED" },
			{ orderId: "o3", productId: "p1", quantity: 4, status: "RELEASED" },
		],
		orders: [
			{ id: "o1", status: "CONFIRMED", settled: true },
			{ id: "o2", status: "CANCELLED", settled: true },
			{ id: "o3", status: "FAILED", settled: true },
		],
		payments: [
			{ orderId: "o1", status: "SUCCEEDED" },
			{ orderId: "o2", status: "REFUNDED" },
			{ orderId: "o3", status: "DECLINED" },
		],
	};
}

describe("invariant checker", () => {
	it("accepts a consistent shop", () => {
		expect(checkInvariants(healthy())).toMatchObject({
			ok: true,
			violations: [],
			counts: { orders: { CONFIRMED: 1, CANCELLED: 1, FAILED: 1 } },
		});
	});

	it("catches oversold and unbalanced stock", () => {
		const data = healthy();
		data.stock[0] = { productId: "p1", available: -1, reserved: 0, sold: 11, received: 10 };
		const report = checkInvariants(data);
		expect(report.ok).toBe(false);
		expect(report.violations.join("\n")).toMatch(/negative counter/);
		expect(report.violations.join("\n")).toMatch(/sold=11 but committed reservations hold 2/);
	});

	it("catches a confirmed order without money and a failed order that kept it", () => {
		const data = healthy();
		data.payments = [
			{ orderId: "o2", status: "REFUNDED" },
			{ orderId: "o3", status: "SUCCEEDED" },
		];
		const text = checkInvariants(data).violations.join("\n");
		expect(text).toMatch(/order o1: CONFIRMED with 0 succeeded payments/);
		expect(text).toMatch(/order o3: FAILED but holds a succeeded payment/);
	});

	it("catches a cancelled order without refund, pending work at rest and stranded reservations", () => {
		const data = healthy();
		data.payments[1] = { orderId: "o2", status: "SUCCEEDED" };
		data.orders.push({ id: "o4", status: "PENDING", settled: false });
		data.reservations.push({ orderId: "o3", productId: "p1", quantity: 1, status: "RESERVED" });
		data.stock[0].reserved = 1;
		data.stock[0].available = 7;
		const text = checkInvariants(data).violations.join("\n");
		expect(text).toMatch(/CANCELLED without a refund/);
		expect(text).toMatch(/o4: PENDING/);
		expect(text).toMatch(/1 still reserved at rest/);
		expect(text).toMatch(/FAILED with a RESERVED reservation/);
		expect(checkInvariants(data, { settled: false }).violations.join("\n")).not.toMatch(
			/still reserved at rest|o4: PENDING/,
		);
	});
});
