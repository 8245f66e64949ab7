import { describe, expect, it } from "vitest";
import {
	RESERVATION_STATUSES,
	SETTLEMENTS,
	canSettle,
	lowStockAfterReserve,
	moveMarker,
	movesInFlight,
	newReservation,
	parseMarker,
	reservationId,
	reservationOrder,
	settlementTo,
	shortLine,
	uncoveredLines,
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

describe("move markers (stores without transactions)", () => {
	it.each([
		{ to: "COMMITTED", settlement: SETTLEMENTS.commit },
		{ to: "RELEASED", settlement: SETTLEMENTS.release },
		{ to: "RESTORED", settlement: SETTLEMENTS.restore },
		{ to: "RESERVED", settlement: undefined },
	] as const)("the settlement ending in $to", ({ to, settlement }) => {
		expect(settlementTo(to)).toBe(settlement);
	});

	it.each(["o1:p1", "o>1:p#1", "o#1>COMMITTED:p1"])("reads back every reservation id whole (%s)", reservationId => {
		const marker = { reservationId, to: "COMMITTED", token: "3f1c" } as const;
		expect(parseMarker(moveMarker(marker))).toEqual(marker);
	});

	it.each(["", "o1:p1", "o1:p1>COMMITTED", "o1:p1>SHIPPED#t", "o1:p1#t"])("rejects a malformed marker (%j)", m => {
		expect(parseMarker(m)).toBeUndefined();
	});

	it("lists the moves in flight of one reservation, not of another whose id starts the same", () => {
		const moves = [
			moveMarker({ reservationId: "o1:p1", to: "COMMITTED", token: "a" }),
			moveMarker({ reservationId: "o1:p10", to: "COMMITTED", token: "b" }),
			moveMarker({ reservationId: "o1:p1", to: "RELEASED", token: "c" }),
		];
		expect(movesInFlight("o1:p1", moves).map(m => m.token)).toEqual(["a", "c"]);
		expect(movesInFlight("o1:p1", undefined)).toEqual([]);
	});
});

describe("an order's lines against its reservations", () => {
	const held = (productId: string, quantity: number, status: "RESERVED" | "COMMITTED" | "RELEASED") => ({
		productId,
		quantity,
		status,
	});
	const lines = [
		{ productId: "p1", quantity: 2 },
		{ productId: "p2", quantity: 1 },
	];

	it.each([
		{ why: "every line held", rows: [held("p1", 2, "RESERVED"), held("p2", 1, "COMMITTED")], uncovered: [] },
		{
			why: "nothing reserved",
			rows: [],
			uncovered: [
				{ productId: "p1", quantity: 2, held: 0 },
				{ productId: "p2", quantity: 1, held: 0 },
			],
		},
		{
			why: "a line released",
			rows: [held("p1", 2, "RESERVED"), held("p2", 1, "RELEASED")],
			uncovered: [{ productId: "p2", quantity: 1, held: 0 }],
		},
		{
			why: "fewer units held",
			rows: [held("p1", 1, "RESERVED"), held("p2", 1, "RESERVED")],
			uncovered: [{ productId: "p1", quantity: 2, held: 1 }],
		},
		{
			why: "more units held",
			rows: [held("p1", 3, "RESERVED"), held("p2", 1, "RESERVED")],
			uncovered: [{ productId: "p1", quantity: 2, held: 3 }],
		},
		{
			why: "a reservation of another product only",
			rows: [held("p1", 2, "RESERVED"), held("p2", 1, "RESERVED"), held("p3", 5, "RESERVED")],
			uncovered: [],
		},
	] as const)("$why", ({ rows, uncovered }) => {
		expect(uncoveredLines(lines, rows, ["RESERVED", "COMMITTED"])).toEqual(uncovered);
	});

	it("counts repeated products together and only the accepted statuses", () => {
		const repeated = [...lines, { productId: "p1", quantity: 1 }];
		expect(uncoveredLines(repeated, [held("p1", 3, "COMMITTED"), held("p2", 1, "COMMITTED")], ["COMMITTED"])).toEqual(
			[],
		);
		expect(uncoveredLines(lines, [held("p1", 2, "RESERVED"), held("p2", 1, "COMMITTED")], ["COMMITTED"])).toEqual([
			{ productId: "p1", quantity: 2, held: 0 },
		]);
	});
});
