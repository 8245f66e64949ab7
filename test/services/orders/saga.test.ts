import { describe, expect, it } from "vitest";
import { Errors } from "moleculer";
import { createHash } from "node:crypto";
import {
	ConflictError,
	OutOfStockError,
	PaymentDeclinedError,
	StorageUnavailableError,
	UnprocessableError,
} from "../../../lib/errors";
import type { Order } from "../../../services/orders/contract";
import * as saga from "../../../services/orders/saga";
import { failureError } from "../../../services/orders/order-failure";
import { DRAFT, DRAFT_WITH_CODE, World, gate, settle } from "./saga-fakes";

const LEASE = 15_000;
/** How far past a lease's expiry (on its own clock) a node waits before taking an order over. */
const SKEW = 2000;
const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

/** Every call of a step: the step timeout and its retries, never the request's remaining time. */
const STEP = { timeout: 1000, retries: 2 };
/** Every call of compensation: the step timeout, no retries (recovery retries an unsettled order). */
const UNDO = { timeout: 1000, retries: 0 };
const RESERVE = {
	action: "inventory.reserve",
	params: {
		orderId: "o-1",
		items: [
			{ productId: "p-1", quantity: 2 },
			{ productId: "p-2", quantity: 1 },
		],
	},
	opts: STEP,
};
const CHARGE = {
	action: "payments.charge",
	params: { orderId: "o-1", userId: "u-1", amount: 3050, currency: "EUR", paymentToken: "tok_visa" },
	opts: STEP,
};
const COMMIT = { action: "inventory.commit", params: RESERVE.params, opts: STEP };
const RELEASE = { action: "inventory.release", params: { orderId: "o-1" }, opts: UNDO };
const refund = (reason: string) => ({ action: "payments.refund", params: { orderId: "o-1", reason }, opts: UNDO });
const event = (type: string, status: string) => ({ type, id: `o-1:${type.slice("order.".length)}`, status });
const CREATED = { type: "order.created", id: "o-1:created", status: "PENDING" };

/** The stored order's status and failure: what advance() answers with once it failed (settling is written after). */
const failedAs = (world: World) => {
	const { status, failure, failureReason } = world.store.get("o-1");
	return { status, failure, failureReason };
};

const DRAFT_FAILURE = {
	step: "reserve" as const,
	name: "StorageUnavailableError",
	code: 503,
	type: "SERVICE_UNAVAILABLE",
	message: "The order could not be completed, try again later",
	data: { orderId: "o-1" },
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
				shippedAt: null,
				deliveredAt: null,
				leaseOwner: "n1",
				leaseToken: "t1",
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

		it(
			"fails at reserve in the run that created the order: releases " + "what may be held; no charge was ever asked",
			async () => {
				const { world, order } = await started();
				const outOfStock = new OutOfStockError({ lines: [{ productId: "p-1", requested: 2, available: 1 }] });
				const { deps, calls } = world.node("n1", { "inventory.reserve": () => Promise.reject(outOfStock) });
				const result = await saga.advance(deps, order, { first: true });
				expect(calls.made).toEqual([RESERVE, RELEASE]);
				expect(result).toMatchObject(failedAs(world));
				expect(world.store.get("o-1")).toMatchObject({
					status: "FAILED",
					settled: true,
					failureReason: "OUT_OF_STOCK",
				});
			},
		);

		it(
			"fails at reserve in a run that took the order over: also voids " +
				"the payment, as the run before may have charged",
			async () => {
				const { world, order } = await started();
				world.clock.advance(LEASE + SKEW + 1);
				const outOfStock = new OutOfStockError({ lines: [{ productId: "p-1", requested: 2, available: 1 }] });
				const { deps, calls } = world.node("n2", { "inventory.reserve": () => Promise.reject(outOfStock) });
				const taken = (await saga.takeOver(deps, order))!;
				await saga.advance(deps, taken);
				expect(calls.made).toEqual([RESERVE, RELEASE, refund("OUT_OF_STOCK")]);
				expect(world.store.get("o-1")).toMatchObject({ status: "FAILED", settled: true, leaseToken: "t2" });
			},
		);

		it(
			"fails at reserve: releases what may be held and voids the " + "payment, as another run may have charged",
			async () => {
				const { world, order } = await started();
				const outOfStock = new OutOfStockError({ lines: [{ productId: "p-1", requested: 2, available: 1 }] });
				const { deps, calls } = world.node("n1", { "inventory.reserve": () => Promise.reject(outOfStock) });
				const result = await saga.advance(deps, order);
				expect(calls.made).toEqual([RESERVE, RELEASE, refund("OUT_OF_STOCK")]);
				expect(result).toMatchObject(failedAs(world));
				expect(world.store.get("o-1")).toMatchObject({
					status: "FAILED",
					settled: true,
					failureReason: "OUT_OF_STOCK",
					failure: {
						step: "reserve",
						code: 409,
						type: "OUT_OF_STOCK",
						data: { orderId: "o-1", lines: [{ productId: "p-1", requested: 2, available: 1 }] },
					},
				});
				expect(world.events).toEqual([CREATED, event("order.failed", "FAILED")]);
				expect(world.logs).toEqual([
					"n1 info Order o-1 failed at reserve: OUT_OF_STOCK Not enough stock for some items",
				]);
			},
		);

		it("fails at charge when the payment is declined: releases the stock, voids the payment", async () => {
			const { world, order } = await started();
			const declined = new PaymentDeclinedError({ orderId: "o-1" });
			const { deps, calls } = world.node("n1", { "payments.charge": () => Promise.reject(declined) });
			const result = await saga.advance(deps, order);
			expect(calls.made).toEqual([RESERVE, CHARGE, RELEASE, refund("PAYMENT_DECLINED")]);
			expect(result).toMatchObject(failedAs(world));
			expect(world.store.get("o-1")).toMatchObject({
				status: "FAILED",
				settled: true,
				failure: { step: "payment", code: 402, type: "PAYMENT_DECLINED" },
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
				failure: { step: "commit", code: 503, type: "SERVICE_UNAVAILABLE" },
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
				failure: { step: "payment", code: 503, type: "PAYMENT_UNAVAILABLE" },
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
			world.clock.advance(LEASE + SKEW + 1);
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
			world.clock.advance(LEASE + SKEW + 1);
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
			expect(cancelled).toMatchObject({ status: "CANCELLED", leaseOwner: "n2", leaseToken: "t2" });
			expect(world.store.get("o-1")).toMatchObject({
				status: "CANCELLED",
				settled: true,
				leaseOwner: "n2",
				leaseToken: "t2",
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
			world.clock.advance(LEASE + SKEW - 1);
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([]);

			world.clock.advance(2);
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([RESERVE, CHARGE, COMMIT]);
			expect(world.store.get("o-1")).toMatchObject({
				status: "CONFIRMED",
				settled: true,
				leaseOwner: "n2",
				leaseUntil: iso(T0 + LEASE + SKEW + 1 + LEASE),
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
			world.clock.advance(LEASE + SKEW + 1);
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
			world.clock.advance(LEASE + SKEW + 1);
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
			expect(a).toMatchObject({ leaseOwner: "n2", leaseToken: "t2", leaseUntil: iso(T0 + LEASE + 1 + LEASE) });
			expect(b).toBeNull();
			expect(world.store.get("o-1")).toMatchObject({ leaseOwner: "n2", leaseToken: "t2" });
		});

		it("leaves settled orders and orders still leased alone", async () => {
			const { world, order } = await started();
			await saga.advance(world.node("n1").deps, order);
			await saga.start(world.node("n1").deps, { ...DRAFT, id: "o-2", idempotencyKey: null }, null);
			world.clock.advance(LEASE + SKEW - 1);
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

	describe("fencing: one run of an order at a time", () => {
		it(
			"keeps apart two runs on the same node: the first run's late " + "503 at reserve writes and undoes nothing",
			async () => {
				// Issue 17, item 1: the request's reserve outlasts the lease, its own node recovers the order (same owner), and
				// the reserve then fails with 503 while the recovery has reserved and charged.
				const { world, order } = await started();
				const late = gate();
				const recoveryCommit = gate();
				let reserves = 0;
				const n1 = world.node("n1", {
					"inventory.reserve": async params => {
						if (++reserves > 1) return params;
						await late.promise;
						throw new StorageUnavailableError();
					},
					"inventory.commit": async params => {
						await recoveryCommit.promise;
						return { ...params, committed: 1 };
					},
				});
				const run1 = saga.advance(n1.deps, order);
				await settle();
				world.clock.advance(LEASE + SKEW + 1);
				const recovery = saga.recoverStale(n1.deps);
				await settle();
				expect(n1.calls.made).toEqual([RESERVE, RESERVE, CHARGE, COMMIT]);
				expect(world.store.get("o-1")).toMatchObject({ status: "PENDING", leaseOwner: "n1", leaseToken: "t2" });

				late.open();
				// The first run's token is gone: it neither fails the order nor releases what the recovery holds.
				expect(await run1).toMatchObject({ status: "PENDING", leaseToken: "t2" });
				recoveryCommit.open();
				await recovery;
				expect(n1.calls.made).toEqual([RESERVE, RESERVE, CHARGE, COMMIT]);
				expect(world.store.get("o-1")).toMatchObject({ status: "CONFIRMED", settled: true, leaseToken: "t2" });
				expect(world.events).toEqual([CREATED, event("order.confirmed", "CONFIRMED")]);
			},
		);

		it(
			"takes an order over with a new token: the old run's renewal, " + "status changes and settling write nothing",
			async () => {
				const { world, order } = await started();
				const n1 = world.node("n1");
				world.clock.advance(LEASE + SKEW + 1);
				const taken = await saga.takeOver(n1.deps, order);
				expect(taken).toMatchObject({ leaseOwner: "n1", leaseToken: "t2" });
				const before = world.store.get("o-1");

				expect(await saga.renewLease(n1.deps, order)).toBeNull();
				expect(await saga.confirm(n1.deps, order)).toBeNull();
				expect(await saga.fail(n1.deps, order, DRAFT_FAILURE)).toMatchObject({ status: "PENDING", leaseToken: "t2" });
				expect(await saga.settle(n1.deps, { ...order, status: "FAILED" })).toBe(false);
				expect(n1.calls.made).toEqual([]);
				expect(world.store.get("o-1")).toEqual(before);
				expect(world.events).toEqual([CREATED]);

				// The run that holds the token renews.
				expect(await saga.renewLease(n1.deps, taken!)).toBe(T0 + LEASE + SKEW + 1 + LEASE);
			},
		);

		it("extends the lease when an order fails, so that recovery does not take its compensation over", async () => {
			const { world, order } = await started();
			const slowRefund = gate();
			const n1 = world.node("n1", {
				// The charge is declined at the end of its time budget, just under half the lease.
				"payments.charge": () => {
					world.clock.advance(LEASE / 2 - 1);
					return Promise.reject(new PaymentDeclinedError({ orderId: "o-1" }));
				},
				"payments.refund": async p => {
					await slowRefund.promise;
					return world.node("x").calls.calls["payments.refund"](p);
				},
			});
			const run = saga.advance(n1.deps, order);
			await settle();
			expect(world.store.get("o-1")).toMatchObject({
				status: "FAILED",
				leaseToken: "t1",
				leaseUntil: iso(T0 + LEASE / 2 - 1 + LEASE),
			});
			// The lease the run started with has expired (by more than the margin); the one the failure took has not.
			world.clock.advance(LEASE / 2 + SKEW + 2);
			const n2 = world.node("n2");
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([]);
			slowRefund.open();
			expect(await run).toMatchObject({ status: "FAILED" });
			expect(world.store.get("o-1")).toMatchObject({ status: "FAILED", settled: true, leaseToken: "t1" });
		});

		it("answers a request whose run lost the order with the outcome of the run that took it over", async () => {
			const { world, order } = await started();
			world.clock.advance(LEASE + SKEW + 1);
			const n2 = world.node("n2");
			const taken = (await saga.takeOver(n2.deps, order))!;
			const { deps } = world.node("n1");
			let polls = 0;
			const sleep = async (ms: number) => {
				await deps.sleep(ms);
				if (++polls === 3) await saga.advance(n2.deps, taken);
			};
			expect(await saga.outcome({ ...deps, sleep }, order.id)).toMatchObject({ status: "CONFIRMED", leaseToken: "t2" });
			expect(polls).toBe(3);
		});
	});

	describe("timings", () => {
		it("gives every call an explicit timeout and its retries, never the request's remaining time", async () => {
			const { world, order } = await started();
			const down = new Errors.ServiceNotAvailableError({ action: "inventory.commit" });
			const { deps, calls } = world.node("n1", { "inventory.commit": () => Promise.reject(down) });
			await saga.advance(deps, order);
			expect(calls.made.map(c => [c.action, c.opts])).toEqual([
				["inventory.reserve", STEP],
				["payments.charge", STEP],
				["inventory.commit", STEP],
				["inventory.release", UNDO],
				["payments.refund", UNDO],
			]);
		});

		it(
			"counts a step's attempts and retry delays, and refuses " + "timings where a step could outlast half the lease",
			() => {
				expect(saga.stepBudgetMs({ stepTimeoutMs: 2000, stepRetries: 2 })).toBe(2000 * 3 + 100 + 200);
				expect(saga.stepBudgetMs({ stepTimeoutMs: 500, stepRetries: 0 })).toBe(500);
				const ok = { leaseMs: 15_000, stepTimeoutMs: 2000, stepRetries: 2, clockSkewMs: 2000 };
				expect(() => saga.assertTimings(ok)).not.toThrow();
				for (const bad of [
					{ ...ok, stepTimeoutMs: 2500 }, // 7.8 s of attempts against 7.5 s
					{ ...ok, leaseMs: 12_000 },
					{ ...ok, stepTimeoutMs: 0 },
					{ ...ok, stepRetries: -1 },
					{ ...ok, clockSkewMs: -1 },
					{ ...ok, leaseMs: Number.NaN },
				])
					expect(() => saga.assertTimings(bad)).toThrow(/ORDER_/);
			},
		);
	});

	describe("clocks", () => {
		it(
			"takes no order over before its lease expired by the clock " +
				"margin, whatever the recovering node's clock says",
			async () => {
				const { world } = await started();
				// n2's clock runs 1.5 s ahead: when n1's lease still has 1 s to run on n1's clock, n2 reads it as expired.
				const n2 = world.node("n2", {}, 1500);
				world.clock.advance(LEASE - 1000);
				await saga.recoverStale(n2.deps);
				expect(n2.calls.made).toEqual([]);
				expect(world.store.get("o-1")).toMatchObject({ status: "PENDING", leaseOwner: "n1", leaseToken: "t1" });

				world.clock.advance(1000 + SKEW - 1500 + 1);
				await saga.recoverStale(n2.deps);
				expect(n2.calls.made).toEqual([RESERVE, CHARGE, COMMIT]);
				expect(world.store.get("o-1")).toMatchObject({ status: "CONFIRMED", leaseOwner: "n2", leaseToken: "t2" });
			},
		);
	});

	describe("stopping", () => {
		it("picks no order up once its node is stopping", async () => {
			const { world } = await started();
			world.clock.advance(LEASE + SKEW + 1);
			const n2 = world.node("n2");
			await saga.recoverStale(n2.deps, () => false);
			expect(n2.calls.made).toEqual([]);
			expect(world.store.get("o-1")).toMatchObject({ status: "PENDING", leaseOwner: "n1", leaseToken: "t1" });
		});
	});

	describe("idempotency keys", () => {
		it("stores a fixed-length digest of user and key, so a key of any allowed length fits the column", () => {
			const long = "k".repeat(saga.IDEMPOTENCY_KEY_MAX);
			expect(saga.idempotencyKey("u-1", long)).toMatch(/^[0-9a-f]{64}$/);
			expect(saga.idempotencyKey("u-1", "k")).toMatch(/^[0-9a-f]{64}$/);
			expect(saga.idempotencyKey("u-1", "k")).toBe(saga.idempotencyKey("u-1", "k"));
			// Per user, and unambiguous: ("u-1", ":k") is not ("u-1:", "k").
			expect(saga.idempotencyKey("u-2", "k")).not.toBe(saga.idempotencyKey("u-1", "k"));
			expect(saga.idempotencyKey("u-1", ":k")).not.toBe(saga.idempotencyKey("u-1:", "k"));
			expect(saga.idempotencyKey("u-1", undefined)).toBeNull();
		});

		it("refuses a key over the documented maximum with 422 instead of ignoring it", () => {
			expect(() => saga.idempotencyKey("u-1", "k".repeat(saga.IDEMPOTENCY_KEY_MAX + 1))).toThrow(
				expect.objectContaining({ code: 422, type: "VALIDATION_ERROR" }),
			);
		});
	});

	describe("discount codes", () => {
		const PROMO = {
			action: "promotions.reserve",
			params: { orderId: "o-1", code: "SAVE10", userId: "u-1" },
			opts: STEP,
		};
		const PROMO_RELEASE = { action: "promotions.release", params: { orderId: "o-1" }, opts: UNDO };
		const CODE_CHARGE = { ...CHARGE, params: { ...CHARGE.params, amount: 3894 } };
		const exhausted = () =>
			new ConflictError("This code has been used up", "DISCOUNT_EXHAUSTED", { reason: "EXHAUSTED", orderId: "o-1" });

		async function startedWithCode() {
			const world = new World();
			const order = await saga.start(world.node("n1").deps, DRAFT_WITH_CODE, null);
			return { world, order };
		}

		it("reserves the code's use first, then stock, and charges the total with discount, shipping, tax", async () => {
			const { world, order } = await startedWithCode();
			const { deps, calls } = world.node("n1");
			const result = await saga.advance(deps, order, { first: true });
			expect(calls.made).toEqual([PROMO, RESERVE, CODE_CHARGE, COMMIT]);
			expect(result).toMatchObject({ status: "CONFIRMED", settled: true, total: 3894, discountCode: "SAVE10" });
		});

		it("fails at the promotion step in the first run: 409 DISCOUNT_EXHAUSTED, use given back, no charge", async () => {
			const { world, order } = await startedWithCode();
			const { deps, calls } = world.node("n1", { "promotions.reserve": () => Promise.reject(exhausted()) });
			const result = await saga.advance(deps, order, { first: true });
			expect(calls.made).toEqual([PROMO, RELEASE, PROMO_RELEASE]);
			expect(result).toMatchObject(failedAs(world));
			const stored = world.store.get("o-1");
			expect(stored).toMatchObject({
				status: "FAILED",
				settled: true,
				failureReason: "DISCOUNT_EXHAUSTED",
				failure: {
					step: "promotion",
					code: 409,
					type: "DISCOUNT_EXHAUSTED",
					data: { reason: "EXHAUSTED", orderId: "o-1" },
				},
			});
			// The client hears the refusal as it is, with the order's id, the first time and on every replay.
			expect(failureError(stored.failure!)).toMatchObject({
				code: 409,
				type: "DISCOUNT_EXHAUSTED",
				data: { reason: "EXHAUSTED", orderId: "o-1" },
			});
			expect(world.events).toEqual([CREATED, event("order.failed", "FAILED")]);
		});

		it("passes 422 DISCOUNT_NOT_APPLICABLE at the promotion step through, with the order's id", async () => {
			const { world, order } = await startedWithCode();
			const limit = new UnprocessableError("Used already", "DISCOUNT_NOT_APPLICABLE", { reason: "CUSTOMER_LIMIT" });
			const { deps, calls } = world.node("n1", { "promotions.reserve": () => Promise.reject(limit) });
			await saga.advance(deps, order, { first: true });
			expect(calls.actions()).not.toContain("payments.charge");
			expect(calls.actions()).not.toContain("payments.refund");
			expect(world.store.get("o-1").failure).toMatchObject({
				step: "promotion",
				code: 422,
				type: "DISCOUNT_NOT_APPLICABLE",
				data: { reason: "CUSTOMER_LIMIT", orderId: "o-1" },
			});
		});

		it("fails with 503 when promotions cannot be reached at its step, still without a charge", async () => {
			const { world, order } = await startedWithCode();
			const down = new Errors.ServiceNotAvailableError({ action: "promotions.reserve" });
			const { deps, calls } = world.node("n1", { "promotions.reserve": () => Promise.reject(down) });
			await saga.advance(deps, order, { first: true });
			expect(calls.made).toEqual([PROMO, RELEASE, PROMO_RELEASE]);
			expect(world.store.get("o-1")).toMatchObject({
				status: "FAILED",
				settled: true,
				failure: { step: "promotion", code: 503, type: "SERVICE_UNAVAILABLE" },
			});
		});

		it("voids the payment when a run that took the order over fails at the promotion step", async () => {
			const { world, order } = await startedWithCode();
			world.clock.advance(LEASE + SKEW + 1);
			const { deps, calls } = world.node("n2", { "promotions.reserve": () => Promise.reject(exhausted()) });
			await saga.advance(deps, (await saga.takeOver(deps, order))!);
			expect(calls.made).toEqual([PROMO, RELEASE, PROMO_RELEASE, refund("DISCOUNT_EXHAUSTED")]);
		});

		it("gives the use back with the stock and the payment when a later step fails", async () => {
			const { world, order } = await startedWithCode();
			const declined = new PaymentDeclinedError({ orderId: "o-1" });
			const { deps, calls } = world.node("n1", { "payments.charge": () => Promise.reject(declined) });
			await saga.advance(deps, order, { first: true });
			expect(calls.made).toEqual([PROMO, RESERVE, CODE_CHARGE, RELEASE, PROMO_RELEASE, refund("PAYMENT_DECLINED")]);
			expect(world.store.get("o-1")).toMatchObject({ status: "FAILED", settled: true });
		});

		it("releases the use when a confirmed order is cancelled", async () => {
			const { world, order } = await startedWithCode();
			const confirmed = await saga.advance(world.node("n1").deps, order);
			const n2 = world.node("n2");
			await saga.cancel(n2.deps, confirmed);
			expect(n2.calls.made).toEqual([RELEASE, PROMO_RELEASE, refund("cancelled")]);
			expect(world.store.get("o-1")).toMatchObject({ status: "CANCELLED", settled: true });
		});

		it("leaves the order unsettled when the release fails, and recovery releases the use", async () => {
			const { world, order } = await startedWithCode();
			const confirmed = await saga.advance(world.node("n1").deps, order);
			const down = new Errors.RequestTimeoutError({ action: "promotions.release", nodeID: "promo-1" });
			const n1 = world.node("n1", { "promotions.release": () => Promise.reject(down) });
			await saga.cancel(n1.deps, confirmed);
			expect(n1.calls.made).toEqual([RELEASE, PROMO_RELEASE]);
			expect(world.store.get("o-1")).toMatchObject({ status: "CANCELLED", settled: false });

			world.clock.advance(LEASE + SKEW + 1);
			const n2 = world.node("n2");
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([RELEASE, PROMO_RELEASE, refund("cancelled")]);
			expect(world.store.get("o-1")).toMatchObject({ status: "CANCELLED", settled: true, leaseOwner: "n2" });
		});

		it("recovers an abandoned order with a code by reserving its use again (idempotent per order)", async () => {
			const { world, order } = await startedWithCode();
			const n1 = world.node("n1", { "payments.charge": () => new Promise(() => {}) });
			void saga.advance(n1.deps, order, { first: true });
			await settle();
			expect(n1.calls.actions()).toEqual(["promotions.reserve", "inventory.reserve", "payments.charge"]);

			world.clock.advance(LEASE + SKEW + 1);
			const n2 = world.node("n2");
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([PROMO, RESERVE, CODE_CHARGE, COMMIT]);
			expect(world.store.get("o-1")).toMatchObject({ status: "CONFIRMED", settled: true, leaseOwner: "n2" });
		});

		it("recovers a failed order with a code by releasing its use with the stock and the payment", async () => {
			const { world, order } = await startedWithCode();
			// n1 fails at commit, then its compensation dies before it settles the order.
			const down = new Errors.ServiceNotAvailableError({ action: "inventory.commit" });
			const n1 = world.node("n1", {
				"inventory.commit": () => Promise.reject(down),
				"inventory.release": () => Promise.reject(new StorageUnavailableError()),
			});
			await saga.advance(n1.deps, order, { first: true });
			expect(world.store.get("o-1")).toMatchObject({ status: "FAILED", settled: false });

			world.clock.advance(LEASE + SKEW + 1);
			const n2 = world.node("n2");
			await saga.recoverStale(n2.deps);
			expect(n2.calls.made).toEqual([RELEASE, PROMO_RELEASE, refund("SERVICE_UNAVAILABLE")]);
			expect(world.store.get("o-1")).toMatchObject({ status: "FAILED", settled: true });
		});

		it("carries the totals and the code in every order event", async () => {
			const { order } = await startedWithCode();
			expect(saga.eventData(order)).toMatchObject({
				orderId: "o-1",
				total: 3894,
				totals: { subtotal: 3050, discount: 305, shipping: 500, tax: 649, total: 3894 },
				discountCode: "SAVE10",
				items: DRAFT_WITH_CODE.items,
			});
		});
	});

	describe("request digest", () => {
		const request = { items: [{ variantId: "v-1", quantity: 1 }], paymentToken: "tok_visa" };

		it("is what it was before codes and methods for a request without them, so old keys still replay", () => {
			const before = createHash("sha256")
				.update(JSON.stringify([request.items, "tok_visa", null]))
				.digest("hex");
			expect(saga.requestHash(request)).toBe(before);
		});

		it("covers the code (case-insensitive, as it applies) and the shipping method", () => {
			const withCode = saga.requestHash({ ...request, discountCode: "save10" });
			expect(withCode).toBe(saga.requestHash({ ...request, discountCode: "SAVE10" }));
			expect(withCode).not.toBe(saga.requestHash(request));
			expect(withCode).not.toBe(saga.requestHash({ ...request, discountCode: "SAVE20" }));
			const withMethod = saga.requestHash({ ...request, shippingMethodId: "m-1" });
			expect(withMethod).not.toBe(saga.requestHash(request));
			expect(withMethod).not.toBe(saga.requestHash({ ...request, shippingMethodId: "m-2" }));
			expect(withMethod).not.toBe(saga.requestHash({ ...request, discountCode: "m-1" }));
		});
	});

	it("records when an order was shipped and when it was delivered", async () => {
		const { world, order } = await started();
		const n1 = world.node("n1");
		const confirmed = await saga.advance(n1.deps, order);
		world.clock.advance(1000);
		const shipped = (await saga.transition(
			n1.deps,
			confirmed,
			"CONFIRMED",
			saga.shipmentChange("SHIPPED", T0 + 1000),
		))!;
		world.clock.advance(1000);
		await saga.transition(n1.deps, shipped, "SHIPPED", saga.shipmentChange("DELIVERED", T0 + 2000));
		expect(world.store.get("o-1")).toMatchObject({
			status: "DELIVERED",
			shippedAt: iso(T0 + 1000),
			deliveredAt: iso(T0 + 2000),
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
