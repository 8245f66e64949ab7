import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { Service } from "moleculer";
import { call, type ActionParams } from "../../lib/actor";
import { StorageUnavailableError } from "../../lib/errors";
import type { DbThis } from "../../mixins/db.mixin";
import type { PromotionInput } from "../../services/promotions/contract";
import { PROMOTION_USES } from "../../services/promotions/uses-ledger";
import { startShop, type Shop } from "../support/shop";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";

/**
 * Issue 13, the promotions actor on the in-memory SQLite default (one node) and on MariaDB and PostgreSQL (two nodes
 * sharing the database, as the cluster runs it): admin CRUD, every reason `check` gives, and uses that never exceed
 * `usageLimit` or `perCustomerLimit`, however many reservations race.
 */
const ADMIN = { id: "admin", email: "admin@example.com", name: "Admin", role: "admin" } as const;
const CUSTOMER = { id: "c1", email: "c1@example.com", name: "C", role: "customer" } as const;
/** Fresh options per call: an action may write to `meta`. */
const admin = () => ({ meta: { user: ADMIN } });
const DAY = 86_400_000;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

type Outcome = { ok: true } | { ok: false; code?: number; type?: string; data?: Record<string, unknown> };
async function outcome(work: Promise<unknown>): Promise<Outcome> {
	try {
		await work;
		return { ok: true };
	} catch (err) {
		const { code, type, data } = err as { code?: number; type?: string; data?: Record<string, unknown> };
		return { ok: false, code, type, data };
	}
}

function suite(kind: "memory" | "mariadb" | "postgres") {
	return () => {
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		/** One node on SQLite (its store lives in the process); two nodes sharing MariaDB. */
		const nodes: Shop[] = [];
		const broker = () => nodes[0].broker;

		beforeAll(async () => {
			if (kind !== "memory") db = await createTestDatabase(kind);
			for (let i = 0; i < (kind === "memory" ? 1 : 2); i++)
				nodes.push(
					await startShop({ services: ["promotions"], env: { DB_URI: db?.uri ?? "memory://", DATA_DIR: undefined } }),
				);
		});

		afterAll(async () => {
			for (const node of nodes) await node.stop();
			await db?.drop();
		});

		afterEach(() => {
			vi.restoreAllMocks();
		});

		const code = () => `T${randomUUID().slice(0, 8)}`;
		const create = (input: PromotionInput) =>
			call(
				broker(),
				"promotions.create",
				{ code: code(), type: "PERCENTAGE", value: 10, active: true, ...input },
				admin(),
			);
		const get = (id: string) => call(broker(), "promotions.get", { id }, admin());
		const update = (id: string, changes: PromotionInput) =>
			call(broker(), "promotions.update", { id, ...changes }, admin());
		const check = (params: ActionParams<"promotions.check">) => call(broker(), "promotions.check", params);
		/**
		 * The i-th call goes to node i mod n: concurrent reservations come from every node. What is tested is the limit,
		 * not latency: hundreds of calls at once on a shared test machine may take longer than the 5 s default.
		 */
		const reserve = (promotionCode: string, orderId: string, userId: string, i = 0) =>
			call(
				nodes[i % nodes.length].broker,
				"promotions.reserve",
				{ orderId, code: promotionCode, userId },
				{ retries: 0, timeout: 60_000 },
			);
		const release = (orderId: string) => call(broker(), "promotions.release", { orderId }, { retries: 0 });
		const usesOf = async (promotionCode: string) =>
			(await call(broker(), "promotions.audit", {})).filter(use => use.code === promotionCode);

		describe("admin CRUD", () => {
			it("creates a code stored upper case, with id, timesUsed and times, answering 201", async () => {
				const meta: Record<string, unknown> = { user: ADMIN };
				const created = await call(
					broker(),
					"promotions.create",
					{ code: "welcome-5_x", type: "FIXED", value: 500, currency: "USD", minSubtotal: 2000, active: true },
					{ meta },
				);
				expect(created).toEqual({
					id: expect.any(String),
					code: "WELCOME-5_X",
					type: "FIXED",
					value: 500,
					currency: "USD",
					minSubtotal: 2000,
					startsAt: null,
					endsAt: null,
					usageLimit: null,
					perCustomerLimit: null,
					active: true,
					timesUsed: 0,
					createdAt: expect.any(String),
					updatedAt: created.createdAt,
				});
				expect(meta).toMatchObject({ $statusCode: 201, $location: `/api/promotions/${created.id}` });
				expect(await get(created.id)).toEqual(created);
			});

			it("refuses a code taken in any case with 409 CODE_TAKEN, on create and on update", async () => {
				const first = await create({ code: "dup-code-1" });
				expect(await outcome(create({ code: "DUP-code-1" }))).toMatchObject({
					code: 409,
					type: "CODE_TAKEN",
					data: { code: "DUP-CODE-1" },
				});
				const second = await create({});
				expect(await outcome(update(second.id, { code: "dup-CODE-1" }))).toMatchObject({
					code: 409,
					type: "CODE_TAKEN",
				});
				expect((await get(first.id)).code).toBe("DUP-CODE-1");
			});

			it.each<[string, Record<string, unknown>, string]>([
				["a code too short", { code: "ab" }, "code"],
				["a code with a space", { code: "ab cd" }, "code"],
				["a code of 33 characters", { code: "A".repeat(33) }, "code"],
				["an unknown type", { type: "BOGO" }, "type"],
				["a percentage of 0", { value: 0 }, "value"],
				["a percentage over 100", { value: 101 }, "value"],
				["a fractional value", { value: 10.5 }, "value"],
				["a FIXED code without currency", { type: "FIXED", value: 500 }, "currency"],
				["a FIXED code without value", { type: "FIXED", value: undefined, currency: "USD" }, "value"],
				["FREE_SHIPPING with a value", { type: "FREE_SHIPPING", value: 5 }, "value"],
				["a lower-case currency", { currency: "usd" }, "currency"],
				["a start that is no date", { startsAt: "tomorrow" }, "startsAt"],
				["an end before the start", { startsAt: iso(DAY), endsAt: iso(0) }, "endsAt"],
				["a usage limit of 0", { usageLimit: 0 }, "usageLimit"],
				["a negative per-customer limit", { perCustomerLimit: -1 }, "perCustomerLimit"],
				["active as text", { active: "yes" }, "active"],
				["no active", { active: undefined }, "active"],
			])("refuses %s with 422 VALIDATION_ERROR naming the field", async (_label, fields, field) => {
				const input = { code: code(), type: "PERCENTAGE", value: 10, active: true, ...fields } as PromotionInput;
				expect(await outcome(call(broker(), "promotions.create", input, admin()))).toMatchObject({
					code: 422,
					type: "VALIDATION_ERROR",
					data: [expect.objectContaining({ field })],
				});
			});

			it("lists the standard page, filtered by active and by code in any case", async () => {
				const prefix = code();
				const on = await create({ code: `${prefix}-ON` });
				const off = await create({ code: `${prefix}-OFF`, active: false });
				const byCode = await call(broker(), "promotions.list", { code: `${prefix.toLowerCase()}-on` }, admin());
				expect(byCode).toEqual({ rows: [on], total: 1, page: 1, pageSize: 20, totalPages: 1 });
				const inactive = await call(broker(), "promotions.list", { active: false, pageSize: 100 }, admin());
				expect(inactive.rows.map(p => p.id)).toContain(off.id);
				expect(inactive.rows.every(p => !p.active)).toBe(true);
				const page = await call(broker(), "promotions.list", { pageSize: 1, page: 2 }, admin());
				expect(page).toMatchObject({ page: 2, pageSize: 1, rows: [expect.any(Object)] });
				expect(page.totalPages).toBe(page.total);
			});

			it("updates: absent fields stay, null clears, the result is checked as a whole", async () => {
				const promo = await create({ usageLimit: 5, endsAt: iso(DAY) });
				expect(await outcome(update(promo.id, { code: "  ", endsAt: null }))).toMatchObject({
					code: 422,
					type: "VALIDATION_ERROR",
				});
				expect((await get(promo.id)).endsAt).not.toBeNull();
				const after = await update(promo.id, { endsAt: null, value: 15 });
				expect(after).toMatchObject({ code: promo.code, endsAt: null, value: 15, usageLimit: 5, timesUsed: 0 });
				expect(after.updatedAt > promo.updatedAt).toBe(true);
				expect(await outcome(update(promo.id, { type: "FREE_SHIPPING" }))).toMatchObject({
					code: 422,
					data: [expect.objectContaining({ field: "value" })],
				});
				expect(await update(promo.id, { type: "FREE_SHIPPING", value: null })).toMatchObject({ type: "FREE_SHIPPING" });
			});

			it("concurrent partial updates each land on the latest version", async () => {
				const promo = await create({});
				await Promise.all([
					update(promo.id, { minSubtotal: 1000 }),
					update(promo.id, { usageLimit: 7 }),
					update(promo.id, { perCustomerLimit: 2 }),
					update(promo.id, { currency: "EUR" }),
				]);
				expect(await get(promo.id)).toMatchObject({
					minSubtotal: 1000,
					usageLimit: 7,
					perCustomerLimit: 2,
					currency: "EUR",
				});
			});

			it("deletes with 200 and the promotion; uses held stay releasable; the code can be issued again", async () => {
				const promo = await create({ usageLimit: 1 });
				await reserve(promo.code, "del-o1", "u1");
				const removed = await call(broker(), "promotions.remove", { id: promo.id }, admin());
				expect(removed).toMatchObject({ id: promo.id, code: promo.code, timesUsed: 1 });
				expect(await outcome(get(promo.id))).toMatchObject({ code: 404, type: "NOT_FOUND" });
				expect(await outcome(call(broker(), "promotions.remove", { id: promo.id }, admin()))).toMatchObject({
					code: 404,
				});
				const again = await create({ code: promo.code, usageLimit: 1 });
				expect(again.timesUsed).toBe(0);
				await reserve(promo.code, "del-o2", "u2");
				expect(await release("del-o1")).toEqual({ orderId: "del-o1", released: 1 });
				expect((await get(again.id)).timesUsed).toBe(1);
			});

			it("answers 404 for a promotion that does not exist", async () => {
				const results = await Promise.all(
					[
						get("missing"),
						update("missing", { value: 5 }),
						call(broker(), "promotions.remove", { id: "missing" }, admin()),
					].map(outcome),
				);
				for (const result of results) expect(result).toMatchObject({ code: 404, type: "NOT_FOUND" });
			});

			it("is for admins only", async () => {
				const promo = await create({});
				const asCustomer = { meta: { user: CUSTOMER } };
				const results = await Promise.all(
					[
						call(
							broker(),
							"promotions.create",
							{ code: code(), type: "PERCENTAGE", value: 5, active: true },
							asCustomer,
						),
						call(broker(), "promotions.list", {}, asCustomer),
						call(broker(), "promotions.get", { id: promo.id }, asCustomer),
						call(broker(), "promotions.update", { id: promo.id, value: 50 }, asCustomer),
						call(broker(), "promotions.remove", { id: promo.id }, asCustomer),
					].map(outcome),
				);
				for (const result of results) expect(result).toMatchObject({ code: 403, type: "FORBIDDEN" });
				expect(await outcome(call(broker(), "promotions.get", { id: promo.id }))).toMatchObject({ code: 401 });
				expect((await get(promo.id)).value).toBe(10);
			});
		});

		describe("check", () => {
			const cart = { subtotal: 5000, currency: "USD" };

			it("answers the rule a code applies with, whatever its case", async () => {
				const pct = await create({ value: 15 });
				const fixed = await create({ type: "FIXED", value: 700, currency: "USD" });
				const free = await create({ type: "FREE_SHIPPING", value: null });
				expect(await check({ code: pct.code.toLowerCase(), ...cart })).toEqual({
					code: pct.code,
					type: "PERCENTAGE",
					value: 15,
				});
				expect(await check({ code: fixed.code, ...cart })).toEqual({ code: fixed.code, type: "FIXED", value: 700 });
				expect(await check({ code: free.code, ...cart })).toEqual({
					code: free.code,
					type: "FREE_SHIPPING",
					value: null,
				});
			});

			it("gives every reason a code does not apply as 422 DISCOUNT_NOT_APPLICABLE", async () => {
				const exhausted = await create({ usageLimit: 2 });
				await reserve(exhausted.code, `ex-${exhausted.code}-1`, "u1");
				await reserve(exhausted.code, `ex-${exhausted.code}-2`, "u2");
				const perCustomer = await create({ perCustomerLimit: 1 });
				await reserve(perCustomer.code, `pc-${perCustomer.code}`, "u1");
				const cases: [string, Record<string, unknown>, string][] = [
					[(await create({ active: false })).code, {}, "INACTIVE"],
					[(await create({ startsAt: iso(DAY) })).code, {}, "NOT_STARTED"],
					[(await create({ endsAt: iso(-1) })).code, {}, "EXPIRED"],
					[(await create({ minSubtotal: 5001 })).code, {}, "MIN_SUBTOTAL"],
					[(await create({ type: "FIXED", value: 100, currency: "EUR" })).code, {}, "CURRENCY"],
					[exhausted.code, {}, "EXHAUSTED"],
					[perCustomer.code, { userId: "u1" }, "CUSTOMER_LIMIT"],
					["NO-SUCH-CODE", {}, "UNKNOWN"],
				];
				for (const [promotionCode, extra, reason] of cases)
					expect(await outcome(check({ code: promotionCode.toLowerCase(), ...cart, ...extra })), reason).toEqual({
						ok: false,
						code: 422,
						type: "DISCOUNT_NOT_APPLICABLE",
						data: { reason, code: promotionCode.toUpperCase() },
					});
				// The customer limit counts only the customer asking; a guest cart is checked again at checkout.
				expect(await check({ code: perCustomer.code, ...cart, userId: "u2" })).toMatchObject({ type: "PERCENTAGE" });
				expect(await check({ code: perCustomer.code, ...cart })).toMatchObject({ type: "PERCENTAGE" });
			});
		});

		describe("uses", () => {
			it("300 concurrent reservations of a code limited to 10: exactly 10 hold a use", async () => {
				const promo = await create({ usageLimit: 10 });
				const results = await Promise.all(
					Array.from({ length: 300 }, (_, i) => outcome(reserve(promo.code, `o300-${promo.code}-${i}`, `u${i}`, i))),
				);
				const refused = results.filter(r => !r.ok);
				expect(results.length - refused.length).toBe(10);
				for (const r of refused)
					expect(r).toMatchObject({
						code: 409,
						type: "DISCOUNT_EXHAUSTED",
						data: { reason: "EXHAUSTED", code: promo.code },
					});
				const orderIds = new Set(refused.map(r => (r.ok ? "" : r.data?.orderId)));
				expect(orderIds.size).toBe(290);
				expect((await get(promo.id)).timesUsed).toBe(10);
				expect(await usesOf(promo.code)).toHaveLength(10);
			}, 120_000);

			it("20 concurrent reservations of one customer under perCustomerLimit 1: one use", async () => {
				const promo = await create({ perCustomerLimit: 1 });
				const results = await Promise.all(
					Array.from({ length: 20 }, (_, i) => outcome(reserve(promo.code, `o20-${promo.code}-${i}`, "solo", i))),
				);
				expect(results.filter(r => r.ok)).toHaveLength(1);
				for (const r of results.filter(r => !r.ok))
					expect(r).toMatchObject({ code: 409, type: "DISCOUNT_EXHAUSTED", data: { reason: "CUSTOMER_LIMIT" } });
				expect((await get(promo.id)).timesUsed).toBe(1);
				// Other customers are not limited by this one.
				await reserve(promo.code, `o20-${promo.code}-other`, "someone-else");
				expect((await get(promo.id)).timesUsed).toBe(2);
			});

			it("both limits at once under concurrency: 5 customers x 10 orders, 3 per customer and 8 in all", async () => {
				const promo = await create({ usageLimit: 8, perCustomerLimit: 3 });
				const results = await Promise.all(
					Array.from({ length: 50 }, (_, i) =>
						reserve(promo.code, `ob-${promo.code}-${i}`, `c${i % 5}`, i).then(
							() => `c${i % 5}`,
							() => null,
						),
					),
				);
				const held = results.filter((u): u is string => u !== null);
				expect(held).toHaveLength(8);
				for (const user of new Set(held)) expect(held.filter(u => u === user).length).toBeLessThanOrEqual(3);
				const uses = await usesOf(promo.code);
				expect(uses.map(u => u.userId).sort()).toEqual(held.sort());
			});

			it("a release gives the use back, once", async () => {
				const promo = await create({ usageLimit: 1, perCustomerLimit: 1 });
				expect(await reserve(promo.code, `r-${promo.code}-a`, "u1")).toEqual({
					orderId: `r-${promo.code}-a`,
					code: promo.code,
				});
				expect(await outcome(reserve(promo.code, `r-${promo.code}-b`, "u1"))).toMatchObject({
					code: 409,
					data: { reason: "CUSTOMER_LIMIT", orderId: `r-${promo.code}-b` },
				});
				expect(await outcome(reserve(promo.code, `r-${promo.code}-c`, "u2"))).toMatchObject({
					code: 409,
					data: { reason: "EXHAUSTED", orderId: `r-${promo.code}-c` },
				});
				expect(await release(`r-${promo.code}-a`)).toEqual({ orderId: `r-${promo.code}-a`, released: 1 });
				expect(await release(`r-${promo.code}-a`)).toEqual({ orderId: `r-${promo.code}-a`, released: 0 });
				expect((await get(promo.id)).timesUsed).toBe(0);
				await reserve(promo.code, `r-${promo.code}-b`, "u1");
				expect(await usesOf(promo.code)).toEqual([{ orderId: `r-${promo.code}-b`, code: promo.code, userId: "u1" }]);
				expect(await release("never-reserved")).toEqual({ orderId: "never-reserved", released: 0 });
			});

			it("a reserve arriving after its order's release (a call that timed out) holds nothing", async () => {
				const promo = await create({ usageLimit: 1 });
				const late = `late-${promo.code}`;
				expect(await release(late)).toEqual({ orderId: late, released: 0 });
				expect(await outcome(reserve(promo.code, late, "u1"))).toMatchObject({
					code: 409,
					type: "PROMOTION_RELEASED",
					data: { orderId: late },
				});
				// Released while reserves of it are under way: none of them keeps the use.
				const racing = `race-${promo.code}`;
				await Promise.all([
					...Array.from({ length: 5 }, (_, i) => outcome(reserve(promo.code, racing, "u1", i))),
					release(racing),
				]);
				await release(racing);
				expect(await usesOf(promo.code)).toEqual([]);
				expect((await get(promo.id)).timesUsed).toBe(0);
				expect(await reserve(promo.code, `next-${promo.code}`, "u2")).toMatchObject({ code: promo.code });
			});

			it("reserving again for one order, in turn or at once, holds one use", async () => {
				const promo = await create({ usageLimit: 3, perCustomerLimit: 3 });
				const orderId = `twice-${promo.code}`;
				await reserve(promo.code, orderId, "u1");
				await reserve(promo.code.toLowerCase(), orderId, "u1");
				expect((await get(promo.id)).timesUsed).toBe(1);
				const other = `at-once-${promo.code}`;
				const results = await Promise.all(
					Array.from({ length: 10 }, (_, i) => outcome(reserve(promo.code, other, "u1", i))),
				);
				expect(results.every(r => r.ok)).toBe(true);
				expect((await get(promo.id)).timesUsed).toBe(2);
				// The repeat of a reservation holds even when the code ran out or ended since.
				await update(promo.id, { usageLimit: 1, active: false });
				expect(await reserve(promo.code, orderId, "u1")).toEqual({ orderId, code: promo.code });
			});

			it("an order that reserves another code gives the first one back", async () => {
				const first = await create({ usageLimit: 1, perCustomerLimit: 1 });
				const second = await create({ usageLimit: 1, perCustomerLimit: 1 });
				const orderId = `switch-${first.code}`;
				await reserve(first.code, orderId, "u1");
				expect(await reserve(second.code, orderId, "u1")).toEqual({ orderId, code: second.code });
				expect([(await get(first.id)).timesUsed, (await get(second.id)).timesUsed]).toEqual([0, 1]);
				// The first code's slots are free again, for this customer too.
				await reserve(first.code, `${orderId}-next`, "u1");
				expect(await release(orderId)).toMatchObject({ released: 1 });
				expect((await get(second.id)).timesUsed).toBe(0);
			});

			it("an unlimited code holds one use per order and counts them", async () => {
				const promo = await create({});
				await Promise.all(Array.from({ length: 25 }, (_, i) => reserve(promo.code, `u-${promo.code}-${i}`, "same", i)));
				expect((await get(promo.id)).timesUsed).toBe(25);
			});

			it.each<[string, PromotionInput, string]>([
				["switched off", { active: false }, "INACTIVE"],
				["not started", { startsAt: iso(DAY) }, "NOT_STARTED"],
				["ended", { endsAt: iso(-1) }, "EXPIRED"],
			])("a code %s at reservation is 422 DISCOUNT_NOT_APPLICABLE with the order", async (_label, fields, reason) => {
				const promo = await create(fields);
				expect(await outcome(reserve(promo.code, `na-${promo.code}`, "u1"))).toEqual({
					ok: false,
					code: 422,
					type: "DISCOUNT_NOT_APPLICABLE",
					data: { reason, code: promo.code, orderId: `na-${promo.code}` },
				});
				expect(await outcome(reserve("no-such-code", "na-unknown", "u1"))).toMatchObject({
					code: 422,
					data: { reason: "UNKNOWN", orderId: "na-unknown" },
				});
			});

			it("a limit lowered under the uses held lets no new use in, also when freed slots lie under it", async () => {
				const promo = await create({ usageLimit: 10 });
				const order = (i: number) => `low-${promo.code}-${i}`;
				for (let i = 0; i < 5; i++) await reserve(promo.code, order(i), `u${i}`);
				// Slots 0..2 are freed, 3 and 4 stay held; a limit of 3 leaves room for exactly one more use.
				for (let i = 0; i < 3; i++) await release(order(i));
				await update(promo.id, { usageLimit: 3 });
				const results = await Promise.all(
					Array.from({ length: 20 }, (_, i) => outcome(reserve(promo.code, order(100 + i), `v${i}`, i))),
				);
				expect(results.filter(r => r.ok).length).toBeLessThanOrEqual(1);
				expect((await get(promo.id)).timesUsed).toBeLessThanOrEqual(3);
				await update(promo.id, { usageLimit: 1 });
				expect(await outcome(reserve(promo.code, order(200), "w"))).toMatchObject({
					code: 409,
					data: { reason: "EXHAUSTED" },
				});
				// The uses held stay held and can still be given back.
				expect(await release(order(3))).toMatchObject({ released: 1 });
			});

			it("a per-customer limit set after a customer's uses counts them", async () => {
				const promo = await create({});
				await reserve(promo.code, `late-${promo.code}-1`, "u1");
				await reserve(promo.code, `late-${promo.code}-2`, "u1");
				await update(promo.id, { perCustomerLimit: 2 });
				expect(await outcome(reserve(promo.code, `late-${promo.code}-3`, "u1"))).toMatchObject({
					code: 409,
					data: { reason: "CUSTOMER_LIMIT" },
				});
				await update(promo.id, { usageLimit: 2, perCustomerLimit: null });
				expect(await outcome(reserve(promo.code, `late-${promo.code}-4`, "u2"))).toMatchObject({
					code: 409,
					data: { reason: "EXHAUSTED" },
				});
				expect((await get(promo.id)).timesUsed).toBe(2);
			});

			it("a failure between the customer slot and the use: the retry holds one use, a release frees both", async () => {
				const promo = await create({ usageLimit: 5, perCustomerLimit: 1 });
				const orderId = `crash-${promo.code}`;
				const service = broker().getLocalService("promotions") as unknown as Service & DbThis;
				const store = service.storeFor(PROMOTION_USES);
				const insert = store.insert.bind(store);
				vi.spyOn(store, "insert").mockImplementation(async (doc, tx) => {
					if (doc.kind === "USE") throw new StorageUnavailableError("injected: the database went away");
					return insert(doc, tx);
				});
				expect(
					await outcome(call(broker(), "promotions.reserve", { orderId, code: promo.code, userId: "u1" })),
				).toMatchObject({ code: 503 });
				vi.restoreAllMocks();
				// The customer slot left behind is the order's own: the retry keeps it instead of refusing.
				expect(await reserve(promo.code, orderId, "u1")).toEqual({ orderId, code: promo.code });
				expect((await get(promo.id)).timesUsed).toBe(1);
				expect(await release(orderId)).toMatchObject({ released: 1 });
				await reserve(promo.code, `${orderId}-next`, "u1");
				expect((await get(promo.id)).timesUsed).toBe(1);
			});

			it("audits the uses held, page by page", async () => {
				const promo = await create({});
				for (let i = 0; i < 3; i++) await reserve(promo.code, `aud-${promo.code}-${i}`, `u${i}`);
				const all = await call(broker(), "promotions.audit", {});
				const page = await call(broker(), "promotions.audit", { offset: 1, limit: 2 });
				expect(page).toEqual(all.slice(1, 3));
				expect((await usesOf(promo.code)).map(u => u.orderId).sort()).toEqual(
					[0, 1, 2].map(i => `aud-${promo.code}-${i}`),
				);
			});
		});
	};
}

describe("promotions on the in-memory store (SQLite, one node)", suite("memory"));
await describeWithServers(["mariadb"], "promotions on MariaDB (two nodes, one database)", suite("mariadb"));
await describeWithServers(["postgres"], "promotions on PostgreSQL (two nodes, one database)", suite("postgres"));
