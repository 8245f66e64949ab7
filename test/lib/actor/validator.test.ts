import { Errors, ServiceBroker, Validators } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GuardedValidator } from "../../../lib/actor/validator";

// A client's JSON that fastest-validator 1.x cannot describe in its error message: an object whose toString is text.
const UNDESCRIBABLE = { sku: [{ toString: "x" }] };

describe("params checked by the shop's validator", () => {
	const broker = new ServiceBroker({ logger: false, validator: new GuardedValidator() });
	broker.createService({
		name: "catalogue",
		actions: {
			rename: { params: { sku: "string" }, handler: () => "renamed" },
			check: { params: { $$async: true, sku: "string" }, handler: () => "checked" },
		},
	});
	beforeAll(() => broker.start());
	afterAll(() => broker.stop());

	it.each(["catalogue.rename", "catalogue.check"])("%s: such a value is invalid params (422)", async action => {
		const err = await broker.call(action, UNDESCRIBABLE).catch((e: unknown) => e);
		expect(err).toBeInstanceOf(Errors.ValidationError);
		expect(err).toMatchObject({ code: 422, type: "VALIDATION_ERROR" });
	});

	it("reports an ordinary invalid value by its field, and lets valid params through", async () => {
		const err = await broker.call("catalogue.rename", { sku: 5 }).catch((e: unknown) => e);
		expect(err).toMatchObject({ code: 422, data: [expect.objectContaining({ field: "sku", type: "string" })] });
		expect(await broker.call("catalogue.rename", { sku: "A-1" })).toBe("renamed");
	});

	it("is needed: fastest-validator itself throws a TypeError on that value", () => {
		const check = new Validators.Fastest().compile({ sku: "string" }) as (params: unknown) => unknown;
		expect(() => check(UNDESCRIBABLE)).toThrow(TypeError);
	});
});
