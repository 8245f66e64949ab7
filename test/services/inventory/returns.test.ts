import { describe, expect, it } from "vitest";
import {
	newReturnedStock,
	parseReturnMarker,
	returnedStockId,
	returnLines,
	returnMarker,
	returnsInFlight,
} from "../../../services/inventory/returns";
import { parseMarker } from "../../../services/inventory/reservations";
import { apply, isBalanced, restockStages, type StagedCounters } from "../../../services/inventory/stock";

const NOW = "2024-01-01T00:00:00.000Z";

describe("return rules", () => {
	it("one record per return and variant", () => {
		expect(returnedStockId("ret-1", "v-1")).toBe("ret-1:v-1");
		expect(newReturnedStock("ret-1", { productId: "v-1", quantity: 2 }, NOW)).toEqual({
			id: "ret-1:v-1",
			returnId: "ret-1",
			productId: "v-1",
			quantity: 2,
			updatedAt: NOW,
		});
	});

	it.each([
		{ items: [{ productId: "b", quantity: 1 }], lines: [{ productId: "b", quantity: 1 }] },
		{
			items: [
				{ productId: "b", quantity: 1 },
				{ productId: "a", quantity: 2 },
				{ productId: "b", quantity: 3 },
			],
			lines: [
				{ productId: "a", quantity: 2 },
				{ productId: "b", quantity: 4 },
			],
		},
	])("merges repeated variants and orders lines by variant: $items", ({ items, lines }) => {
		expect(returnLines(items)).toEqual(lines);
	});

	it.each(["ret-1:v-1", "a>b*c#d:e", "ret:with>RETURNED*2#x:v"])("reads back a marker of record %s whole", id => {
		const marker = { returnedId: id, quantity: 3, token: "tok-1" };
		expect(parseReturnMarker(returnMarker(marker))).toEqual(marker);
	});

	it.each(["ret-1:v-1>RESERVED#tok", "ret-1:v-1>RETURNED*0#tok", "ret-1:v-1>RETURNED*x#tok", "nothing", "a*1#t"])(
		"reads %s as no return marker",
		marker => expect(parseReturnMarker(marker)).toBeUndefined(),
	);

	it("a return marker is never read as a reservation's, nor a reservation's as a return's", () => {
		const marker = returnMarker({ returnedId: "o-1:v-1", quantity: 2, token: "t" });
		expect(parseMarker(marker)).toBeUndefined();
		const moves = [marker, "o-1:v-1>COMMITTED#t2", returnMarker({ returnedId: "o-2:v-1", quantity: 1, token: "t3" })];
		expect(returnsInFlight("o-1:v-1", moves)).toEqual([{ returnedId: "o-1:v-1", quantity: 2, token: "t" }]);
		expect(returnsInFlight("o-1:v-1", undefined)).toEqual([]);
	});

	it.each([
		{ step: "give", after: { available: 7, reserved: 1, sold: 2, received: 10, pending: 0 } },
		{ step: "giveBack", after: { available: 4, reserved: 1, sold: 2, received: 7, pending: 0 } },
	] as const)("a staged restock stays balanced through take and $step", ({ step, after }) => {
		const start: StagedCounters = { available: 4, reserved: 1, sold: 2, received: 7, pending: 0 };
		const stages = restockStages(3);
		const taken = apply(start, stages.take);
		expect(taken).toEqual({ available: 4, reserved: 1, sold: 2, received: 10, pending: 3 });
		expect(isBalanced(taken)).toBe(true);
		const done = apply(taken, stages[step]);
		expect(done).toEqual(after);
		expect(isBalanced(done)).toBe(true);
		expect(() => apply(start, stages[step])).toThrow(RangeError);
	});

	it("stages only positive integer restocks", () => {
		for (const bad of [0, -1, 1.5]) expect(() => restockStages(bad)).toThrow(RangeError);
	});
});
