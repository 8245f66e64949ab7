import { describe, expect, it } from "vitest";
import { Errors } from "moleculer";
import { ConflictError, OutOfStockError, PaymentDeclinedError, UnprocessableError } from "../../../lib/errors";
import { classifyFailure, failureError } from "../../../services/orders/order-failure";

describe("order failure classification", () => {
	it("passes business refusals through with the order id", () => {
		const f = classifyFailure(
			"reserve",
			new OutOfStockError({ lines: [{ productId: "p", requested: 2, available: 1 }] }),
			"o1",
		);
		expect(f).toMatchObject({
			step: "reserve",
			code: 409,
			type: "OUT_OF_STOCK",
			data: { orderId: "o1", lines: [{ productId: "p", requested: 2, available: 1 }] },
		});
		expect(classifyFailure("payment", new PaymentDeclinedError(), "o2")).toMatchObject({
			code: 402,
			type: "PAYMENT_DECLINED",
			data: { orderId: "o2" },
		});
	});

	it("passes a code used up while the saga ran (409) or no longer applicable (422) through, with the order id", () => {
		const exhausted = new ConflictError("Used up", "DISCOUNT_EXHAUSTED", { reason: "EXHAUSTED" });
		expect(classifyFailure("promotion", exhausted, "o7")).toMatchObject({
			step: "promotion",
			code: 409,
			type: "DISCOUNT_EXHAUSTED",
			data: { reason: "EXHAUSTED", orderId: "o7" },
		});
		const limit = new UnprocessableError("Used", "DISCOUNT_NOT_APPLICABLE", { reason: "CUSTOMER_LIMIT" });
		expect(classifyFailure("promotion", limit, "o8")).toMatchObject({
			code: 422,
			type: "DISCOUNT_NOT_APPLICABLE",
			data: { reason: "CUSTOMER_LIMIT", orderId: "o8" },
		});
	});

	it("turns any infrastructure failure on the way to payments into 503 PAYMENT_UNAVAILABLE", () => {
		for (const err of [
			new Errors.ServiceNotAvailableError({ action: "payments.charge" }),
			new Errors.RequestTimeoutError({ action: "payments.charge" }),
			new Error("boom"),
		]) {
			expect(classifyFailure("payment", err, "o3")).toMatchObject({
				code: 503,
				type: "PAYMENT_UNAVAILABLE",
				data: { orderId: "o3" },
			});
		}
	});

	it("never hands an internal validation error to the client", () => {
		const internal = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{ field: "items", nodeID: "n1", action: "inventory.reserve" },
		]);
		expect(classifyFailure("reserve", internal, "o6")).toMatchObject({
			code: 503,
			type: "SERVICE_UNAVAILABLE",
			data: { orderId: "o6" },
		});
	});

	it("reports other infrastructure failures as SERVICE_UNAVAILABLE", () => {
		expect(
			classifyFailure("reserve", new Errors.ServiceNotAvailableError({ action: "inventory.reserve" }), "o4"),
		).toMatchObject({ code: 503, type: "SERVICE_UNAVAILABLE" });
	});

	it("rebuilds the same client error for replays", () => {
		const err = failureError(classifyFailure("payment", new PaymentDeclinedError(), "o5")) as Errors.MoleculerError;
		expect(err).toMatchObject({
			name: "PaymentDeclinedError",
			code: 402,
			type: "PAYMENT_DECLINED",
			data: { orderId: "o5" },
		});
	});
});
