import { describe, expect, it } from "vitest";
import type { ReturnItem, ReturnStatus } from "../../../services/orders/contract";
import type { OrderStatus } from "../../../services/orders/order-state";
import type { VariantQuantity } from "../../../services/orders/pricing";
import {
	DAY_MS,
	checkReturn,
	priceReturn,
	receiptAmounts,
	requestAmounts,
	shippingRefund,
	statusAfterReceipt,
	type HeldReturn,
	type ReturnableOrder,
} from "../../../services/orders/returns";
import type { DiscountRule, ShippingCharge, TaxRule } from "../../../services/orders/totals";
import { DELIVERED_AT, SHIPPED_AT, pricedOrder, type Line, type PricingOpts } from "./return-fakes";

const DELIVERED_MS = Date.parse(DELIVERED_AT);

const TEN_OFF: DiscountRule = { code: "TEN", type: "FIXED", value: 1001 };
const PCT_15: DiscountRule = { code: "P15", type: "PERCENTAGE", value: 15 };
const STANDARD: ShippingCharge = { id: "std", name: "Standard", price: 499, freeOver: null };
const GB: TaxRule = { country: "GB", rate: 2000, shippingTaxable: true };
const DE: TaxRule = { country: "DE", rate: 1900, shippingTaxable: false };
const order = (lines: Line[], opts?: PricingOpts) => pricedOrder(lines, opts);

const THREE_LINES: Line[] = [
	{ variantId: "a", unitPrice: 1999, quantity: 3 },
	{ variantId: "b", unitPrice: 4550, quantity: 1 },
	{ variantId: "c", unitPrice: 333, quantity: 7 },
];

/** Receives returns one after another (receipt amounts against those received before); their refunds. */
function receiveInTurn(o: ReturnableOrder, returns: VariantQuantity[][]): number[] {
	const received: HeldReturn[] = [];
	return returns.map(lines => {
		const { items, refundAmount } = receiptAmounts(o, received, lines);
		received.push({ status: "RECEIVED", items });
		return refundAmount;
	});
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
const held = (status: ReturnStatus, lines: VariantQuantity[]): HeldReturn => ({
	status,
	items: lines.map((l): ReturnItem => ({ ...l, refundAmount: 0 })),
});

/** The 422 RETURN_NOT_ALLOWED `checkReturn` throws, or null. */
function refusal(run: () => unknown): { reason: string } & Record<string, unknown> {
	try {
		run();
	} catch (err) {
		const e = err as { code: number; type: string; data: { reason: string } & Record<string, unknown> };
		expect(e.code).toBe(422);
		expect(e.type).toBe("RETURN_NOT_ALLOWED");
		return e.data;
	}
	throw new Error("not refused");
}

describe("return amounts", () => {
	const cases: [string, Parameters<typeof order>[1]][] = [
		["no discount, no tax, no shipping", {}],
		["fixed discount, shipping, GB tax on shipping", { discount: TEN_OFF, shipping: STANDARD, tax: GB }],
		["15 % off, shipping, DE tax (not on shipping)", { discount: PCT_15, shipping: STANDARD, tax: DE }],
		["15 % off, GB tax, no shipping", { discount: PCT_15, tax: GB }],
	];

	it.each(cases)("one line, then the rest, add up to the order's total (%s)", (_name, opts) => {
		const o = order(THREE_LINES, opts);
		const [first, rest] = receiveInTurn(o, [
			[{ variantId: "b", quantity: 1 }],
			[
				{ variantId: "a", quantity: 3 },
				{ variantId: "c", quantity: 7 },
			],
		]);
		// The first return gives back exactly what its line cost: price - its discount share + its tax.
		expect(first).toBe(o.items[1].total);
		expect(first + rest).toBe(o.total);
		expect(rest).toBe(o.items[0].total + o.items[2].total + shippingRefund(o));
	});

	it.each(cases)("splits of one line add up to the line, in any order (%s)", (_name, opts) => {
		const o = order(THREE_LINES, opts);
		const line = o.items[2]; // 7 units of c
		for (const split of [[1, 1, 1, 1, 1, 1, 1], [3, 4], [4, 3], [2, 2, 2, 1], [7]]) {
			const refunds = receiveInTurn(
				o,
				split.map(quantity => [{ variantId: "c", quantity }]),
			);
			expect(sum(refunds)).toBe(line.total);
		}
	});

	it("a rejected return in between does not shift the refunds: received ones still add up to the total", () => {
		const o = order(THREE_LINES, { discount: PCT_15, shipping: STANDARD, tax: GB });
		const first: VariantQuantity[] = [{ variantId: "c", quantity: 2 }];
		const second: VariantQuantity[] = [{ variantId: "c", quantity: 3 }];
		// Requested in this order: the second is priced after the first's units...
		const asked = requestAmounts(o, [held("REQUESTED", first)], second);
		expect(asked.refundAmount).toBe(priceReturn(o, second, new Map([["c", 2]])).refundAmount);
		// ...the first is rejected, and the second is received as the first units of c.
		const refunds = receiveInTurn(o, [
			second,
			[{ variantId: "c", quantity: 4 }],
			[
				{ variantId: "a", quantity: 3 },
				{ variantId: "b", quantity: 1 },
			],
		]);
		expect(sum(refunds)).toBe(o.total);
	});

	it("prices a receipt after the received units only: a rejected return ahead of it frees the first units", () => {
		// 100 off three units of 1000: unit shares 33, 34, 33.
		const o = order([{ variantId: "x", unitPrice: 1000, quantity: 3 }], {
			discount: { code: "C", type: "FIXED", value: 100 },
		});
		const one = [{ variantId: "x", quantity: 1 }];
		expect(requestAmounts(o, [held("REQUESTED", one)], one).refundAmount).toBe(966);
		expect(receiptAmounts(o, [held("REJECTED", one)], one).refundAmount).toBe(967);
		expect(receiveInTurn(o, [one, [{ variantId: "x", quantity: 2 }]])).toEqual([967, 1933]);
	});

	it("adds shipping and its tax only to the return that leaves nothing unreturned", () => {
		const o = order(THREE_LINES, { shipping: STANDARD, tax: GB });
		expect(shippingRefund(o)).toBe(499 + 100); // 20 % of 499, rounded half up
		const all = o.items.map(i => ({ variantId: i.variantId, quantity: i.quantity }));
		const partly = requestAmounts(o, [], all.slice(0, 2));
		expect(partly.refundAmount).toBe(o.items[0].total + o.items[1].total);
		const rest = requestAmounts(o, [held("REQUESTED", all.slice(0, 2))], all.slice(2));
		expect(rest.refundAmount).toBe(o.items[2].total + 599);
		// A REJECTED return holds nothing: the rest alone does not finish the order.
		const afterReject = requestAmounts(o, [held("REJECTED", all.slice(0, 2))], all.slice(2));
		expect(afterReject.refundAmount).toBe(o.items[2].total);
		expect(afterReject.items).toEqual([{ variantId: "c", quantity: 7, refundAmount: o.items[2].total }]);
	});

	it("random splits of many orders add up to each order's total", () => {
		let seed = 42;
		const rand = (n: number) => {
			seed = (seed * 1103515245 + 12345) % 2 ** 31;
			return seed % n;
		};
		const rules = [undefined, TEN_OFF, PCT_15];
		for (let run = 0; run < 300; run++) {
			const lines = Array.from({ length: 1 + rand(4) }, (_, i) => ({
				variantId: `v${i}`,
				unitPrice: 1 + rand(20_000),
				quantity: 1 + rand(9),
			}));
			const o = order(lines, {
				discount: rules[rand(3)],
				shipping: rand(2) ? STANDARD : undefined,
				tax: [undefined, GB, DE][rand(3)],
			});
			const left = new Map(lines.map(l => [l.variantId, l.quantity]));
			const returns: VariantQuantity[][] = [];
			while ([...left.values()].some(q => q > 0)) {
				const lines2 = [...left]
					.filter(([, q]) => q > 0 && rand(2))
					.map(([variantId, q]) => ({ variantId, quantity: 1 + rand(q) }));
				for (const l of lines2) left.set(l.variantId, left.get(l.variantId)! - l.quantity);
				if (lines2.length) returns.push(lines2);
			}
			expect(sum(receiveInTurn(o, returns))).toBe(o.total);
		}
	});

	it("prices the lines of an order placed before totals existed at their unit prices", () => {
		const legacy: ReturnableOrder = {
			status: "DELIVERED",
			items: [
				{
					productId: "x",
					variantId: "x",
					sku: "X",
					name: "x",
					options: {},
					unitPrice: 250,
					quantity: 4,
					lineTotal: 1000,
				},
			],
			shippedAt: null,
			deliveredAt: null,
			updatedAt: DELIVERED_AT,
		} as unknown as ReturnableOrder;
		expect(receiveInTurn(legacy, [[{ variantId: "x", quantity: 1 }], [{ variantId: "x", quantity: 3 }]])).toEqual([
			250, 750,
		]);
	});
});

describe("who may return what, and when", () => {
	const o = order(THREE_LINES);
	const now = DELIVERED_MS + DAY_MS;

	it("allows every variant of the order up to what was bought, one line per variant", () => {
		const lines = [
			{ variantId: "a", quantity: 1 },
			{ variantId: "c", quantity: 2 },
			{ variantId: "a", quantity: 2 },
		];
		expect(checkReturn(o, [], lines, now, 30)).toEqual([
			{ variantId: "a", quantity: 3 },
			{ variantId: "c", quantity: 2 },
		]);
	});

	it.each<[OrderStatus, boolean]>([
		["PENDING", false],
		["CONFIRMED", false],
		["FAILED", false],
		["CANCELLED", false],
		["SHIPPED", true],
		["DELIVERED", true],
		["PARTIALLY_RETURNED", true],
		["RETURNED", false],
	])("an order that is %s may be returned: %s", (status, allowed) => {
		const run = () => checkReturn({ ...o, status }, [], [{ variantId: "b", quantity: 1 }], now, 30);
		if (allowed) expect(run).not.toThrow();
		else expect(refusal(run)).toEqual({ reason: "STATUS", status });
	});

	it("closes the window RETURN_WINDOW_DAYS after delivery, to the millisecond", () => {
		const line = [{ variantId: "b", quantity: 1 }];
		const edge = DELIVERED_MS + 30 * DAY_MS;
		expect(() => checkReturn(o, [], line, edge, 30)).not.toThrow();
		expect(refusal(() => checkReturn(o, [], line, edge + 1, 30))).toEqual({
			reason: "WINDOW_CLOSED",
			closedAt: new Date(edge).toISOString(),
		});
		expect(() => checkReturn(o, [], line, DELIVERED_MS + 7 * DAY_MS + 1, 7)).toThrow();
	});

	it("counts from shipping while the order is not delivered", () => {
		const shipped = { ...o, status: "SHIPPED" as const, deliveredAt: null };
		const line = [{ variantId: "b", quantity: 1 }];
		const edge = Date.parse(SHIPPED_AT) + 30 * DAY_MS;
		expect(() => checkReturn(shipped, [], line, edge, 30)).not.toThrow();
		expect(refusal(() => checkReturn(shipped, [], line, edge + 1, 30)).reason).toBe("WINDOW_CLOSED");
	});

	it("refuses variants the order does not have", () => {
		const data = refusal(() => checkReturn(o, [], [{ variantId: "zzz", quantity: 1 }], now, 30));
		expect(data).toEqual({ reason: "UNKNOWN_VARIANT", variantIds: ["zzz"] });
	});

	it.each<[string, HeldReturn[], VariantQuantity[], number | null]>([
		["more than bought", [], [{ variantId: "a", quantity: 4 }], 3],
		["all that was bought", [], [{ variantId: "a", quantity: 3 }], null],
		[
			"more than a REQUESTED return leaves",
			[held("REQUESTED", [{ variantId: "a", quantity: 2 }])],
			[{ variantId: "a", quantity: 2 }],
			1,
		],
		[
			"more than a RECEIVED return leaves",
			[held("RECEIVED", [{ variantId: "a", quantity: 3 }])],
			[{ variantId: "a", quantity: 1 }],
			0,
		],
		[
			"what a REJECTED return held",
			[held("REJECTED", [{ variantId: "a", quantity: 3 }])],
			[{ variantId: "a", quantity: 3 }],
			null,
		],
		[
			"two lines of a variant adding up to too many",
			[held("REQUESTED", [{ variantId: "a", quantity: 1 }])],
			[
				{ variantId: "a", quantity: 1 },
				{ variantId: "a", quantity: 2 },
			],
			2,
		],
	])("%s", (_name, earlier, lines, returnable) => {
		const run = () => checkReturn(o, earlier, lines, now, 30);
		if (returnable === null) return expect(run).not.toThrow();
		expect(refusal(run)).toEqual({
			reason: "QUANTITY",
			lines: [{ variantId: "a", requested: lines.reduce((s, l) => s + l.quantity, 0), returnable }],
		});
	});
});

describe("the order's status after a receipt", () => {
	const o = order(THREE_LINES);
	it.each<[string, VariantQuantity[][], "PARTIALLY_RETURNED" | "RETURNED"]>([
		["one line", [[{ variantId: "b", quantity: 1 }]], "PARTIALLY_RETURNED"],
		[
			"all but one unit",
			[
				[
					{ variantId: "a", quantity: 3 },
					{ variantId: "b", quantity: 1 },
					{ variantId: "c", quantity: 6 },
				],
			],
			"PARTIALLY_RETURNED",
		],
		[
			"everything, in two returns",
			[
				[
					{ variantId: "a", quantity: 3 },
					{ variantId: "b", quantity: 1 },
				],
				[{ variantId: "c", quantity: 7 }],
			],
			"RETURNED",
		],
	])("%s received", (_name, returns, status) => {
		expect(
			statusAfterReceipt(
				o,
				returns.map(lines => held("RECEIVED", lines)),
			),
		).toBe(status);
	});

	it("counts only RECEIVED returns", () => {
		const all = o.items.map(i => ({ variantId: i.variantId, quantity: i.quantity }));
		expect(statusAfterReceipt(o, [held("REQUESTED", all)])).toBe("PARTIALLY_RETURNED");
		expect(statusAfterReceipt(o, [held("RECEIVED", all)])).toBe("RETURNED");
	});
});
