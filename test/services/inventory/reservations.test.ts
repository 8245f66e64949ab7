import { describe, expect, it } from "vitest";
import {
	RESERVATION_STATUSES,
	SETTLEMENTS,
	canSettle,
	lowStockAfterReserve,
	newReservation,
	reservationId,
	reservationOrder,
	shortLine,
} from "../../../services/inventory/reservations";
import { apply, isBalanced, type StockCounters } from "../../../services/inventory/stock";

const counters: StockCounters = { available: 6, reserved: 4, sold: 2, received: 12 };

describe("reservation rules", () => {
	it("allows exactly the documented status changes", () => {
		const allowed = RESERVATION_STATUSES.flatMap(from =>
			RESERVATION_STATUSES.filter(to => canSettle(from, to)).map(to => `${from}->${to}`),
		);
		expect(allowed.sort()).toEqual(["COMMITTED->RESTORED", "RESERVED->COMMITTED", "RESERVED->RELEASED"]);
	});

	it.each([
		{ step: "commit", from: "RESERVED", to: "COMMITTED", after: { available: 6, reserved: 1, sold: 5, received: 12 } },
		{ step: "release", from: "RESERVED", to: "RELEASED", after: { available: 9, reserved: 1, sold: 2, received: 12 } },
		{ step: "restore", from: "COMMITTED", to: "RESTORED", after: { available: 8, reserved: 4, sold: 0, received: 12 } },
	] as const)("$step moves $from to $to and keeps the counters balanced", ({ step, from, to, after }) => {
		const settlement = SETTLEMENTS[step];
		expect({ from: settlement.from, to: settlement.to }).toEqual({ from, to });
		const quantity = step === "restore" ? 2 : 3;
		const next = apply(counters, settlement.movement(quantity));
		expect(next).toEqual(after);
		expect(isBalanced(next)).toBe(true);
	});

	it.each([
		{ step: "commit", quantity: 5 },
		{ step: "release", quantity: 5 },
		{ step: "restore", quantity: 3 },
	] as const)("$step refuses to spend more than its counter holds ($quantity)", ({ step, quantity }) => {
		expect(() => apply(counters, SETTLEMENTS[step].movement(quantity))).toThrow(RangeError);
	});

	it("keeps one reservation per order and product", () => {
		expect(reservationId("o1", "p2")).toBe("o1:p2");
		expect(newReservation("o1", { productId: "p2", quantity: 3 }, "2024-01-01T00:00:00.000Z")).toEqual({
			id: "o1:p2",
			orderId: "o1",
			productId: "p2",
			quantity: 3,
			status: "RESERVED",
			updatedAt: "2024-01-01T00:00:00.000Z",
		});
	});

	it("reserves lines in product order, without changing the caller's array", () => {
		const items = [
			{ productId: "p3", quantity: 1 },
			{ productId: "p1", quantity: 2 },
			{ productId: "p2", quantity: 3 },
		];
		expect(reservationOrder(items).map(l => l.productId)).toEqual(["p1", "p2", "p3"]);
		expect(items.map(l => l.productId)).toEqual(["p3", "p1", "p2"]);
	});

	it.each([
		{ available: 2, expected: { productId: "p1", requested: 5, available: 2 } },
		{ available: undefined, expected: { productId: "p1", requested: 5, available: 0 } },
	])("reports a short line with what is available ($available)", ({ available, expected }) => {
		expect(shortLine({ productId: "p1", quantity: 5 }, available)).toEqual(expected);
	});

	it.each([
		{ quantity: 2, after: 4, low: true, why: "crossed from 6 to 4" },
		{ quantity: 1, after: 5, low: false, why: "still at the threshold" },
		{ quantity: 2, after: 2, low: false, why: "already below before" },
		{ quantity: 6, after: undefined, low: true, why: "no counters count as 0" },
	])("tells when a reservation takes stock below the threshold: $why", ({ quantity, after, low }) => {
		const available = new Map(after === undefined ? [] : [["p1", after]]);
		expect(lowStockAfterReserve([{ productId: "p1", quantity }], available, 5)).toEqual(
			low ? [{ productId: "p1", available: after ?? 0 }] : [],
		);
	});
});
