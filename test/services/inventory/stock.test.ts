import { describe, expect, it } from "vitest";
import {
	apply,
	crossedLowThreshold,
	guardCondition,
	isBalanced,
	movements,
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
