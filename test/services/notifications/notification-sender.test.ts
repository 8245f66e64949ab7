import { describe as group, expect, it } from "vitest";
import { describe } from "../../../services/notifications/notification-sender";

group("notification texts", () => {
	it.each([
		[
			"user.registered",
			{ userId: "u1", email: "ann@example.com", name: "Ann" },
			{ title: "Welcome to Emporium", body: "Hello Ann, your account is ready." },
		],
		[
			"order.confirmed",
			{ orderId: "o1", userId: "u1", total: 12345, currency: "EUR" },
			{ title: "Order confirmed", body: "Order o1 is confirmed: 123.45 EUR." },
		],
		[
			"order.failed",
			{ orderId: "o1", userId: "u1", failureReason: "OUT_OF_STOCK" },
			{ title: "Order failed", body: "Order o1 could not be completed (OUT_OF_STOCK)." },
		],
		["order.cancelled", { orderId: "o1", userId: "u1" }, { title: "Order cancelled", body: "Order o1 was cancelled." }],
		["order.shipped", { orderId: "o1", userId: "u1" }, { title: "Order shipped", body: "Order o1 is on its way." }],
		[
			"payment.refunded",
			{ orderId: "o1", userId: "u1", amount: 999, currency: "USD" },
			{ title: "Refund issued", body: "9.99 USD was refunded for order o1." },
		],
		[
			"inventory.low",
			{ productId: "p1", available: 2, threshold: 5 },
			{ title: "Low stock", body: "Product p1 is down to 2 (threshold 5)." },
		],
	])("%s", (type, data, expected) => {
		expect(describe({ type, data })).toEqual(expected);
	});

	it("writes missing or odd fields as a template literal would", () => {
		expect(describe({ type: "order.failed", data: { orderId: "o1", failureReason: null } }).body).toBe(
			"Order o1 could not be completed (null).",
		);
		expect(describe({ type: "order.confirmed", data: {} }).body).toBe("Order undefined is confirmed: NaN undefined.");
	});

	it("refuses an event type nobody is told about", () => {
		expect(() => describe({ type: "order.created", data: {} })).toThrow("No notification for event type order.created");
		expect(() => describe({ type: "__proto__", data: {} })).toThrow("No notification for event type __proto__");
	});
});
