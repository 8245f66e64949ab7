import { ServiceBroker } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Store } from "../../../lib/storage";
import { ORDERS, type OrderReturn } from "../../../services/orders/contract";
import { RETURNS } from "../../../services/orders/returns";
import {
	keyedQueue,
	receiveReturn,
	rejectReturn,
	requestReturn,
	retryRefunds,
	type KeyedQueue,
	type ReturnDeps,
} from "../../../services/orders/return-flow";
import type { DiscountRule, ShippingCharge, TaxRule } from "../../../services/orders/totals";
import { pricedOrder, ReturnsWorld, type Line } from "./return-fakes";

const LINES: Line[] = [
	{ variantId: "a", unitPrice: 1999, quantity: 3 },
	{ variantId: "b", unitPrice: 4550, quantity: 1 },
	{ variantId: "c", unitPrice: 333, quantity: 7 },
];
const PCT_15: DiscountRule = { code: "P15", type: "PERCENTAGE", value: 15 };
const STANDARD: ShippingCharge = { id: "std", name: "Standard", price: 499, freeOver: null };
const GB: TaxRule = { country: "GB", rate: 2000, shippingTaxable: true };
/** More than a lease and the clock margin: the sweep may take a pending refund over. */
const STALE_MS = 15_000 + 2000 + 1;

/** The deps of one of six orders nodes sharing the world's stores: each has its own queue of an order's returns. */
const queues = new WeakMap<ReturnsWorld, KeyedQueue[]>();
function node(w: ReturnsWorld, i: number): ReturnDeps {
	const nodes = queues.get(w) ?? [w.deps.queue, ...Array.from({ length: 5 }, keyedQueue)];
	queues.set(w, nodes);
	return { ...w.deps, queue: nodes[i % nodes.length] };
}

async function world(status: "DELIVERED" | "SHIPPED" = "DELIVERED") {
	const w = new ReturnsWorld();
	const order = await w.addOrder(pricedOrder(LINES, { discount: PCT_15, shipping: STANDARD, tax: GB, status }));
	return { w, order };
}

/** Why a promise was refused: its code, type and data. */
async function refusal(p: Promise<unknown>): Promise<{ code: number; type: string; data: Record<string, unknown> }> {
	try {
		await p;
	} catch (err) {
		return err as { code: number; type: string; data: Record<string, unknown> };
	}
	throw new Error("not refused");
}

describe("requesting a return", () => {
	it("stores a REQUESTED return of the order's owner, priced, with return.requested", async () => {
		const { w, order } = await world();
		const ret = await requestReturn(w.deps, order, [{ variantId: "b", quantity: 1 }], "too big");
		expect(ret).toMatchObject({
			orderId: order.id,
			userId: order.userId,
			status: "REQUESTED",
			items: [{ variantId: "b", quantity: 1, refundAmount: order.items[1].total }],
			refundAmount: order.items[1].total,
			currency: "USD",
			reason: "too big",
			refundStatus: null,
		});
		expect(w.returns.get(ret.id).status).toBe("REQUESTED");
		expect(w.eventsOf("return.requested")).toEqual([
			{ type: "return.requested", id: `${ret.id}:requested`, data: expect.objectContaining({ returnId: ret.id }) },
		]);
	});

	it("never holds more than was bought, however many requests run at once on several nodes", async () => {
		const { w, order } = await world();
		const results = await Promise.allSettled(
			Array.from({ length: 12 }, (_, i) => requestReturn(node(w, i), order, [{ variantId: "a", quantity: 1 }], null)),
		);
		const ok = results.filter(r => r.status === "fulfilled");
		expect(ok).toHaveLength(3);
		for (const r of results.filter(r => r.status === "rejected"))
			expect(r.reason).toMatchObject({ code: 422, type: "RETURN_NOT_ALLOWED", data: { reason: "QUANTITY" } });
		expect([...w.returns.rows.values()].reduce((s, r) => s + r.items[0].quantity, 0)).toBe(3);
	});

	it("refuses what the rules refuse, with the reason", async () => {
		const { w, order } = await world();
		const err = await refusal(requestReturn(w.deps, order, [{ variantId: "a", quantity: 4 }], null));
		expect(err).toMatchObject({ code: 422, type: "RETURN_NOT_ALLOWED", data: { reason: "QUANTITY" } });
		w.clock += 30 * 86_400_000;
		const late = await refusal(requestReturn(w.deps, order, [{ variantId: "a", quantity: 1 }], null));
		expect(late.data.reason).toBe("WINDOW_CLOSED");
		expect(w.returns.rows.size).toBe(0);
	});
});

describe("receiving and rejecting", () => {
	it("returns one line, then the rest: refunds add up to the order's total, the order ends RETURNED", async () => {
		const { w, order } = await world();
		const first = await requestReturn(w.deps, order, [{ variantId: "b", quantity: 1 }], null);
		const one = await receiveReturn(w.deps, first.id);
		expect(one).toMatchObject({ status: "RECEIVED", refundStatus: "DONE", refundAmount: order.items[1].total });
		expect(w.orders.get(order.id).status).toBe("PARTIALLY_RETURNED");

		const rest = [
			{ variantId: "a", quantity: 3 },
			{ variantId: "c", quantity: 7 },
		];
		const second = await requestReturn(w.deps, w.orders.get(order.id), rest, null);
		await receiveReturn(w.deps, second.id);
		expect(w.orders.get(order.id).status).toBe("RETURNED");
		expect([...w.actors.refunds.values()].reduce((s, a) => s + a, 0)).toBe(order.total);
		expect(w.actors.stock).toEqual(
			new Map([
				[first.id, 1],
				[second.id, 10],
			]),
		);
		expect(w.eventsOf("order.returned").map(e => e.id)).toEqual([
			`${order.id}:partially_returned`,
			`${order.id}:returned`,
		]);
		expect(w.eventsOf("return.received")).toHaveLength(2);
	});

	it("a rejection in between: the received refunds still add up to the order's total", async () => {
		const { w, order } = await world("SHIPPED");
		const a = await requestReturn(w.deps, order, [{ variantId: "c", quantity: 3 }], null);
		const b = await requestReturn(w.deps, order, [{ variantId: "c", quantity: 4 }], null);
		await rejectReturn(w.deps, a.id);
		await receiveReturn(w.deps, b.id);
		const all = LINES.map(l => ({ variantId: l.variantId, quantity: l.quantity - (l.variantId === "c" ? 4 : 0) }));
		const c = await requestReturn(w.deps, w.orders.get(order.id), all, null);
		// Shipping comes with the request that leaves nothing unreturned (a's units are free again).
		expect(c.refundAmount).toBeGreaterThan(order.items[0].total + order.items[1].total);
		await receiveReturn(w.deps, c.id);
		expect(w.actors.refunds.get(a.id)).toBeUndefined();
		expect(w.actors.refunds.get(b.id)! + w.actors.refunds.get(c.id)!).toBe(order.total);
		expect(w.orders.get(order.id).status).toBe("RETURNED");
	});

	it("a rejected return ahead of a received one: its units are priced as the first ones", async () => {
		// 100 off three units of 1000: unit shares 33, 34, 33, so where a unit falls changes what it gives back.
		const w = new ReturnsWorld();
		const lines = [{ variantId: "x", unitPrice: 1000, quantity: 3 }];
		const order = await w.addOrder(pricedOrder(lines, { discount: { code: "C100", type: "FIXED", value: 100 } }));
		const a = await requestReturn(w.deps, order, [{ variantId: "x", quantity: 1 }], null);
		const b = await requestReturn(w.deps, order, [{ variantId: "x", quantity: 1 }], null);
		expect([a.refundAmount, b.refundAmount]).toEqual([967, 966]);
		await rejectReturn(w.deps, a.id);
		expect((await receiveReturn(w.deps, b.id)).refundAmount).toBe(967);
		const c = await requestReturn(w.deps, w.orders.get(order.id), [{ variantId: "x", quantity: 2 }], null);
		expect((await receiveReturn(w.deps, c.id)).refundAmount).toBe(1933);
		expect(w.actors.refunds.get(b.id)! + w.actors.refunds.get(c.id)!).toBe(order.total);
	});

	it("receipts run at once still add up to the total, each counted once", async () => {
		const { w, order } = await world();
		const splits = [
			[{ variantId: "a", quantity: 1 }],
			[{ variantId: "a", quantity: 2 }],
			[{ variantId: "c", quantity: 2 }],
			[{ variantId: "c", quantity: 5 }],
			[{ variantId: "b", quantity: 1 }],
		];
		const rets: OrderReturn[] = [];
		for (const lines of splits) rets.push(await requestReturn(w.deps, order, lines, null));
		await Promise.all(rets.map((r, i) => receiveReturn(node(w, i), r.id)));
		expect([...w.actors.refunds.values()].reduce((s, a) => s + a, 0)).toBe(order.total);
		expect(new Set([...w.returns.rows.values()].map(r => r.receipt)).size).toBe(5);
		expect(w.orders.get(order.id).status).toBe("RETURNED");
	});

	it.each([
		["receive", "RECEIVED", "RECEIVED"],
		["reject", "RECEIVED", "REJECTED"],
		["receive", "REJECTED", "RECEIVED"],
		["reject", "REJECTED", "REJECTED"],
	] as const)("%s of a %s return is 409 INVALID_TRANSITION", async (action, from, to) => {
		const { w, order } = await world();
		const ret = await requestReturn(w.deps, order, [{ variantId: "b", quantity: 1 }], null);
		await (from === "RECEIVED" ? receiveReturn(w.deps, ret.id) : rejectReturn(w.deps, ret.id));
		const refundsBefore = w.actors.refundCalls.length;
		const again = action === "receive" ? receiveReturn(w.deps, ret.id) : rejectReturn(w.deps, ret.id);
		expect(await refusal(again)).toMatchObject({ code: 409, type: "INVALID_TRANSITION", data: { from, to } });
		expect(w.actors.refundCalls.length).toBe(refundsBefore);
	});

	it("a rejection moves nothing", async () => {
		const { w, order } = await world();
		const ret = await requestReturn(w.deps, order, [{ variantId: "b", quantity: 1 }], null);
		expect(await rejectReturn(w.deps, ret.id)).toMatchObject({ status: "REJECTED", refundStatus: null });
		expect(w.orders.get(order.id).status).toBe("DELIVERED");
		expect(w.actors.stock.size + w.actors.refundCalls.length).toBe(0);
		expect(w.eventsOf("return.rejected")).toHaveLength(1);
	});
});

describe("the refund, a step that is finished later", () => {
	it("payments down: the return stays RECEIVED and PENDING, and the sweep finishes it once", async () => {
		const { w, order } = await world();
		const ret = await requestReturn(w.deps, order, [{ variantId: "c", quantity: 2 }], null);
		w.actors.paymentsDown = true;
		const received = await receiveReturn(w.deps, ret.id);
		expect(received).toMatchObject({ status: "RECEIVED", refundStatus: "PENDING" });
		expect(w.returns.get(ret.id).refundStatus).toBe("PENDING");
		expect(w.orders.get(order.id).status).toBe("PARTIALLY_RETURNED");

		// Not yet stale: the sweep leaves it alone.
		w.actors.paymentsDown = false;
		await retryRefunds(w.deps);
		expect(w.actors.refundCalls).toHaveLength(1);

		// Payments still down when it is stale: retried, still pending.
		w.actors.paymentsDown = true;
		w.clock += STALE_MS;
		await retryRefunds(w.deps);
		expect(w.actors.refundCalls).toHaveLength(2);
		expect(w.returns.get(ret.id).refundStatus).toBe("PENDING");

		w.actors.paymentsDown = false;
		w.clock += STALE_MS;
		await retryRefunds(w.deps);
		expect(w.returns.get(ret.id).refundStatus).toBe("DONE");
		w.clock += STALE_MS;
		await retryRefunds(w.deps);
		// Every attempt asked for the same refund of the same return; one was given.
		expect(w.actors.refundCalls).toEqual(Array(3).fill({ returnId: ret.id, amount: received.refundAmount }));
		expect(w.actors.refunds).toEqual(new Map([[ret.id, received.refundAmount]]));
		expect(w.actors.stock).toEqual(new Map([[ret.id, 2]]));
	});

	it("a crash after RECEIVED, before the refund: the sweep finishes it", async () => {
		const { w, order } = await world();
		const ret = await requestReturn(w.deps, order, [{ variantId: "b", quantity: 1 }], null);
		w.actors.hangNextStock = true;
		void receiveReturn(w.deps, ret.id); // its node dies during the refund step: it never answers
		await new Promise(resolve => setTimeout(resolve, 10));
		expect(w.returns.get(ret.id)).toMatchObject({ status: "RECEIVED", refundStatus: "PENDING" });
		expect(w.actors.refundCalls).toHaveLength(0);

		w.clock += STALE_MS;
		await Promise.all([retryRefunds(w.deps), retryRefunds(w.deps)]); // two nodes: one claims it
		expect(w.returns.get(ret.id).refundStatus).toBe("DONE");
		expect(w.actors.refundCalls).toEqual([{ returnId: ret.id, amount: order.items[1].total }]);
		expect(w.actors.stock).toEqual(new Map([[ret.id, 1]]));
	});

	it("a crash between the receipt and the order's move (no transaction): the sweep moves the order", async () => {
		const { w, order } = await world();
		const all = LINES.map(l => ({ variantId: l.variantId, quantity: l.quantity }));
		const ret = await requestReturn(w.deps, order, all, null);
		// What a crash right after the return's write leaves on a store without transactions.
		await w.returns.update(
			{ id: ret.id },
			{ set: { status: "RECEIVED", refundStatus: "PENDING", receipt: `${order.id}:1` } },
		);
		w.clock += STALE_MS;
		await retryRefunds(w.deps);
		expect(w.orders.get(order.id).status).toBe("RETURNED");
		expect(w.eventsOf("order.returned").map(e => e.id)).toEqual([`${order.id}:returned`]);
		expect(w.actors.refunds.get(ret.id)).toBe(order.total);
	});
});

describe("over real SQLite stores", () => {
	const broker = new ServiceBroker({ logger: false });
	const orders = new Store(ORDERS, "memory://", broker.getLogger("orders"));
	const returns = new Store(RETURNS, "memory://", broker.getLogger("orders"));

	beforeAll(async () => {
		await orders.connect(broker);
		await returns.connect(broker);
	});
	afterAll(() => broker.stop());

	it("unique slots and receipts hold: concurrent requests and receipts add up to the order's total", async () => {
		const w = new ReturnsWorld();
		const deps = { ...w.deps, orders, returns };
		const order = await orders.insert(
			pricedOrder(LINES, { discount: PCT_15, shipping: STANDARD, tax: GB }, "nedb-order"),
		);
		const asks = [
			[{ variantId: "a", quantity: 1 }],
			[{ variantId: "a", quantity: 1 }],
			[{ variantId: "a", quantity: 1 }],
			[{ variantId: "a", quantity: 1 }],
			[{ variantId: "c", quantity: 7 }],
			[{ variantId: "b", quantity: 1 }],
			[{ variantId: "b", quantity: 1 }],
		];
		const results = await Promise.allSettled(
			asks.map((lines, i) => requestReturn({ ...deps, queue: node(w, i).queue }, order, lines, null)),
		);
		const made = results.flatMap(r => (r.status === "fulfilled" ? [r.value] : []));
		expect(made).toHaveLength(5);
		await Promise.all(made.map((r, i) => receiveReturn({ ...deps, queue: node(w, i).queue }, r.id)));
		const stored = await returns.find({ orderId: order.id }, { sort: ["-createdAt", "id"] });
		expect(stored.map(r => r.receipt).sort()).toEqual([1, 2, 3, 4, 5].map(n => `${order.id}:${n}`));
		expect(stored.every(r => r.refundStatus === "DONE")).toBe(true);
		expect([...w.actors.refunds.values()].reduce((s, a) => s + a, 0)).toBe(order.total);
		expect((await orders.findOne({ id: order.id }))?.status).toBe("RETURNED");
	});
});

describe("the queue of an order's returns on one node", () => {
	it("runs a key's works one at a time in arrival order, others meanwhile, and goes on after a failure", async () => {
		const queue = keyedQueue();
		const log: string[] = [];
		const work =
			(name: string, fail = false) =>
			async () => {
				log.push(`${name} start`);
				await new Promise(resolve => setTimeout(resolve, 5));
				log.push(`${name} end`);
				if (fail) throw new Error(name);
				return name;
			};
		const results = await Promise.allSettled([
			queue("o1", work("a", true)),
			queue("o1", work("b")),
			queue("o2", work("c")),
		]);
		expect(results.map(r => (r.status === "fulfilled" ? r.value : "failed"))).toEqual(["failed", "b", "c"]);
		expect(log.slice(0, 2)).toEqual(["a start", "c start"]);
		expect(log.indexOf("b start")).toBeGreaterThan(log.indexOf("a end"));
	});
});
