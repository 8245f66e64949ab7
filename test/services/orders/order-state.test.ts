import { describe, expect, it } from "vitest";
import { ORDER_STATUSES, assertTransition, canTransition, isFinal } from "../../../services/orders/order-state";

describe("order state machine", () => {
	it("allows exactly the documented transitions", () => {
		const allowed = ORDER_STATUSES.flatMap(from =>
			ORDER_STATUSES.filter(to => canTransition(from, to)).map(to => `${from}->${to}`),
		);
		expect(allowed.sort()).toEqual([
			"CONFIRMED->CANCELLED",
			"CONFIRMED->SHIPPED",
			"DELIVERED->PARTIALLY_RETURNED",
			"DELIVERED->RETURNED",
			"PARTIALLY_RETURNED->PARTIALLY_RETURNED",
			"PARTIALLY_RETURNED->RETURNED",
			"PENDING->CONFIRMED",
			"PENDING->FAILED",
			"SHIPPED->DELIVERED",
			"SHIPPED->PARTIALLY_RETURNED",
			"SHIPPED->RETURNED",
		]);
	});

	it("rejects every other transition with a 409 INVALID_TRANSITION", () => {
		expect(() => assertTransition("PENDING", "SHIPPED")).toThrow(
			expect.objectContaining({ code: 409, type: "INVALID_TRANSITION", data: { from: "PENDING", to: "SHIPPED" } }),
		);
		expect(() => assertTransition("DELIVERED", "CANCELLED")).toThrow(expect.objectContaining({ code: 409 }));
		expect(() => assertTransition("SHIPPED", "CANCELLED")).toThrow(expect.objectContaining({ code: 409 }));
		expect(() => assertTransition("CONFIRMED", "SHIPPED")).not.toThrow();
		// Returns are received after shipping only; a returned order stays returned.
		expect(() => assertTransition("CONFIRMED", "RETURNED")).toThrow(expect.objectContaining({ code: 409 }));
		expect(() => assertTransition("RETURNED", "DELIVERED")).toThrow(expect.objectContaining({ code: 409 }));
	});

	it("knows the final states", () => {
		expect(ORDER_STATUSES.filter(isFinal)).toEqual(["FAILED", "CANCELLED", "RETURNED"]);
	});
});
