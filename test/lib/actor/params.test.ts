import { Validators } from "moleculer";
import { describe, expect, it } from "vitest";
import { page, pageSize, params, quantity, stockLevel } from "../../../lib/actor";

/** Issue 18, finding 6: numbers are numbers; the gateway converts query strings (services/api/request.ts). */
describe("number params", () => {
	const validator = new Validators.Fastest();
	const check = (schema: Record<string, unknown>, value: unknown) => {
		const p: Record<string, unknown> = { value };
		const checker = validator.compile(params({ value: schema })) as (input: object) => true | unknown[];
		return { ok: checker(p) === true, value: p.value };
	};

	it.each([
		["quantity", quantity],
		["stockLevel", stockLevel],
		["page", page],
		["pageSize", pageSize],
	])("%s accepts JSON integers only", (_name, rule) => {
		expect(check(rule, 1)).toEqual({ ok: true, value: 1 });
		for (const bad of ["", "1", "0x10", "\t\n", " 1", [], [1], false, true, null, {}, 1.5, "1e1"])
			expect(check({ ...rule, optional: false }, bad).ok, JSON.stringify(bad)).toBe(false);
	});
});
