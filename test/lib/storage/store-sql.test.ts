import { afterAll, beforeAll, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { QueryTypes, type Sequelize } from "sequelize";
import { DuplicateKeyError, StorageUnavailableError } from "../../../lib/errors";
import { Store, createSequelize, type CollectionSpec, type Doc } from "../../../lib/storage";
import { IDLE_TRANSACTION_SECONDS } from "../../../lib/storage/store";
import { createTestDatabase } from "../../support/databases";
import { describeWithServers } from "../../support/servers";

interface Row extends Doc {
	owner: string | null;
	count: number | null;
	done: boolean | null;
	price?: number | null;
	data?: { lines: number[] } | null;
	name?: string | null;
	moves?: string[];
}
const ROWS: CollectionSpec<Row> = {
	name: "rows",
	fields: {
		owner: "string",
		count: "int",
		done: "bool",
		price: "money",
		data: "json",
		name: "text",
		moves: "json",
	},
	unique: ["name"],
	indexes: ["owner"],
	documentOnly: ["moves"],
};

/**
 * The Store's statements on each SQL server: what they answer (MySQL reports changed rows for an UPDATE unless the
 * connection asks for found rows, and Sequelize turns that off), the columns read back as the document's types, and
 * the errors callers act on.
 */
for (const kind of ["mariadb", "postgres"] as const) {
	await describeWithServers([kind], `Store on ${kind}`, () => {
		let db: Awaited<ReturnType<typeof createTestDatabase>>;
		let sequelize: Sequelize;
		let store: Store<Row>;
		const broker = new ServiceBroker({ logger: false });

		beforeAll(async () => {
			db = await createTestDatabase(kind);
			sequelize = createSequelize(db.uri);
			store = new Store(ROWS, db.uri, broker.getLogger("store-test"));
			await store.connect(broker, sequelize);
			await store.insert({ id: "r1", owner: "a", count: 1, done: true });
		});

		afterAll(async () => {
			await sequelize?.close();
			await db?.drop();
		});

		it("update counts a matched row whose values do not change", async () => {
			expect(await store.update({ id: "r1", owner: "a" }, { set: { done: true, owner: "a" } })).toBe(1);
			expect(await store.update({ id: "r1" }, { inc: { count: 0 } })).toBe(1);
		});

		it("update counts changed rows, and none when the condition does not hold", async () => {
			expect(await store.update({ id: "r1", owner: "a" }, { set: { owner: "b" } })).toBe(1);
			expect(await store.update({ id: "r1", owner: "a" }, { set: { owner: "c" } })).toBe(0);
			expect(await store.findOne({ id: "r1" })).toMatchObject({ owner: "b", count: 1, done: true });
		});

		it("reads columns back as the document's types; documentOnly fields are not stored", async () => {
			const big = Number.MAX_SAFE_INTEGER;
			await store.insert({ id: "t1", owner: null, count: big, done: false, price: -5, data: { lines: [1, 2] } });
			await store.insert({ id: "t2", owner: "x", count: null, done: null, moves: ["m1"] });
			expect(await store.findOne({ id: "t1" })).toEqual({
				id: "t1",
				owner: null,
				count: big,
				done: false,
				price: -5,
				data: { lines: [1, 2] },
				name: null,
			});
			const t2 = await store.findOne({ id: "t2" });
			expect(t2).toMatchObject({ count: null, done: null, data: null });
			expect(t2).not.toHaveProperty("moves");
			expect(await store.update({ id: "t1", count: big }, { inc: { count: -big }, set: { data: null } })).toBe(1);
			expect(await store.findOne({ id: "t1" })).toMatchObject({ count: 0, data: null });
		});

		it("matches nulls as the callers expect", async () => {
			const ids = async (where: Parameters<typeof store.find>[0]) =>
				(await store.find(where, { sort: ["id"] })).map(r => r.id);
			expect(await ids({ owner: null })).toEqual(["t1"]);
			expect(await ids({ owner: { $ne: null } })).toEqual(["r1", "t2"]);
			expect(await ids({ owner: { $ne: "b" } })).toEqual(["t2"]);
			expect(await ids({ id: { $in: [] } })).toEqual([]);
			expect(await store.count({ done: { $ne: null } })).toBe(2);
		});

		it("pages in sort order, '-' descending, an offset also without a limit", async () => {
			const ids = async (opts: Parameters<typeof store.find>[1]) => (await store.find({}, opts)).map(r => r.id);
			expect(await ids({ sort: ["-id"] })).toEqual(["t2", "t1", "r1"]);
			expect(await ids({ sort: ["id"], offset: 1, limit: 1 })).toEqual(["t1"]);
			expect(await ids({ sort: ["id"], offset: 2 })).toEqual(["t2"]);
		});

		it("searches for the text itself, whatever its case and LIKE wildcards", async () => {
			await store.insert({ id: "s1", owner: "Half 50% OFF", count: 0, done: false });
			await store.insert({ id: "s2", owner: "half 500 off", count: 0, done: false });
			const search = (text: string, ids?: string[]) => ({ text, fields: ["owner" as const], ids });
			expect((await store.find({}, { search: search("50% off") })).map(r => r.id)).toEqual(["s1"]);
			expect(await store.count({}, search("HALF"))).toBe(2);
			expect(await store.count({}, search("_"))).toBe(0);
			expect(await store.count({ count: 0 }, search("50%", ["r1"]))).toBe(1);
		});

		it("turns a unique violation into DuplicateKeyError, in a transaction too (which rolls back)", async () => {
			await store.insert({ id: "u1", owner: "u", count: 0, done: false, name: "taken" });
			await expect(store.insert({ id: "u1", owner: "v", count: 0, done: false })).rejects.toThrow(DuplicateKeyError);
			await expect(store.update({ id: "r1" }, { set: { name: "taken" } })).rejects.toThrow(DuplicateKeyError);
			await expect(
				store.transaction(async tx => {
					await store.insert({ id: "u2", owner: "w", count: 0, done: false }, tx);
					await store.insert({ id: "u3", owner: "w", count: 0, done: false, name: "taken" }, tx);
				}),
			).rejects.toThrow(DuplicateKeyError);
			expect(await store.findOne({ id: "u2" })).toBeNull();
			// Unique fields left null do not collide.
			expect(await store.count({ name: null })).toBeGreaterThan(1);
		});

		it("turns a connection lost mid-transaction into StorageUnavailableError", async () => {
			const pid = kind === "postgres" ? "SELECT pg_backend_pid() AS id" : "SELECT CONNECTION_ID() AS id";
			const kill = kind === "postgres" ? "SELECT pg_terminate_backend(:id)" : "KILL CONNECTION :id";
			await expect(
				store.transaction(async tx => {
					const [{ id }] = await sequelize.query<{ id: number }>(pid, { type: QueryTypes.SELECT, transaction: tx });
					await sequelize.query(kill, { replacements: { id } });
					await store.findOne({ id: "r1" }, tx);
				}),
			).rejects.toThrow(StorageUnavailableError);
			expect(await store.findOne({ id: "r1" })).toMatchObject({ id: "r1" });
		});

		it("opens at most the pool's size of connections (DB_POOL_MAX): a statement beyond it waits for one", async () => {
			const small = createSequelize(db.uri, 2);
			const pooled = new Store(ROWS, db.uri, broker.getLogger("store-test"));
			await pooled.connect(broker, small);
			try {
				let release = () => {};
				const gate = new Promise<void>(resolve => (release = resolve));
				const holding = [1, 2].map(() =>
					pooled.transaction(async tx => {
						await gate;
						await pooled.findOne({ id: "r1" }, tx);
					}),
				);
				let answered = false;
				const third = pooled.findOne({ id: "r1" }).then(row => ((answered = true), row));
				await new Promise(resolve => setTimeout(resolve, 500));
				expect(answered).toBe(false);
				release();
				await Promise.all(holding);
				expect(await third).toMatchObject({ id: "r1" });
			} finally {
				await pooled.disconnect();
				await small.close();
			}
		});

		it(
			"ends a transaction left idle (its process paused) after IDLE_TRANSACTION_SECONDS, so its row locks free",
			async () => {
				await store.insert({ id: "idle", owner: "a", count: 0, done: false });
				let resume = () => {};
				const paused = new Promise<void>(resolve => (resume = resolve));
				const idle = store.transaction(async tx => {
					await store.update({ id: "idle" }, { inc: { count: 1 } }, tx);
					await paused;
					await store.findOne({ id: "idle" }, tx);
				});
				const started = Date.now();
				// Another writer of the locked row waits for the idle transaction's end, not for its process.
				expect(await store.update({ id: "idle" }, { inc: { count: 10 } })).toBe(1);
				const waited = Date.now() - started;
				expect(waited).toBeGreaterThanOrEqual(IDLE_TRANSACTION_SECONDS * 1000 - 1000);
				resume();
				await expect(idle).rejects.toThrow(StorageUnavailableError);
				expect(await store.findOne({ id: "idle" })).toMatchObject({ count: 10 });
			},
			IDLE_TRANSACTION_SECONDS * 1000 + 15_000,
		);
	});
}
