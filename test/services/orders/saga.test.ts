import { describe, expect, it } from "vitest";
import { Errors } from "moleculer";
import { OutOfStockError, PaymentDeclinedError, StorageUnavailableError } from "../../../lib/errors";
import type { Order } from "../../../services/orders/contract";
import * as saga from "../../../services/orders/saga";
import { DRAFT, World, gate, settle } from "./saga-fakes";

const LEASE = 15_000;
const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

const RESERVE = {
	action: "inventory.reserve",
	params: {
		orderId: "o-1",
		items: [
			{ productId: "p-1", quantity: 2 },
			{ productId: "p-2", quantity: 1 },
		],
	},
};
const CHARGE = {
	action: "payments.charge",
	params: { orderId: "o-1", userId: "u-1", amount: 3050, currency: "EUR", paymentToken: "tok_visa" },
};
const COMMIT = { action: "inventory.commit", params: { orderId: "o-1" } };
const RELEASE = { action: "inventory.release", params: { orderId: "o-1" } };
const refund = (reason: string) => ({
	action: "payments.refund",
	params: { orderId: "o-1", reason },
	opts: { timeout: 1500, retries: 0 },
});
const event = (type: string, status: string) => ({ type, id: `o-1:${type.slice("order.".length)}`, status });
const CREATED = { type: "order.created", id: "o-1:created", status: "PENDING" };

/** The stored order's status and failure: what advance() answers with once it failed (settling is written after). */
const failedAs = (world: World) => {
	const { status, failure, failureReason } = world.store.get("o-1");
	return { status, failure, failureReason };
};

/** A world with order o-1 stored PENDING, leased to n1 at T0. */
async function started() {
	const world = new World();
	const { deps } = world.node("n1");
	const order = await saga.start(deps, DRAFT, null);
	return { world, order };
}

describe("order saga", () => {
	describe("start", () => {
		it("stores the order PENDING and unsettled, leased to this node, with order.created", async () => {
			const { world, order } = await started();
			expect(world.store.get("o-1")).toEqual({
				...DRAFT,
				status: "PENDING",
				failure: null,
				failureReason: null,
				settled: false,
				leaseOwner: "n1",
				leaseUntil: iso(T0 + LEASE),
				createdAt: iso(T0),
				updatedAt: iso(T0),
			});
			expect(order).toEqual(world.store.get("o-1"));
			expect(world.events).toEqual([CREATED]);
		});

		it("stores an order refused before it starts FAILED and settled, with order.created, order.failed", async () => {
			const world = new World();
			const failure = {
				step: "payment" as const,
				chargeMayExist: false,
				name: "PaymentUnavailableError",
				code: 503,
				type: "PAYMENT_UNAVAILABLE",
				message: "The payment provider is unavailable, try again later",
				data: { orderId: "o-1" },
			};
			const order = await saga.start(world.node("n1").deps, DRAFT, failure);
			expect(world.store.get("o-1")).toMatchObject({
				status: "FAILED",
				failure,
				failureReason: "PAYMENT_UNAVAILABLE",
				settled: true,
			});
			expect(order).toEqual(world.store.get("o-1"));
			expect(world.events).toEqual([CREATED, event("order.failed", "FAILED")]);
			expect(world.metrics).toEqual([{ name: "emporium.orders.total", labels: { status: "FAILED" } }]);
		});

		it("refuses a second order with the same idempotency key", async () => {
			const { world } = await started();
			await expect(saga.start(world.node("n1").deps, { ...DRAFT, id: "o-2" }, null)).rejects.toMatchObject({
				name: "DuplicateKeyError",
			});
		});
	});

	describe("advance", () => {
		it("reserves, charges, commits and confirms, settling the order", async () => {
			const { world, order } = await started();
			const { deps, calls } = world.node("n1");
			const result = await saga.advance(deps, order);
			expect(calls.made).toEqual([RESERVE, CHARGE, COMMIT]);
			expect(result).toEqual(world.store.get("o-1"));
			expect(result).toMatchObject({ status: "CONFIRMED", settled: true, failure: null, leaseOwner: "n1" });
			expect(world.events).toEqual([CREATED, event("order.confirmed", "CONFIRMED")]);
			expect(world.metrics).toEqual([
				{ name: "emporium.orders.total", labels: { status: "CONFIRMED" } },
				{ name: "emporium.orders.value", labels: { currency: "EUR" }, value: 3050 },
			]);
		});

		it("fails at reserve: releases what may be held, charges nothing, refunds nothing", async () => {
			const { world, order } = await started();
			const outOfStock = new OutOfStockError({ lines: [{ productId: "p-1", requested: 2, available: 1 }] });
			const { deps, calls } = world.node("n1", { "inventory.reserve": () => Promise.reject(outOfStock) });
			const result = await saga.advance(deps, order);
			expect(calls.made).toEqual([RESERVE, RELEASE]);
			expect(result).toMatchObject(failedAs(world));
			expect(world.store.get("o-1")).toMatchObject({
				status: "FAILED",
				settled: true,
				failureReason: "OUT_OF_STOCK",
				failure: {
					step: "reserve",
					chargeMayExist: false,
					code: 409,
					type: "OUT_OF_STOCK",
					data: { orderId: "o-1", lines: [{ productId: "p-1", requested: 2, available: 1 }] },
				},
			});
			expect(world.events).toEqual([CREATED, event("order.failed", "FAILED")]);
			expect(world.logs).toEqual(["n1 info Order o-1 failed at reserve: OUT_OF_STOCK Not enough stock for some items"]);
		});

		it("fails at charge when the payment is declined: releases the stock, nothing to refund", async () => {
			const { world, order } = await started();
			const declined = new PaymentDeclinedError({ orderId: "o-1" });
			const { deps, calls } = world.node("n1", { "payments.charge": () => Promise.reject(declined) });
			const result = await saga.advance(deps, order);
			expect(calls.made).toEqual([RESERVE, CHARGE, RELEASE]);
			expect(result).toMatchObject(failedAs(world));
			expect(world.store.get("o-1")).toMatchObject({
				status: "FAILED",
				settled: true,
				failure: { step: "payment", chargeMayExist: false, code: 402, type: "PAYMENT_DECLINED" },
			});
		});

		it("fails at commit: releases the stock and refunds the charge", async () => {
			const { world, order } = await started();
			const down = new Errors.ServiceNotAvailableError({ action: "inventory.commit" });
			const { deps, calls } = world.node("n1", { "inventory.commit": () => Promise.reject(down) });
			const result = await saga.advance(deps, order);
			expect(calls.made).toEqual([RESERVE, CHARGE, COMMIT, RELEASE, refund("SERVICE_UNAVAILABLE")]);
			expect(result).toMatchObject(failedAs(world));
			expect(world.store.get("o-1")).toMatchObject({
				status: "FAILED",
				settled: true,
				failure: { step: "commit", chargeMayExist: true, code: 503, type: "SERVICE_UNAVAILABLE" },
			});
			expect(world.events).toEqual([CREATED, event("order.failed", "FAILED")]);
		});

		it("treats a charge that timed out as possibly made: fails with 503 and refunds it", async () => {
			const { world, order } = await started();
			const timeout = new Errors.RequestTimeoutError({ action: "payments.charge", nodeID: "pay-1" });
			const { deps, calls } = world.node("n1", { "payments.charge": () => Promise.reject(timeout) });
			const result = await saga.advance(deps, order);
			expect(calls.made).toEqual([RESERVE, CHARGE, RELEASE, refund("PAYMENT_UNAVAILABLE")]);
			expect(result).toMatchObject(failedAs(world));
			expect(world.store.get("o-1")).toMatchObject({
				status: "FAILED",
				settled: true,
				failureReason: "PAYMENT_UNAVAILABLE",
				failure: { step: "payment", chargeMayExist: true, code: 503, type: "PAYMENT_UNAVAILABLE" },
			});
		});

		it("fails at confirm when the store is down: the order stays PENDING, and recovery confirms it later", async () => {
			const { world, order } = await started();
			const n1 = world.node("n1");
			world.store.failNext("update", new StorageUnavailableError());
			await expect(saga.advance(n1.deps, order)).rejects.toBeInstanceOf(StorageUnavailableError);
			expect(n1.calls.made).toEqual([RESERVE, CHARGE, COMMIT]);
			expect(world.store.get("o-1")).toMatchObject({ status: "PENDING", settled: false, leaseOwner: "n1" });

			const n2 = world.node("n2");
			world.clock.advance(LEASE + 1);
			await saga.recoverStale(n2.deps);
			// Every step is idempotent per order: recovery runs them all again.
			expect(n2.calls.made).toEqual([RESERVE, CHARGE, COMMIT]);
			expect(world.store.get("o-1")).toMatchObject({ status: "CONFIRMED", settled: true, leaseOwner: "n2" });
			expect(world.events).toEqual([CREATED, event("order.confirmed", "CONFIRMED")]);
		});

		it("renews its lease before a step once half of it is used, and goes on", async () => {
			const { world, order } = await started();
			const { deps, calls } = world.node("n1", {
				"inventory.reserve": params => {
					world.clock.advance(LEASE / 2 + 1);
					return Promise.resolve(params);
				},
			});
			const result = await saga.advance(deps, order);
			expect(calls.actions()).toEqual(["inventory.reserve", "payments.charge", "inventory.commit"]);
			expect(result).toMatchObject({ status: "CONFIRMED", leaseOwner: "n1" });
			expect(world.store.get("o-1").leaseUntil).toBe(iso(T0 + LEASE / 2 + 1 + LEASE));
		});
	});

	describe("compensation", () => {
		it("leaves the order unsettled when a refund fails, and recovery finishes it after the lease", async () => {
			const { world, order } = await started();
			const down = new Errors.ServiceNotAvailableError({ action: "inventory.commit" });
			const refundDown = new Errors.RequestTimeoutError({ action: "payments.refund", nodeID: "pay-1" });
			const n1 = world.node("n1", {
				"inventory.commit": () => Promise.reject(down),
				"payments.refund": () => Promise.reject(refundDown),
			});
			const result = await saga.advance(n1.deps, order);
			expect(n1.calls.made).toEqual([RESERVE, CHARGE, COMMIT, RELEASE, refund("SERVICE_UNAVAILABLE")]);
			expect(result).toMatchObject({ status: "FAILED", settled: false });
			expect(world.store.get("o-1")).toMatchObject({ status: "FAILED", settled: false });
			expect(world.logs.at(-1)).toMatch(/^n1 warn Compensation of order o-1 incomplete, recovery will retry: /);

			const n2 = world.node("n2");
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([]); // the lease has not expired yet
			world.clock.advance(LEASE + 1);
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([RELEASE, refund("SERVICE_UNAVAILABLE")]);
			expect(world.store.get("o-1")).toMatchObject({ status: "FAILED", settled: true, leaseOwner: "n2" });
			expect(world.events).toEqual([CREATED, event("order.failed", "FAILED")]);
		});

		it("cancels a confirmed order: releases the stock, refunds the charge, settles it", async () => {
			const { world, order } = await started();
			const n1 = world.node("n1");
			const confirmed = await saga.advance(n1.deps, order);
			world.clock.advance(60_000);
			const n2 = world.node("n2");
			const cancelled = await saga.cancel(n2.deps, confirmed);
			expect(n2.calls.made).toEqual([RELEASE, refund("cancelled")]);
			expect(cancelled).toMatchObject({ status: "CANCELLED", leaseOwner: "n2" });
			expect(world.store.get("o-1")).toMatchObject({
				status: "CANCELLED",
				settled: true,
				leaseOwner: "n2",
				leaseUntil: iso(T0 + 60_000 + LEASE),
			});
			expect(world.events.at(-1)).toEqual(event("order.cancelled", "CANCELLED"));
			// A second cancel finds the order no longer CONFIRMED and changes nothing.
			expect(await saga.cancel(n2.deps, confirmed)).toBeNull();
			expect(n2.calls.made).toHaveLength(2);
		});
	});

	describe("recovery", () => {
		it("resumes an order whose node died between two steps, once its lease has expired", async () => {
			const { world, order } = await started();
			// n1 reserves, then dies on its way to the charge: its run never goes on.
			const n1 = world.node("n1", { "payments.charge": () => new Promise(() => {}) });
			void saga.advance(n1.deps, order);
			await settle();
			expect(n1.calls.actions()).toEqual(["inventory.reserve", "payments.charge"]);

			const n2 = world.node("n2");
			world.clock.advance(LEASE - 1);
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([]);

			world.clock.advance(2);
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([RESERVE, CHARGE, COMMIT]);
			expect(world.store.get("o-1")).toMatchObject({
				status: "CONFIRMED",
				settled: true,
				leaseOwner: "n2",
				leaseUntil: iso(T0 + LEASE + 1 + LEASE),
			});
			expect(world.events).toEqual([CREATED, event("order.confirmed", "CONFIRMED")]);
			expect(world.logs).toEqual(["n2 info Recovering order o-1 (PENDING)"]);
		});

		it("stops a run whose lease another node took over while that node is still running it", async () => {
			const { world, order } = await started();
			// n1's reserve outlasts the lease; n2 takes the order over meanwhile and is itself mid-way when n1 wakes up.
			const slow1 = gate();
			const slow2 = gate();
			const after =
				(g: { promise: Promise<void> }) =>
				async <P>(params: P) => {
					await g.promise;
					return params;
				};
			const n1 = world.node("n1", { "inventory.reserve": after(slow1) });
			const n2 = world.node("n2", { "inventory.reserve": after(slow2) });
			const run1 = saga.advance(n1.deps, order);
			await settle();
			world.clock.advance(LEASE + 1);
			const recovery = saga.recoverStale(n2.deps);
			await settle();
			expect(world.store.get("o-1")).toMatchObject({ status: "PENDING", leaseOwner: "n2" });

			slow1.open();
			// n1 finds the lease no longer its own before its next step: it stops, with no charge and no commit.
			expect(await run1).toEqual(world.store.get("o-1"));
			expect(n1.calls.made).toEqual([RESERVE]);
			expect(world.store.get("o-1")).toMatchObject({ status: "PENDING", leaseOwner: "n2" });

			slow2.open();
			await recovery;
			expect(n2.calls.made).toEqual([RESERVE, CHARGE, COMMIT]);
			expect(world.store.get("o-1")).toMatchObject({ status: "CONFIRMED", settled: true, leaseOwner: "n2" });
			expect(world.events).toEqual([CREATED, event("order.confirmed", "CONFIRMED")]);
		});

		it("changes and undoes nothing when a step fails after another run has finished the order", async () => {
			const { world, order } = await started();
			// n1's charge outlasts the lease and then times out; n2 has taken the order over and confirmed it meanwhile.
			const slow = gate();
			const n1 = world.node("n1", {
				"payments.charge": async () => {
					await slow.promise;
					throw new Errors.RequestTimeoutError({ action: "payments.charge", nodeID: "pay-1" });
				},
			});
			const run1 = saga.advance(n1.deps, order);
			await settle();
			world.clock.advance(LEASE + 1);
			await saga.recoverStale(world.node("n2").deps);

			slow.open();
			expect(await run1).toEqual(world.store.get("o-1"));
			expect(n1.calls.made).toEqual([RESERVE, CHARGE]);
			expect(world.store.get("o-1")).toMatchObject({ status: "CONFIRMED", settled: true, leaseOwner: "n2" });
			expect(world.events).toEqual([CREATED, event("order.confirmed", "CONFIRMED")]);
		});

		it("lets only one node take an abandoned order over", async () => {
			const { world, order } = await started();
			world.clock.advance(LEASE + 1);
			const [a, b] = await Promise.all([
				saga.takeOver(world.node("n2").deps, order),
				saga.takeOver(world.node("n3").deps, order),
			]);
			expect(a).toMatchObject({ leaseOwner: "n2", leaseUntil: iso(T0 + LEASE + 1 + LEASE) });
			expect(b).toBeNull();
			expect(world.store.get("o-1").leaseOwner).toBe("n2");
		});

		it("leaves settled orders and orders still leased alone", async () => {
			const { world, order } = await started();
			await saga.advance(world.node("n1").deps, order);
			await saga.start(world.node("n1").deps, { ...DRAFT, id: "o-2", idempotencyKey: null }, null);
			world.clock.advance(LEASE - 1);
			const n2 = world.node("n2");
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([]);
			expect(world.store.get("o-2")).toMatchObject({ status: "PENDING", leaseOwner: "n1" });
		});
	});

	describe("idempotent replay", () => {
		async function settled(status: "CONFIRMED" | "FAILED") {
			const { world, order } = await started();
			const declined = () => Promise.reject(new PaymentDeclinedError({ orderId: "o-1" }));
			const { deps } = world.node("n1", status === "FAILED" ? { "payments.charge": declined } : {});
			return { world, order: await saga.advance(deps, order) };
		}

		it("answers the same key and request with the first order, as it settled", async () => {
			for (const status of ["CONFIRMED", "FAILED"] as const) {
				const { world, order } = await settled(status);
				const replayed = await saga.replay(world.node("n2").deps, "u-1:key-1", "hash-1");
				expect(replayed).toEqual(world.store.get("o-1"));
				expect(replayed).toMatchObject({ status, settled: true, failure: order.failure });
			}
		});

		it("answers null for a key it does not know", async () => {
			const { world } = await started();
			expect(await saga.replay(world.node("n1").deps, "u-1:key-2", "hash-1")).toBeNull();
			expect(await saga.replay(world.node("n1").deps, "u-2:key-1", "hash-1")).toBeNull();
		});

		it("refuses the same key with a different request: 409 IDEMPOTENCY_KEY_REUSED", async () => {
			const { world } = await settled("CONFIRMED");
			await expect(saga.replay(world.node("n1").deps, "u-1:key-1", "hash-2")).rejects.toMatchObject({
				code: 409,
				type: "IDEMPOTENCY_KEY_REUSED",
			});
		});

		it("waits for a first request still running, and answers with its outcome", async () => {
			const { world, order } = await started();
			const { deps } = world.node("n2");
			let polls = 0;
			const sleep = async (ms: number) => {
				await deps.sleep(ms);
				if (++polls === 3) await saga.advance(world.node("n1").deps, order);
			};
			const replayed = await saga.replay({ ...deps, sleep }, "u-1:key-1", "hash-1");
			expect(replayed).toMatchObject({ id: "o-1", status: "CONFIRMED" });
			expect(polls).toBe(3);
		});

		it("gives up after waiting 8 s for a first request still running: 409 IDEMPOTENT_REQUEST_IN_PROGRESS", async () => {
			const { world } = await started();
			await expect(saga.replay(world.node("n2").deps, "u-1:key-1", "hash-1")).rejects.toMatchObject({
				code: 409,
				type: "IDEMPOTENT_REQUEST_IN_PROGRESS",
				data: { orderId: "o-1" },
			});
			expect(world.clock.now()).toBe(T0 + saga.REPLAY_WAIT_MS);
			expect(world.store.get("o-1").status).toBe("PENDING");
		});
	});

	it("publishes the status's event with each transition, and changes nothing once the order moved on", async () => {
		const { world, order } = await started();
		const n1 = world.node("n1");
		const confirmed: Order = await saga.advance(n1.deps, order);
		const shipped = await saga.transition(n1.deps, confirmed, "CONFIRMED", { status: "SHIPPED" });
		expect(shipped).toMatchObject({ status: "SHIPPED" });
		expect(await saga.transition(n1.deps, confirmed, "CONFIRMED", { status: "SHIPPED" })).toBeNull();
		expect(world.events.map(e => e.id)).toEqual(["o-1:created", "o-1:confirmed", "o-1:shipped"]);
		expect(world.events.at(-1)).toEqual(event("order.shipped", "SHIPPED"));
	});
});
