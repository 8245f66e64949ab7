import { describe, expect, it } from "vitest";
import { checkInvariants, mergeProviderViews, type AuditData, type PaymentRow } from "../../../lib/audit";

const books = (charged: number | null, refunded: number) => ({ charged, refunded, currency: "USD" });

/**
 * A shop at rest: o1 confirmed, o2 cancelled and refunded, o3 declined, o4 gave up before any charge, o5 gave up
 * while its charge was under way and had that late charge refunded, o6 failed at its commit step though the commit
 * had gone through (its answer was lost) and had its sold stock restored and its charge refunded.
 */
function healthy(): AuditData {
	return {
		stock: [{ productId: "p1", available: 8, reserved: 0, sold: 2, received: 10 }],
		reservations: [
			{ orderId: "o1", productId: "p1", quantity: 2, status: "COMMITTED" },
			{ orderId: "o2", productId: "p1", quantity: 1, status: "RESTORED" },
			{ orderId: "o3", productId: "p1", quantity: 4, status: "RELEASED" },
			{ orderId: "o5", productId: "p1", quantity: 1, status: "RELEASED" },
			{ orderId: "o6", productId: "p1", quantity: 1, status: "RESTORED" },
		],
		orders: [
			{
				id: "o1",
				status: "CONFIRMED",
				settled: true,
				items: [{ productId: "p1", quantity: 2 }],
				total: 2500,
				currency: "USD",
			},
			{
				id: "o2",
				status: "CANCELLED",
				settled: true,
				items: [{ productId: "p1", quantity: 1 }],
				total: 1250,
				currency: "USD",
			},
			{
				id: "o3",
				status: "FAILED",
				settled: true,
				items: [{ productId: "p1", quantity: 4 }],
				total: 5000,
				currency: "USD",
			},
			{
				id: "o4",
				status: "FAILED",
				settled: true,
				items: [{ productId: "p1", quantity: 1 }],
				total: 1250,
				currency: "USD",
			},
			{
				id: "o5",
				status: "FAILED",
				settled: true,
				items: [{ productId: "p1", quantity: 1 }],
				total: 1250,
				currency: "USD",
			},
			{
				id: "o6",
				status: "FAILED",
				settled: true,
				items: [{ productId: "p1", quantity: 1 }],
				total: 1250,
				currency: "USD",
			},
		],
		payments: [
			{ orderId: "o1", status: "SUCCEEDED", amount: 2500, currency: "USD", provider: books(2500, 0) },
			{ orderId: "o2", status: "REFUNDED", amount: 1250, currency: "USD", provider: books(1250, 1250) },
			{ orderId: "o3", status: "DECLINED", amount: 5000, currency: "USD", provider: books(0, 0) },
			{ orderId: "o4", status: "VOIDED", amount: 0, currency: "", provider: null },
			{ orderId: "o5", status: "REFUNDED", amount: 1250, currency: "USD", provider: books(1250, 1250) },
			{ orderId: "o6", status: "REFUNDED", amount: 1250, currency: "USD", provider: books(1250, 1250) },
		],
	};
}

function payment(data: AuditData, orderId: string): PaymentRow {
	return data.payments.find(p => p.orderId === orderId)!;
}

/** Each hole of issue #17 (and the money rules around it) as the snapshot it leaves, and what the checker says. */
const HOLES: { hole: string; change: (data: AuditData) => void; violation: RegExp }[] = [
	{
		hole: "item 1: a failed, settled order keeps the charge another run of its saga made",
		change: d => Object.assign(payment(d, "o3"), { status: "SUCCEEDED", provider: books(5000, 0) }),
		violation: /^order o3: FAILED and settled but still holds a SUCCEEDED charge \(not compensated\)$/,
	},
	{
		hole: "item 2: a confirmed order whose lines were never held (commit found nothing)",
		change: d => {
			d.reservations = d.reservations.filter(r => r.orderId !== "o1");
			Object.assign(d.stock[0], { available: 10, sold: 0 });
		},
		violation: /^order o1: CONFIRMED with 2 of p1 ordered but 0 committed$/,
	},
	{
		hole: "item 2: a confirmed order that sold a product it did not order",
		change: d => {
			d.reservations.push({ orderId: "o1", productId: "p2", quantity: 1, status: "COMMITTED" });
			d.stock.push({ productId: "p2", available: 0, reserved: 0, sold: 1, received: 1 });
		},
		violation: /^order o1: CONFIRMED with 0 of p2 ordered but 1 committed$/,
	},
	{
		hole: "item 3: a refund recorded as done that the provider never made",
		change: d => (payment(d, "o2").provider = books(1250, 0)),
		violation:
			/^payment of order o2 \(REFUNDED\): the provider holds 1250 USD \(charged 1250, refunded 0\), expected 0 USD$/,
	},
	{
		hole: "item 3: the late charge of a voided order, kept by the provider",
		change: d => Object.assign(payment(d, "o4"), { amount: 1250, currency: "USD", provider: books(1250, 0) }),
		violation: /^payment of order o4 \(VOIDED\): the provider holds 1250 USD/,
	},
	{
		hole: "item 3: a refund left in flight at rest",
		change: d => Object.assign(payment(d, "o2"), { status: "REFUNDING", provider: books(1250, 0) }),
		violation: /^payment of order o2 \(REFUNDING\): still in flight at rest$/,
	},
	{
		hole: "a charge left in flight at rest (its node died after asking the provider)",
		change: d => Object.assign(payment(d, "o4"), { status: "PENDING", amount: 1250, currency: "USD" }),
		violation: /^payment of order o4 \(PENDING\): still in flight at rest$/,
	},
	{
		hole: "a charge for another amount than the order's total",
		change: d => Object.assign(payment(d, "o1"), { amount: 2000, provider: books(2000, 0) }),
		violation: /^payment of order o1 \(SUCCEEDED\): 2000 USD but the order totals 2500 USD$/,
	},
	{
		hole: "a charge in another currency than the order's",
		change: d => (payment(d, "o2").currency = "EUR"),
		violation: /^payment of order o2 \(REFUNDED\): 1250 EUR but the order totals 1250 USD$/,
	},
	{
		hole: "a refund of an order that is still confirmed",
		change: d => Object.assign(payment(d, "o1"), { status: "REFUNDED", provider: books(2500, 2500) }),
		violation: /^payment of order o1 \(REFUNDED\): refund of an order that is CONFIRMED$/,
	},
	{
		hole: "a charge the provider gave back while the payment says SUCCEEDED",
		change: d => (payment(d, "o1").provider = books(2500, 2500)),
		violation: /^payment of order o1 \(SUCCEEDED\): the provider holds 0 USD \(charged 2500, refunded 2500\)/,
	},
	{
		hole: "a cancelled, settled order whose stock was never given back",
		change: d => {
			d.reservations[1].status = "COMMITTED";
			Object.assign(d.stock[0], { available: 7, sold: 3 });
		},
		violation: /^order o2: CANCELLED with a COMMITTED reservation of p1 \(not compensated\)$/,
	},
	{
		hole: "a failed, settled order still holding reserved stock",
		change: d => {
			d.reservations[2].status = "RESERVED";
			Object.assign(d.stock[0], { available: 4, reserved: 4 });
		},
		violation: /^order o3: FAILED with a RESERVED reservation of p1 \(not compensated\)$/,
	},
	{
		hole: "a failed, settled order still holding the stock its commit sold",
		change: d => {
			d.reservations[4].status = "COMMITTED";
			Object.assign(d.stock[0], { available: 7, sold: 3 });
		},
		violation: /^order o6: FAILED with a COMMITTED reservation of p1 \(not compensated\)$/,
	},
];

describe("invariant checker", () => {
	it("accepts a consistent shop", () => {
		expect(checkInvariants(healthy())).toEqual({
			ok: true,
			violations: [],
			counts: {
				products: 1,
				orders: { CONFIRMED: 1, CANCELLED: 1, FAILED: 4 },
				payments: { SUCCEEDED: 1, REFUNDED: 3, DECLINED: 1, VOIDED: 1 },
			},
		});
	});

	it.each(HOLES)("reports $hole", ({ change, violation }) => {
		const data = healthy();
		change(data);
		const report = checkInvariants(data);
		expect(report.ok).toBe(false);
		expect(report.violations).toContainEqual(expect.stringMatching(violation));
	});

	it("reports nothing it cannot know: no provider books, or a provider with no record of the charge", () => {
		const data = healthy();
		payment(data, "o1").provider = null;
		payment(data, "o2").provider = books(null, 1250);
		expect(checkInvariants(data).violations).toEqual([]);
	});

	it("catches oversold and unbalanced stock", () => {
		const data = healthy();
		data.stock[0] = { productId: "p1", available: -1, reserved: 0, sold: 11, received: 10 };
		const text = checkInvariants(data).violations.join("\n");
		expect(text).toMatch(/negative counter/);
		expect(text).toMatch(/sold=11 but committed reservations hold 2/);
	});

	it("catches a confirmed order without money and a cancelled order without refund", () => {
		const data = healthy();
		data.payments = data.payments.filter(p => p.orderId !== "o1");
		payment(data, "o2").status = "DECLINED";
		const text = checkInvariants(data).violations.join("\n");
		expect(text).toMatch(/order o1: CONFIRMED with 0 succeeded payments/);
		expect(text).toMatch(/order o2: CANCELLED without a refund/);
	});

	it("tells work in flight from work left undone: only at rest are pending orders and payments violations", () => {
		const data = healthy();
		data.orders.push({ id: "o7", status: "PENDING", settled: false, items: [], total: 0, currency: "USD" });
		data.payments.push({ orderId: "o7", status: "PENDING", amount: 0, currency: "USD", provider: null });
		data.reservations.push({ orderId: "o7", productId: "p1", quantity: 1, status: "RESERVED" });
		Object.assign(data.stock[0], { available: 7, reserved: 1 });
		expect(checkInvariants(data).violations).toEqual([
			"stock p1: 1 still reserved at rest",
			"order o7: PENDING (unsettled) at rest",
			"payment of order o7 (PENDING): still in flight at rest",
		]);
		expect(checkInvariants(data, { settled: false }).violations).toEqual([]);
	});

	it("catches payments and holdings of unknown orders", () => {
		const data = healthy();
		data.payments.push({ orderId: "ghost", status: "SUCCEEDED", amount: 1, currency: "USD", provider: null });
		data.reservations.push({ orderId: "ghost", productId: "p1", quantity: 2, status: "COMMITTED" });
		Object.assign(data.stock[0], { available: 6, sold: 4 });
		expect(checkInvariants(data).violations).toEqual([
			"payment of unknown order ghost (SUCCEEDED)",
			"reservation of unknown order ghost holds 2 of p1",
		]);
	});
});

describe("provider books merged over payments nodes", () => {
	const row = (orderId: string, provider: PaymentRow["provider"]): PaymentRow => ({
		orderId,
		status: "REFUNDED",
		amount: 2500,
		currency: "USD",
		provider,
	});

	it("joins what each node knows: the charge from one, the refund from another", () => {
		const merged = mergeProviderViews([
			[row("o1", books(2500, 0)), row("o2", null)],
			[row("o1", books(null, 2500)), row("o2", books(null, 2500))],
		]);
		expect(merged).toEqual([row("o1", books(2500, 2500)), row("o2", books(null, 2500))]);
	});

	it("does not add up a provider's whole books seen through several nodes", () => {
		const view = [row("o1", books(2500, 2500))];
		expect(mergeProviderViews([view, view, view])).toEqual(view);
		expect(mergeProviderViews([])).toEqual([]);
	});
});

/**
 * Issue 13 at rest: o7 (code SAVE10, total 9897) partly returned: a return of 810 received and refunded, another
 * requested; o8 (code SAVE10) cancelled, its use given back.
 */
function withReturns(): AuditData {
	const data = healthy();
	data.stock.push({ productId: "p2", available: 8, reserved: 0, sold: 3, received: 11 });
	data.reservations.push(
		{ orderId: "o7", productId: "p2", quantity: 3, status: "COMMITTED" },
		{ orderId: "o8", productId: "p1", quantity: 1, status: "RESTORED" },
	);
	Object.assign(data.stock[0], { received: 11, available: 9 });
	data.orders.push(
		{
			id: "o7",
			status: "PARTIALLY_RETURNED",
			settled: true,
			items: [{ productId: "p2", quantity: 3 }],
			total: 9897,
			currency: "USD",
			discountCode: "SAVE10",
		},
		{
			id: "o8",
			status: "CANCELLED",
			settled: true,
			items: [{ productId: "p1", quantity: 1 }],
			total: 1000,
			currency: "USD",
			discountCode: "SAVE10",
		},
	);
	data.payments.push(
		{
			orderId: "o7",
			status: "PARTIALLY_REFUNDED",
			amount: 9897,
			refunded: 810,
			currency: "USD",
			provider: books(9897, 810),
		},
		{ orderId: "o8", status: "REFUNDED", amount: 1000, refunded: 1000, currency: "USD", provider: books(1000, 1000) },
	);
	data.returns = [
		{
			id: "r1",
			orderId: "o7",
			status: "RECEIVED",
			items: [{ variantId: "p2", quantity: 1, refundAmount: 810 }],
			refundAmount: 810,
			refundStatus: "DONE",
		},
		{
			id: "r2",
			orderId: "o7",
			status: "REQUESTED",
			items: [{ variantId: "p2", quantity: 2, refundAmount: 1620 }],
			refundAmount: 1620,
			refundStatus: null,
		},
	];
	data.returnedStock = [{ returnId: "r1", productId: "p2", quantity: 1 }];
	data.uses = [{ orderId: "o7", code: "SAVE10", userId: "u1" }];
	return data;
}

const MONEY_HOLES: { hole: string; change: (data: AuditData) => void; violation: RegExp }[] = [
	{
		hole: "a received return whose refund was recorded but never given back",
		change: d => Object.assign(payment(d, "o7"), { status: "SUCCEEDED", refunded: 0, provider: books(9897, 0) }),
		violation: /^order o7: charged 9897 minus refunded 0 is 9897, but the customer owes 9087/,
	},
	{
		hole: "a refund of more than the return gave back",
		change: d => Object.assign(payment(d, "o7"), { refunded: 900, provider: books(9897, 900) }),
		violation: /^order o7: charged 9897 minus refunded 900 is 8997, but the customer owes 9087/,
	},
	{
		hole: "a received return whose refund is still pending at rest",
		change: d => (d.returns![0].refundStatus = "PENDING"),
		violation: /^order o7: 1 received return\(s\) with the refund still pending at rest$/,
	},
	{
		hole: "returns holding more than was bought",
		change: d => (d.returns![1].items[0].quantity = 3),
		violation: /^order o7: returns hold 4 of p2, bought 3$/,
	},
	{
		hole: "a cancelled order that kept the use of its code",
		change: d => d.uses!.push({ orderId: "o8", code: "SAVE10", userId: "u1" }),
		violation: /^order o8: CANCELLED with code SAVE10 holds 1 use\(s\)$/,
	},
	{
		hole: "an order carrying a code without holding a use (the limit was bypassed)",
		change: d => (d.uses = []),
		violation: /^order o7: PARTIALLY_RETURNED with code SAVE10 holds 0 use\(s\)$/,
	},
	{
		hole: "a use held by no order",
		change: d => d.uses!.push({ orderId: "ghost", code: "SAVE10", userId: "u1" }),
		violation: /^1 use\(s\) of SAVE10 held by unknown order ghost$/,
	},
	{
		hole: "a received return whose units never came back to stock",
		change: d => (d.returnedStock = []),
		violation: /^stock p2: received returns hold 1 units but inventory took back 0$/,
	},
	{
		hole: "units taken back twice for one return",
		change: d => d.returnedStock!.push({ returnId: "r1", productId: "p2", quantity: 1 }),
		violation: /^stock p2: received returns hold 1 units but inventory took back 2$/,
	},
	{
		hole: "an order whose received returns cover everything but which is not RETURNED",
		change: d => (d.returns![1].status = "RECEIVED"),
		violation: /^order o7: PARTIALLY_RETURNED but its received returns make it RETURNED$/,
	},
];

describe("invariant checker: money rules", () => {
	it("accepts a consistent shop with codes, returns and partial refunds", () => {
		expect(checkInvariants(withReturns()).violations).toEqual([]);
	});

	it.each(MONEY_HOLES)("reports $hole", ({ change, violation }) => {
		const data = withReturns();
		change(data);
		expect(checkInvariants(data).violations).toContainEqual(expect.stringMatching(violation));
	});
});
