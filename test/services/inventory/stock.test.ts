import { describe, expect, it } from "vitest";
import {
	apply,
	crossedLowThreshold,
	guardCondition,
	isBalanced,
	movements,
	stages,
	type StagedCounters,
	type StockCounters,
} from "../../../services/inventory/stock";

const start: StockCounters = { available: 10, reserved: 0, sold: 0, received: 10 };

describe("stock arithmetic", () => {
	it("keeps available + reserved + sold == received through a sale and a cancellation", () => {
		let s = apply(start, movements.reserve(4));
		expect(s).toEqual({ available: 6, reserved: 4, sold: 0, received: 10 });
		s = apply(s, movements.commit(4));
		expect(s).toEqual({ available: 6, reserved: 0, sold: 4, received: 10 });
		s = apply(s, movements.restore(4));
		expect(s).toEqual({ available: 10, reserved: 0, sold: 0, received: 10 });
		s = apply(apply(s, movements.reserve(3)), movements.release(3));
		expect(s).toEqual(start);
		s = apply(s, movements.restock(5));
		expect(s).toEqual({ available: 15, reserved: 0, sold: 0, received: 15 });
		expect(isBalanced(s)).toBe(true);
	});

	it("guards every movement that spends a counter", () => {
		expect(() => apply(start, movements.reserve(11))).toThrow(RangeError);
		expect(() => apply(start, movements.release(1))).toThrow(RangeError);
		expect(() => apply(start, movements.commit(1))).toThrow(RangeError);
		expect(() => apply(start, movements.restore(1))).toThrow(RangeError);
		expect(movements.reserve(3).guard).toEqual({ counter: "available", min: 3 });
	});

	it("accepts only positive integer quantities", () => {
		for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => movements.reserve(bad)).toThrow(RangeError);
	});

	it("detects unbalanced or negative counters", () => {
		expect(isBalanced({ available: 5, reserved: 1, sold: 1, received: 6 })).toBe(false);
		expect(isBalanced({ available: -1, reserved: 1, sold: 0, received: 0 })).toBe(false);
	});

	it("reports a low-stock crossing once, when stock drops below the threshold", () => {
		expect(crossedLowThreshold(6, 4, 5)).toBe(true);
		expect(crossedLowThreshold(5, 4, 5)).toBe(true);
		expect(crossedLowThreshold(4, 3, 5)).toBe(false);
		expect(crossedLowThreshold(9, 5, 5)).toBe(false);
	});
});

describe("stock guards as store conditions", () => {
	it.each([
		{ movement: movements.reserve(3), condition: { available: { $gte: 3 } } },
		{ movement: movements.release(2), condition: { reserved: { $gte: 2 } } },
		{ movement: movements.commit(2), condition: { reserved: { $gte: 2 } } },
		{ movement: movements.restore(1), condition: { sold: { $gte: 1 } } },
		{ movement: movements.restock(5), condition: {} },
	])("guards $movement.inc with $condition", ({ movement, condition }) => {
		expect(guardCondition(movement)).toEqual(condition);
	});
});

describe("settlements in two steps (stores without transactions)", () => {
	const counters: StagedCounters = { available: 6, reserved: 4, sold: 2, received: 12 };

	it.each([
		{ step: "commit", movement: movements.commit(3), aside: { reserved: 1 }, on: { sold: 5 } },
		{ step: "release", movement: movements.release(3), aside: { reserved: 1 }, on: { available: 9 } },
		{ step: "restore", movement: movements.restore(2), aside: { sold: 0 }, on: { available: 8 } },
	])("$step: take puts the units aside, give hands them on, giveBack returns them", ({ movement, aside, on }) => {
		const { take, give, giveBack } = stages(movement);
		const taken = apply(counters, take);
		const q = movement.guard!.min;
		expect(taken).toEqual({ ...counters, ...aside, pending: q });
		expect(isBalanced(taken)).toBe(true);
		// Nothing reaches its target before `give`: a duplicate run never makes units sellable.
		expect(taken.available).toBe(counters.available);
		expect(apply(taken, give)).toEqual({ ...counters, ...aside, ...on, pending: 0 });
		expect(apply(taken, give)).toEqual({ ...apply(counters, movement), pending: 0 });
		expect(apply(taken, giveBack)).toEqual({ ...counters, pending: 0 });
		expect(() => apply(counters, give)).toThrow(RangeError);
	});

	it("guards the take like the movement itself", () => {
		expect(stages(movements.commit(5)).take.guard).toEqual({ counter: "reserved", min: 5 });
		expect(() => apply(counters, stages(movements.commit(5)).take)).toThrow(RangeError);
	});

	it("stages only movements from one counter to another", () => {
		expect(() => stages(movements.restock(3))).toThrow(RangeError);
		expect(() => stages({ inc: { available: -1 } })).toThrow(RangeError);
	});

	it.each([
		{ c: { available: 5, reserved: 1, sold: 0, received: 8, pending: 2 }, balanced: true },
		{ c: { available: 5, reserved: 1, sold: 0, received: 8 }, balanced: false },
		{ c: { available: 5, reserved: 1, sold: 0, received: 4, pending: -2 }, balanced: false },
	])("counts pending units in the balance ($c)", ({ c, balanced }) => {
		expect(isBalanced(c)).toBe(balanced);
	});
});
