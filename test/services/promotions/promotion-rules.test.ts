import { describe, expect, it } from "vitest";
import type { NotApplicableReason, Promotion } from "../../../services/promotions/contract";
import {
	discountRuleOf,
	exhausted,
	freeSlots,
	notApplicable,
	notApplicableReason,
	slotWindows,
	unusableReason,
	type CartOfCode,
	type UsesHeld,
} from "../../../services/promotions/promotion-rules";

const NOW = "2026-06-15T12:00:00.000Z";
const promotion = (fields: Partial<Promotion> = {}): Promotion => ({
	id: "p1",
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
	createdAt: "2026-01-01T00:00:00.000Z",
	updatedAt: "2026-01-01T00:00:00.000Z",
	...fields,
});
const cart: CartOfCode = { subtotal: 5000, currency: "USD" };
const none: UsesHeld = { total: 0, customer: 0 };

describe("when a code applies", () => {
	it.each<[string, Promotion | null, CartOfCode, UsesHeld, NotApplicableReason | null]>([
		["a plain active code", promotion(), cart, none, null],
		["no such code", null, cart, none, "UNKNOWN"],
		["a code switched off", promotion({ active: false }), cart, none, "INACTIVE"],
		[
			"inactive comes before the dates",
			promotion({ active: false, endsAt: "2026-01-01T00:00:00.000Z" }),
			cart,
			none,
			"INACTIVE",
		],
		["a code starting later", promotion({ startsAt: "2026-06-15T12:00:00.001Z" }), cart, none, "NOT_STARTED"],
		["a code starting now", promotion({ startsAt: NOW }), cart, none, null],
		["a code that ended", promotion({ endsAt: "2026-06-15T11:59:59.999Z" }), cart, none, "EXPIRED"],
		["a code ending now (endsAt excluded)", promotion({ endsAt: NOW }), cart, none, "EXPIRED"],
		["a code ending later", promotion({ endsAt: "2026-06-15T12:00:00.001Z" }), cart, none, null],
		["another currency", promotion({ type: "FIXED", value: 500, currency: "EUR" }), cart, none, "CURRENCY"],
		["its currency", promotion({ type: "FIXED", value: 500, currency: "USD" }), cart, none, null],
		["currency before minimum", promotion({ currency: "EUR", minSubtotal: 9999 }), cart, none, "CURRENCY"],
		["below the minimum", promotion({ minSubtotal: 5001 }), cart, none, "MIN_SUBTOTAL"],
		["at the minimum", promotion({ minSubtotal: 5000 }), cart, none, null],
		["uses below the limit", promotion({ usageLimit: 10 }), cart, { total: 9, customer: 0 }, null],
		["uses at the limit", promotion({ usageLimit: 10 }), cart, { total: 10, customer: 0 }, "EXHAUSTED"],
		["uses over a lowered limit", promotion({ usageLimit: 3 }), cart, { total: 7, customer: 0 }, "EXHAUSTED"],
		["unlimited uses", promotion(), cart, { total: 1_000_000, customer: 50 }, null],
		["customer below the limit", promotion({ perCustomerLimit: 2 }), cart, { total: 5, customer: 1 }, null],
		["customer at the limit", promotion({ perCustomerLimit: 2 }), cart, { total: 5, customer: 2 }, "CUSTOMER_LIMIT"],
		[
			"global limit before customer",
			promotion({ usageLimit: 1, perCustomerLimit: 1 }),
			cart,
			{ total: 1, customer: 1 },
			"EXHAUSTED",
		],
		[
			"minimum before limits",
			promotion({ minSubtotal: 9000, usageLimit: 1 }),
			cart,
			{ total: 1, customer: 0 },
			"MIN_SUBTOTAL",
		],
	])("%s", (_label, promo, asked, uses, reason) => {
		expect(notApplicableReason(promo, asked, NOW, uses)).toBe(reason);
	});

	it.each<[string, Promotion | null, NotApplicableReason | null]>([
		["cart rules and limits", promotion({ minSubtotal: 1_000_000, currency: "EUR", usageLimit: 1 }), null],
		["switched off", promotion({ active: false }), "INACTIVE"],
		["not started", promotion({ startsAt: "2027-01-01T00:00:00.000Z" }), "NOT_STARTED"],
		["ended", promotion({ endsAt: "2026-01-01T00:00:00.000Z" }), "EXPIRED"],
		["missing", null, "UNKNOWN"],
	])("at a reservation only existence, switch and dates count: %s -> %s", (_label, promo, reason) => {
		expect(unusableReason(promo, NOW)).toBe(reason);
	});

	it.each<[Partial<Promotion>, object]>([
		[{}, { code: "SUMMER10", type: "PERCENTAGE", value: 10 }],
		[
			{ type: "FIXED", value: 500, currency: "USD" },
			{ code: "SUMMER10", type: "FIXED", value: 500 },
		],
		[
			{ type: "FREE_SHIPPING", value: null },
			{ code: "SUMMER10", type: "FREE_SHIPPING", value: null },
		],
	])("an order keeps the rule %o", (fields, rule) => {
		expect(discountRuleOf(promotion(fields))).toEqual(rule);
	});
});

describe("refusals", () => {
	it("a code that does not apply is 422 DISCOUNT_NOT_APPLICABLE with the reason", () => {
		expect(notApplicable("MIN_SUBTOTAL", { code: "SUMMER10" })).toMatchObject({
			code: 422,
			type: "DISCOUNT_NOT_APPLICABLE",
			data: { reason: "MIN_SUBTOTAL", code: "SUMMER10" },
		});
	});

	it("a code that ran out during a checkout is 409 DISCOUNT_EXHAUSTED with the order", () => {
		expect(exhausted("CUSTOMER_LIMIT", { code: "SUMMER10", orderId: "o1" })).toMatchObject({
			code: 409,
			type: "DISCOUNT_EXHAUSTED",
			data: { reason: "CUSTOMER_LIMIT", code: "SUMMER10", orderId: "o1" },
		});
	});
});

describe("slot search", () => {
	it.each<[number, number, number, [number, number][]]>([
		[0, 10, 1000, [[0, 10]]],
		[7, 10, 1000, [[0, 10]]],
		[
			0,
			2500,
			1000,
			[
				[0, 1000],
				[1000, 2000],
				[2000, 2500],
			],
		],
		[
			1500,
			2500,
			1000,
			[
				[1000, 2000],
				[2000, 2500],
				[0, 1000],
			],
		],
		[
			2400,
			2500,
			1000,
			[
				[2000, 2500],
				[0, 1000],
				[1000, 2000],
			],
		],
		// More held than the limit allows (it was lowered): still every slot under the limit, once.
		[
			5000,
			2500,
			1000,
			[
				[2000, 2500],
				[0, 1000],
				[1000, 2000],
			],
		],
		[3, 1, 1000, [[0, 1]]],
		[0, 0, 1000, []],
	])("held %i, limit %i, windows of %i: %j", (held, limit, size, windows) => {
		expect(slotWindows(held, limit, size)).toEqual(windows);
	});

	it("the windows cover every slot under the limit exactly once", () => {
		for (const [held, limit] of [
			[0, 1],
			[13, 37],
			[99, 100],
			[250, 1000],
			[7, 7],
		]) {
			const slots = slotWindows(held, limit, 10).flatMap(([from, to]) =>
				Array.from({ length: to - from }, (_, i) => from + i),
			);
			expect(slots.sort((a, b) => a - b)).toEqual(Array.from({ length: limit }, (_, i) => i));
		}
	});

	it.each<[number[], number, number, number[]]>([
		[[], 0, 5, [0, 1, 2, 3, 4]],
		[[0, 1, 2], 0, 5, [3, 4]],
		[[0, 2, 3], 0, 5, [1, 4]],
		[[0, 1, 2, 3, 4], 0, 5, []],
		[[10, 12], 10, 14, [11, 13]],
		// Rows outside the window (an unlimited use has none) do not count.
		[[-1, 7, 99], 5, 8, [5, 6]],
	])("taken %j of [%i, %i): free %j", (taken, from, to, free) => {
		expect(freeSlots(taken, from, to)).toEqual(free);
	});
});
