import { describe, expect, it } from "vitest";
import { moneyFieldsOf } from "../../../services/orders/migrations";
import { AT, legacyOrder } from "./legacy-order";

describe("orders-0001-money-rules: what an order of the release before gains", () => {
	it("its total as subtotal and total, no code, shipping or tax; each line costs its line total", () => {
		expect(moneyFieldsOf(legacyOrder("o-1"))).toEqual({
			items: [
				expect.objectContaining({ variantId: "p-1", lineTotal: 2400, discount: 0, tax: 0, total: 2400 }),
				expect.objectContaining({ variantId: "p-2", lineTotal: 650, discount: 0, tax: 0, total: 650 }),
			],
			totals: { subtotal: 3050, discount: 0, shipping: 0, tax: 0, total: 3050 },
			discountCode: null,
			discount: null,
			shippingMethod: null,
			taxRate: null,
			shippedAt: null,
			deliveredAt: null,
		});
	});

	it.each([
		["PENDING", null, null],
		["CONFIRMED", null, null],
		["FAILED", null, null],
		["CANCELLED", null, null],
		["SHIPPED", AT, null],
		["DELIVERED", AT, AT],
	] as const)("%s: shipped at %s, delivered at %s (its last change, the latest it can have been)", (status, s, d) => {
		expect(moneyFieldsOf(legacyOrder("o-1", status))).toMatchObject({ shippedAt: s, deliveredAt: d });
	});

	it("nothing for an order that has its totals (the step runs again, or on a new order)", () => {
		const totals = { subtotal: 3050, discount: 0, shipping: 0, tax: 0, total: 3050 };
		expect(moneyFieldsOf({ ...legacyOrder("o-1"), totals })).toBeNull();
	});
});
