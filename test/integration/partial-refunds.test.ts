import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Errors } from "moleculer";
import { StorageUnavailableError } from "../../lib/errors";
import type { Store } from "../../lib/storage";
import type { DbThis } from "../../mixins/db.mixin";
import { PAYMENTS, REFUNDS } from "../../services/payments/contract";
import type { RefundLedger } from "../../services/payments/refund-ledger";
import { RETURNED_STOCK } from "../../services/inventory/returned-stock";
import { STOCK } from "../../services/inventory/stock-ledger";
import { call } from "../../lib/actor";
import type { DomainEvent } from "../../lib/events";
import type { OrderView } from "../../services/orders/contract";
import type { Product } from "../../services/products/contract";
import type { PaymentProvider, RefundRequest } from "../../services/payments/payment-provider";
import { startShop, type Shop } from "../support/shop";
import { AS_ADMIN, eventProbe } from "../support/events";
import { eventually } from "../support/http";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";
import { describeWithInfra, useServer } from "../support/infra";

/**
 * Issue 13, payments' and inventory's part of returns: partial refunds of a charge (`payments.refundPart`), never
 * more than the charge even when raced, once per return, finished by a retry after a provider failure; and returned
 * units back on the shelf once per return (`inventory.returnStock`). Orders come from the running saga (products,
 * inventory, payments, orders); in memory (SQLite), then with every actor on MariaDB and PostgreSQL.
 */
const SERVICES = ["products", "inventory", "users", "payments", "orders"];
const customer = { meta: { user: { id: "user-pr", role: "customer", email: "pr@example.com", name: "P" } } };
const PRICE = 1250;

/** The shop's provider, with refunds that fail on demand (a provider down), the books kept by the real one. */
class FlakyProvider implements PaymentProvider {
	failRefunds = 0;
	refundsAsked = 0;
	constructor(private readonly inner: PaymentProvider) {}
	charge: PaymentProvider["charge"] = request => this.inner.charge(request);
	record: PaymentProvider["record"] = key => this.inner.record(key);
	refund(request: RefundRequest): Promise<void> {
		this.refundsAsked++;
		if (this.failRefunds > 0) {
			this.failRefunds--;
			return Promise.reject(new Error("provider unreachable"));
		}
		return this.inner.refund(request);
	}
}

type Database = { uri: string; drop(): Promise<void> };

/** A throwaway database of `kind`: SQLite in memory, MariaDB or PostgreSQL, or MongoDB on mongo-java-server. */
async function openDatabase(kind: "memory" | "mariadb" | "postgres" | "mongo"): Promise<Database> {
	if (kind === "memory") return { uri: "memory://", drop: () => Promise.resolve() };
	if (kind !== "mongo") return createTestDatabase(kind);
	const mongo = await useServer("mongo");
	return { uri: `${mongo.url}/emporium_refunds_${randomUUID().slice(0, 8)}`, drop: () => mongo.dispose() };
}

function suite(kind: "memory" | "mariadb" | "postgres" | "mongo") {
	return () => {
		let db: Database | undefined;
		let shop: Shop;
		let provider: FlakyProvider;
		let events: DomainEvent[];
		let productId: string;

		beforeAll(async () => {
			db = await openDatabase(kind);
			shop = await startShop({ services: SERVICES, env: { DB_URI: db.uri, DATA_DIR: undefined } });
			const payments = shop.broker.getLocalService("payments") as unknown as { provider: PaymentProvider };
			provider = new FlakyProvider(payments.provider);
			payments.provider = provider;
			events = await eventProbe(shop.broker, ["payment.refunded"]);
			const sku = `PR-${randomUUID().slice(0, 8)}`;
			const input = { name: `Product ${sku}`, price: PRICE, category: "test", sku };
			productId = (await shop.broker.call<Product, object>("products.create", input, AS_ADMIN)).id;
			await eventually(() => call(shop.broker, "inventory.restock", { productId, quantity: 1000 }, AS_ADMIN));
		});

		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		afterEach(() => {
			vi.restoreAllMocks();
		});

		const storesOf = (service: string) => shop.broker.getLocalService(service) as unknown as DbThis;

		type Write = "insert" | "update";
		/**
		 * The `n`th of the given writes to the given stores fails, as a lost database would: before it applies, or after
		 * it applied when `applied` (the answer lost). Returns how many of those writes were made.
		 */
		function failWrite(targets: [unknown, Write[]][], n: number, applied = false): () => number {
			let writes = 0;
			const fail = async <T>(write: () => Promise<T>): Promise<T> => {
				if (++writes !== n) return write();
				if (applied) await write();
				throw new StorageUnavailableError("injected: the database went away");
			};
			for (const [target, methods] of targets) {
				// Any collection's store: the spies pass its documents through untouched.
				const store = target as Store;
				const insert = store.insert.bind(store);
				const update = store.update.bind(store);
				if (methods.includes("insert"))
					vi.spyOn(store, "insert").mockImplementation((doc, tx) => fail(() => insert(doc, tx)));
				if (methods.includes("update"))
					vi.spyOn(store, "update").mockImplementation((where, change, tx) => fail(() => update(where, change, tx)));
			}
			return () => writes;
		}

		/** A confirmed (charged) order of `quantity` units: its charge is `quantity * PRICE`. */
		async function chargedOrder(quantity = 4): Promise<OrderView> {
			const params = { items: [{ productId, quantity }], paymentToken: "tok_visa" };
			const order = await call(shop.broker, "orders.create", params, customer);
			expect(order.status).toBe("CONFIRMED");
			return order;
		}
		const refundPart = (orderId: string, returnId: string, amount: number) =>
			call(shop.broker, "payments.refundPart", { orderId, returnId, amount, reason: "returned" }, { retries: 0 });
		const failure = (promise: Promise<unknown>) =>
			promise.then(
				() => "OK",
				(err: Errors.MoleculerError) => err.type,
			);
		const rows = async (orderId: string) => (await call(shop.broker, "payments.list", { orderId }, customer)).rows;
		const audit = async (orderId: string) =>
			(await call(shop.broker, "payments.audit", {})).find(p => p.orderId === orderId);
		const refundedEvents = (orderId: string) => events.filter(e => e.data.orderId === orderId);

		it("refunds in parts up to the charge: the charge becomes PARTIALLY_REFUNDED, then REFUNDED", async () => {
			const order = await chargedOrder(4);
			const [r1, r2, r3] = [randomUUID(), randomUUID(), randomUUID()];
			expect(await refundPart(order.id, r1, 1000)).toMatchObject({ returnId: r1, amount: 1000, status: "SUCCEEDED" });
			expect((await audit(order.id))?.status).toBe("PARTIALLY_REFUNDED");
			await refundPart(order.id, r2, 1500);
			await refundPart(order.id, r3, 2500);
			const list = await rows(order.id);
			expect(list.map(r => [r.kind, r.amount, r.status, r.kind === "REFUND" ? r.returnId : null])).toEqual([
				["CHARGE", 5000, "REFUNDED", null],
				["REFUND", 1000, "SUCCEEDED", r1],
				["REFUND", 1500, "SUCCEEDED", r2],
				["REFUND", 2500, "SUCCEEDED", r3],
			]);
			expect(list[0]).toMatchObject({ refunded: 5000 });
			expect(await audit(order.id)).toMatchObject({
				status: "REFUNDED",
				amount: 5000,
				refunded: 5000,
				provider: { charged: 5000, refunded: 5000 },
			});
			await eventually(() => Promise.resolve(refundedEvents(order.id).length === 3));
			expect(refundedEvents(order.id).map(e => [e.data.amount, e.data.returnId, e.data.reason])).toEqual(
				expect.arrayContaining([
					[1000, r1, "returned"],
					[1500, r2, "returned"],
					[2500, r3, "returned"],
				]),
			);
			expect(await failure(refundPart(order.id, randomUUID(), 1))).toBe("PAYMENT_CLOSED");
		});

		it("refuses a part over what is left of the charge, and records nothing for it", async () => {
			const order = await chargedOrder(4);
			await refundPart(order.id, randomUUID(), 4000);
			const over = refundPart(order.id, randomUUID(), 1001);
			await expect(over).rejects.toMatchObject({ code: 409, type: "REFUND_EXCEEDS_CHARGE", data: { left: 1000 } });
			expect((await rows(order.id)).map(r => [r.kind, r.amount])).toEqual([
				["CHARGE", 5000],
				["REFUND", 4000],
			]);
			expect(await audit(order.id)).toMatchObject({ status: "PARTIALLY_REFUNDED", refunded: 4000 });
			expect(await refundPart(order.id, randomUUID(), 1000)).toMatchObject({ status: "SUCCEEDED" });
			expect(await audit(order.id)).toMatchObject({ status: "REFUNDED", refunded: 5000 });
		});

		it("20 concurrent parts that add up to more than the charge: the refunds never exceed it", async () => {
			const order = await chargedOrder(4);
			const outcomes = await Promise.all(
				Array.from({ length: 20 }, () => failure(refundPart(order.id, randomUUID(), 400))),
			);
			// 5000 / 400: twelve parts fit, the others find too little left.
			expect(outcomes.filter(o => o === "OK")).toHaveLength(12);
			expect(outcomes.filter(o => o !== "OK")).toEqual(Array(8).fill("REFUND_EXCEEDS_CHARGE"));
			const refunds = (await rows(order.id)).filter(r => r.kind === "REFUND");
			expect(refunds.map(r => r.status)).toEqual(Array(12).fill("SUCCEEDED"));
			expect(await audit(order.id)).toMatchObject({
				status: "PARTIALLY_REFUNDED",
				refunded: 4800,
				provider: { charged: 5000, refunded: 4800 },
			});
			expect(await refundPart(order.id, randomUUID(), 200)).toMatchObject({ status: "SUCCEEDED" });
			expect(await audit(order.id)).toMatchObject({ status: "REFUNDED", refunded: 5000 });
		});

		it("a return refunded again, also concurrently, is refunded once and announced once", async () => {
			const order = await chargedOrder(2);
			const returnId = randomUUID();
			const answers = await Promise.all(Array.from({ length: 5 }, () => refundPart(order.id, returnId, 700)));
			expect(new Set(answers.map(a => a.id)).size).toBe(1);
			expect(answers.map(a => a.status)).toEqual(Array(5).fill("SUCCEEDED"));
			expect(await refundPart(order.id, returnId, 700)).toMatchObject({ status: "SUCCEEDED", amount: 700 });
			const mismatch = refundPart(order.id, returnId, 800);
			await expect(mismatch).rejects.toMatchObject({ code: 409, type: "REFUND_MISMATCH" });
			expect(await audit(order.id)).toMatchObject({ refunded: 700, provider: { charged: 2500, refunded: 700 } });
			expect((await rows(order.id)).filter(r => r.kind === "REFUND")).toHaveLength(1);
			await eventually(() => Promise.resolve(refundedEvents(order.id).length === 1));
			await new Promise(resolve => setTimeout(resolve, 300));
			expect(refundedEvents(order.id)).toHaveLength(1);
		});

		it("a provider failure is a 503, the refund FAILED; a retry finishes it, counted once", async () => {
			const order = await chargedOrder(2);
			const returnId = randomUUID();
			provider.failRefunds = 2;
			expect(await failure(refundPart(order.id, returnId, 1000))).toBe("PAYMENT_UNAVAILABLE");
			expect(await failure(refundPart(order.id, returnId, 1000))).toBe("PAYMENT_UNAVAILABLE");
			const [, refund] = await rows(order.id);
			expect(refund).toMatchObject({ kind: "REFUND", returnId, status: "FAILED", amount: 1000 });
			// Counted against the charge (the money is promised), not yet given back.
			expect(await audit(order.id)).toMatchObject({ status: "PARTIALLY_REFUNDED", refunded: 0 });
			expect(await failure(refundPart(order.id, randomUUID(), 1501))).toBe("REFUND_EXCEEDS_CHARGE");
			expect(refundedEvents(order.id)).toEqual([]);

			expect(await refundPart(order.id, returnId, 1000)).toMatchObject({ returnId, status: "SUCCEEDED" });
			expect(await audit(order.id)).toMatchObject({ refunded: 1000, provider: { charged: 2500, refunded: 1000 } });
			expect(await refundPart(order.id, randomUUID(), 1500)).toMatchObject({ status: "SUCCEEDED" });
			expect(await audit(order.id)).toMatchObject({ status: "REFUNDED", refunded: 2500 });
			await eventually(() => Promise.resolve(refundedEvents(order.id).length === 2));
		});

		it("a cancelled order's charge is refunded whole and listed as one refund without a return", async () => {
			const order = await chargedOrder(1);
			expect(await call(shop.broker, "orders.cancel", { id: order.id }, customer)).toMatchObject({
				status: "CANCELLED",
			});
			const list = await rows(order.id);
			expect(list.map(r => [r.kind, r.amount, r.status])).toEqual([
				["CHARGE", PRICE, "REFUNDED"],
				["REFUND", PRICE, "SUCCEEDED"],
			]);
			expect(list[0]).toMatchObject({ refunded: PRICE });
			expect(list[1]).toMatchObject({ id: `${list[0].id}:refund`, returnId: null });
			expect(await audit(order.id)).toMatchObject({ status: "REFUNDED", refunded: PRICE });
			expect(await failure(refundPart(order.id, randomUUID(), 1))).toBe("PAYMENT_CLOSED");
			expect(await failure(refundPart(randomUUID(), randomUUID(), 1))).toBe("PAYMENT_CLOSED");
		});

		it.each(
			[1, 2, 3, 4, 5].flatMap(n => [
				{ n, applied: false },
				{ n, applied: true },
			]),
		)(
			"write $n of a part fails (applied: $applied): a repeat of the return finishes it, counted once",
			async ({ n, applied }) => {
				const order = await chargedOrder(2);
				const returnId = randomUUID();
				const payments = storesOf("payments");
				const writes = failWrite(
					[
						[payments.storeFor(PAYMENTS), ["update"]],
						[payments.storeFor(REFUNDS), ["insert", "update"]],
					],
					n,
					applied,
				);
				const first = await failure(refundPart(order.id, returnId, 900));
				expect(first).toBe(writes() >= n ? "STORAGE_UNAVAILABLE" : "OK");
				vi.restoreAllMocks();
				expect(await refundPart(order.id, returnId, 900)).toMatchObject({ returnId, status: "SUCCEEDED" });
				expect(await refundPart(order.id, returnId, 900)).toMatchObject({ returnId, status: "SUCCEEDED" });
				expect(await audit(order.id)).toMatchObject({
					status: "PARTIALLY_REFUNDED",
					refunded: 900,
					provider: { charged: 2500, refunded: 900 },
				});
				// What is left of the charge is exactly what was not refunded.
				expect(await failure(refundPart(order.id, randomUUID(), 1601))).toBe("REFUND_EXCEEDS_CHARGE");
				expect(await failure(refundPart(order.id, randomUUID(), 1600))).toBe("OK");
				expect((await rows(order.id)).filter(r => r.kind === "REFUND").map(r => r.status)).toEqual([
					"SUCCEEDED",
					"SUCCEEDED",
				]);
			},
		);

		it("the refund sweep finishes a counted part the provider failed", async () => {
			const order = await chargedOrder(1);
			const returnId = randomUUID();
			provider.failRefunds = 1;
			expect(await failure(refundPart(order.id, returnId, 250))).toBe("PAYMENT_UNAVAILABLE");
			const ledger = (shop.broker.getLocalService("payments") as unknown as { refunds: RefundLedger }).refunds;
			await ledger.sweep(new Date(Date.now() + 1000).toISOString());
			expect((await rows(order.id))[1]).toMatchObject({ returnId, status: "SUCCEEDED" });
			expect(await audit(order.id)).toMatchObject({ refunded: 250, provider: { refunded: 250 } });
			await eventually(() => Promise.resolve(refundedEvents(order.id).length === 1));
		});

		it.each(
			[1, 2, 3, 4].flatMap(n => [
				{ n, applied: false },
				{ n, applied: true },
			]),
		)(
			"write $n of a return's restock fails (applied: $applied): the repeat puts the units back once",
			async ({ n, applied }) => {
				const counters = async () =>
					(await call(shop.broker, "inventory.audit", {})).stock.find(s => s.productId === productId)!;
				const before = await counters();
				const returnId = randomUUID();
				const items = [{ productId, quantity: 3 }];
				const inventory = storesOf("inventory");
				const writes = failWrite(
					// Not the stock's insert: its counters exist, `ensure` only makes sure.
					[
						[inventory.storeFor(STOCK), ["update"]],
						[inventory.storeFor(RETURNED_STOCK), ["insert", "update"]],
					],
					n,
					applied,
				);
				const first = await failure(call(shop.broker, "inventory.returnStock", { returnId, items }, { retries: 0 }));
				expect(first).toBe(writes() >= n ? "STORAGE_UNAVAILABLE" : "OK");
				vi.restoreAllMocks();
				await call(shop.broker, "inventory.returnStock", { returnId, items });
				expect(await call(shop.broker, "inventory.returnStock", { returnId, items })).toEqual({
					returnId,
					returned: 0,
				});
				expect(await counters()).toEqual({ ...before, available: before.available + 3, received: before.received + 3 });
				const { returns } = await call(shop.broker, "inventory.audit", {});
				expect(returns.filter(r => r.returnId === returnId)).toEqual([{ returnId, productId, quantity: 3 }]);
			},
		);

		it("returned units go back on the shelf once per return, also when repeated concurrently", async () => {
			const before = (await call(shop.broker, "inventory.audit", {})).stock.find(s => s.productId === productId)!;
			const returnId = randomUUID();
			const items = [{ productId, quantity: 2 }];
			const answers = await Promise.all(
				Array.from({ length: 5 }, () => call(shop.broker, "inventory.returnStock", { returnId, items })),
			);
			expect(answers.map(a => a.returned).sort()).toEqual([0, 0, 0, 0, 2]);
			expect(await call(shop.broker, "inventory.returnStock", { returnId, items })).toEqual({ returnId, returned: 0 });
			const after = await call(shop.broker, "inventory.audit", {});
			expect(after.stock.find(s => s.productId === productId)).toEqual({
				...before,
				available: before.available + 2,
				received: before.received + 2,
			});
			expect(after.returns.filter(r => r.returnId === returnId)).toEqual([{ returnId, productId, quantity: 2 }]);
		});
	};
}

describe("partial refunds and returned stock, in memory (SQLite)", suite("memory"));
for (const kind of ["mariadb", "postgres"] as const)
	await describeWithServers([kind], `partial refunds and returned stock on ${kind}`, suite(kind));
// The document stores' path on MongoDB's wire protocol (an emulation: no concurrency of a real server).
describeWithInfra(["mongo"], "partial refunds and returned stock on mongo-java-server", suite("mongo"));
