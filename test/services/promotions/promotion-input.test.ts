import { describe, expect, it } from "vitest";
import type { Promotion, PromotionInput } from "../../../services/promotions/contract";
import {
	buildPromotion,
	changedPromotion,
	normaliseCode,
	normaliseTime,
	promotionErrors,
} from "../../../services/promotions/promotion-input";

const NOW = "2026-06-15T12:00:00.000Z";
const base: Omit<Promotion, "id" | "createdAt" | "updatedAt"> = {
	code: "SUMMER10",
	type: "PERCENTAGE",
	value: 10,
	currency: null,
	minSubtotal: null,
	startsAt: null,
	endsAt: null,
	usageLimit: null,
	perCustomerLimit: null,
	active: true,
};
const fieldsOf = (fields: Partial<Promotion>) => promotionErrors({ ...base, ...fields }).map(e => e.field);

describe("promotion fields taken together", () => {
	it.each<[string, Partial<Promotion>, string[]]>([
		["a percentage of 10", {}, []],
		["a percentage of 1", { value: 1 }, []],
		["a percentage of 100", { value: 100 }, []],
		["a percentage of 0", { value: 0 }, ["value"]],
		["a percentage of 101", { value: 101 }, ["value"]],
		["a percentage without value", { value: null }, ["value"]],
		["a percentage restricted to a currency", { currency: "EUR" }, []],
		["a fixed amount in a currency", { type: "FIXED", value: 500, currency: "USD" }, []],
		["a fixed amount over 100", { type: "FIXED", value: 250_000, currency: "USD" }, []],
		["a fixed amount without currency", { type: "FIXED", value: 500 }, ["currency"]],
		["a fixed amount without value", { type: "FIXED", value: null, currency: "USD" }, ["value"]],
		["free shipping", { type: "FREE_SHIPPING", value: null }, []],
		["free shipping with a value", { type: "FREE_SHIPPING", value: 5 }, ["value"]],
		["free shipping in one currency", { type: "FREE_SHIPPING", value: null, currency: "GBP" }, []],
		["a window", { startsAt: "2026-06-01", endsAt: "2026-07-01T00:00:00Z" }, []],
		["a window ending at its start", { startsAt: "2026-06-01T00:00:00Z", endsAt: "2026-06-01" }, ["endsAt"]],
		["a window ending before its start", { startsAt: "2026-06-02", endsAt: "2026-06-01" }, ["endsAt"]],
		["zones compared as instants", { startsAt: "2026-06-01T10:00:00+02:00", endsAt: "2026-06-01T09:00:00Z" }, []],
		["a start only", { startsAt: "2026-06-01" }, []],
		["31 February", { endsAt: "2026-02-31" }, ["endsAt"]],
		["month 13", { startsAt: "2026-13-01" }, ["startsAt"]],
		["two faults at once", { type: "FIXED", value: null, currency: null }, ["value", "currency"]],
	])("%s: fields %j", (_label, fields, failing) => {
		expect(fieldsOf(fields)).toEqual(failing);
	});

	it("reports each fault in fastest-validator's shape", () => {
		expect(promotionErrors({ ...base, type: "FREE_SHIPPING", value: 5 })).toEqual([
			{ type: "forbidden", field: "value", message: "A FREE_SHIPPING code takes no 'value'." },
		]);
	});
});

describe("codes and times as stored", () => {
	it.each([
		["summer10", "SUMMER10"],
		["Black-Friday_2026", "BLACK-FRIDAY_2026"],
		[" abc ", "ABC"],
	])("code %j is stored as %j", (code, stored) => {
		expect(normaliseCode(code)).toBe(stored);
	});

	it.each<[string, string | null]>([
		["2026-06-01", "2026-06-01T00:00:00.000Z"],
		["2026-06-01T10:00Z", "2026-06-01T10:00:00.000Z"],
		["2026-06-01T10:00:00+02:00", "2026-06-01T08:00:00.000Z"],
		["2026-06-01T10:00:00.123456Z", "2026-06-01T10:00:00.123Z"],
		["2028-02-29", "2028-02-29T00:00:00.000Z"],
		["2026-02-29", null],
		["2026-04-31T00:00:00Z", null],
		["2026-06-01T25:00:00Z", null],
		["2026-06-01T10:00:00", null],
		["June 1st", null],
	])("time %j is stored as %j", (text, stored) => {
		expect(normaliseTime(text)).toBe(stored);
	});
});

describe("building and changing a promotion", () => {
	const input: PromotionInput = { code: "summer10", type: "PERCENTAGE", value: 10, active: true, endsAt: "2026-09-01" };

	it("fills absent fields with null and stores code and times normalised", () => {
		expect(buildPromotion(input, "p1", NOW)).toEqual({
			...base,
			id: "p1",
			endsAt: "2026-09-01T00:00:00.000Z",
			createdAt: NOW,
			updatedAt: NOW,
		});
	});

	it.each<[string, PromotionInput, string]>([
		["a FIXED code without currency", { code: "ABC", type: "FIXED", value: 5, active: true }, "currency"],
		["a percentage over 100", { code: "ABC", type: "PERCENTAGE", value: 150, active: true }, "value"],
	])("refuses %s with 422 VALIDATION_ERROR naming the field", (_label, bad, field) => {
		expect(() => buildPromotion(bad, "p1", NOW)).toThrow(
			expect.objectContaining({ code: 422, type: "VALIDATION_ERROR", data: [expect.objectContaining({ field })] }),
		);
	});

	const before = buildPromotion(input, "p1", "2026-06-01T00:00:00.000Z");

	it("keeps absent fields, clears null ones and moves updatedAt on", () => {
		const after = changedPromotion(before, { code: "autumn", endsAt: null, usageLimit: 5 }, NOW);
		expect(after).toEqual({
			...before,
			code: "AUTUMN",
			endsAt: null,
			usageLimit: 5,
			updatedAt: NOW,
		});
	});

	it("checks the promotion as changed: a new type may need its fields in the same change", () => {
		expect(() => changedPromotion(before, { type: "FREE_SHIPPING" }, NOW)).toThrow(
			expect.objectContaining({ type: "VALIDATION_ERROR", data: [expect.objectContaining({ field: "value" })] }),
		);
		expect(changedPromotion(before, { type: "FREE_SHIPPING", value: null }, NOW)).toMatchObject({
			type: "FREE_SHIPPING",
			value: null,
		});
	});

	it("gives every change a new version, even within one millisecond or with a clock behind", () => {
		expect(changedPromotion(before, {}, before.updatedAt).updatedAt).toBe("2026-06-01T00:00:00.001Z");
		expect(changedPromotion(before, {}, "2026-05-01T00:00:00.000Z").updatedAt).toBe("2026-06-01T00:00:00.001Z");
	});

	it("never changes id or createdAt", () => {
		const sneaky = { id: "p2", createdAt: NOW } as unknown as PromotionInput;
		expect(changedPromotion(before, sneaky, NOW)).toMatchObject({ id: "p1", createdAt: before.createdAt });
	});
});
