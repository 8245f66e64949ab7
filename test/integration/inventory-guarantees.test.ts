import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { Errors, type Service } from "moleculer";
import { DataTypes } from "sequelize";
import { call } from "../../lib/actor";
import { StorageUnavailableError } from "../../lib/errors";
import type { DbThis } from "../../mixins/db.mixin";
import type { StockLine } from "../../services/inventory/contract";
import type { Product, ProductInput } from "../../services/products/contract";
import { RESERVATIONS, STOCK } from "../../services/inventory/stock-ledger";
import { Store, createSequelize } from "../../lib/storage";
import { startShop, type Shop } from "../support/shop";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";

/**
 * Issue #17, inventory's part, on every store the shop runs on: the in-memory SQLite default and, where the code path
 * differs (SQL transactions), MariaDB and PostgreSQL. MongoDB takes the in-memory path (no transactions), and has
 * no server here. Races and failures are injected at the exact step by wrapping the inventory's store methods.
 *
 * - item 2: two runs of one order never both answer "reserved" unless the stock is held once; `commit` fails when
 *   the order's reservations do not cover its lines.
 * - item 6: a failure between the two writes of a settlement (status flip, stock move) is finished by a retry.
 * - item 8: counters beyond 32 bits.
 */
const ADMIN_USER = { id: "admin", email: "admin@example.com", name: "Admin", role: "admin" } as const;
/** Fresh options per call: an action may write to `meta`. */
const admin = () => ({ meta: { user: ADMIN_USER } });

type Kind = "memory" | "mariadb" | "postgres";

function suite(kind: Kind) {
	return () => {
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		let shop: Shop;
		let inventory: Service & DbThis;

		beforeAll(async () => {
			if (kind !== "memory") db = await createTestDatabase(kind);
			shop = await startShop({
				services: ["products", "inventory"],
				env: { DB_URI: db?.uri ?? "memory://", DATA_DIR: undefined },
			});
			inventory = shop.broker.getLocalService("inventory") as unknown as Service & DbThis;
		});

		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		afterEach(() => {
			vi.restoreAllMocks();
		});

		async function newProduct(stock: number): Promise<string> {
			const sku = `T-${randomUUID().slice(0, 8)}`;
			const input = { name: `Product ${sku}`, price: 100, category: "Test", sku };
			const { id } = await shop.broker.call<Product, ProductInput>("products.create", input, admin());
			await call(shop.broker, "inventory.setStock", { productId: id, available: stock }, admin());
			return id;
		}

		const stockOf = (productId: string) => call(shop.broker, "inventory.get", { productId });
		const reserve = (orderId: string, items: StockLine[]) =>
			call(shop.broker, "inventory.reserve", { orderId, items }, { retries: 0 });
		const commit = (orderId: string, items: StockLine[]) =>
			call(shop.broker, "inventory.commit", { orderId, items }, { retries: 0 });
		const release = (orderId: string) => call(shop.broker, "inventory.release", { orderId }, { retries: 0 });

		async function reservationsOf(orderId: string) {
			const { reservations } = await call(shop.broker, "inventory.audit", {});
			return reservations.filter(r => r.orderId === orderId).map(({ productId, status }) => ({ productId, status }));
		}

		/**
		 * Holds the first reservation insert until a second one has been answered (at most 300 ms: on SQL the second
		 * waits for the first's transaction), so a concurrent run of the same order runs inside the first one's steps.
		 */
		function interleaveReservationInserts() {
			const store = inventory.storeFor(RESERVATIONS);
			const insert = store.insert.bind(store);
			let attempts = 0;
			let secondAnswered!: () => void;
			const second = new Promise<void>(resolve => (secondAnswered = resolve));
			vi.spyOn(store, "insert").mockImplementation(async (doc, tx) => {
				const attempt = ++attempts;
				try {
					return await insert(doc, tx);
				} finally {
					if (attempt === 2) secondAnswered();
					if (attempt === 1) await Promise.race([second, sleep(300)]);
				}
			});
		}

		/** The `n`th write to the inventory's stock or reservations (in any order) fails as a lost database would. */
		function failWrite(n: number) {
			const stock = inventory.storeFor(STOCK);
			const reservations = inventory.storeFor(RESERVATIONS);
			const updateStock = stock.update.bind(stock);
			const updateReservations = reservations.update.bind(reservations);
			let writes = 0;
			const fail = () => {
				if (++writes === n) throw new StorageUnavailableError("injected: the database went away");
			};
			vi.spyOn(stock, "update").mockImplementation(async (where, change, tx) => {
				fail();
				return updateStock(where, change, tx);
			});
			vi.spyOn(reservations, "update").mockImplementation(async (where, change, tx) => {
				fail();
				return updateReservations(where, change, tx);
			});
			return () => writes;
		}

		/** Holds the first call of `update` on the store until `resume()`; `reached` resolves when it is held. */
		function holdFirstUpdate(which: "stock" | "reservations") {
			let calls = 0;
			let reached!: () => void;
			let resume!: () => void;
			const held = { reached: new Promise<void>(r => (reached = r)), resumed: new Promise<void>(r => (resume = r)) };
			const hold = async () => {
				if (++calls > 1) return;
				reached();
				await held.resumed;
			};
			if (which === "stock") {
				const store = inventory.storeFor(STOCK);
				const update = store.update.bind(store);
				vi.spyOn(store, "update").mockImplementation(async (where, change, tx) => {
					await hold();
					return update(where, change, tx);
				});
			} else {
				const store = inventory.storeFor(RESERVATIONS);
				const update = store.update.bind(store);
				vi.spyOn(store, "update").mockImplementation(async (where, change, tx) => {
					await hold();
					return update(where, change, tx);
				});
			}
			return { reached: held.reached, resume };
		}

		async function countersOf(productId: string) {
			const { stock } = await call(shop.broker, "inventory.audit", {});
			return stock.find(s => s.productId === productId);
		}

		describe("item 2: two runs of one order", () => {
			it("both answer OUT_OF_STOCK against 0 stock, and hold nothing", async () => {
				const productId = await newProduct(0);
				const orderId = randomUUID();
				interleaveReservationInserts();
				const runs = await Promise.allSettled([
					reserve(orderId, [{ productId, quantity: 1 }]),
					reserve(orderId, [{ productId, quantity: 1 }]),
				]);
				expect(
					runs.map(r => (r.status === "rejected" ? (r.reason as Errors.MoleculerError).type : "reserved")),
				).toEqual(["OUT_OF_STOCK", "OUT_OF_STOCK"]);
				expect(await stockOf(productId)).toEqual({ productId, available: 0, reserved: 0 });
				expect(await reservationsOf(orderId)).toEqual([]);
			});

			it("both answer reserved against enough stock, and hold it once", async () => {
				const productId = await newProduct(5);
				const orderId = randomUUID();
				interleaveReservationInserts();
				const runs = await Promise.all([
					reserve(orderId, [{ productId, quantity: 2 }]),
					reserve(orderId, [{ productId, quantity: 2 }]),
				]);
				expect(runs).toEqual([
					{ orderId, items: [{ productId, quantity: 2 }] },
					{ orderId, items: [{ productId, quantity: 2 }] },
				]);
				expect(await stockOf(productId)).toEqual({ productId, available: 3, reserved: 2 });
				expect(await reservationsOf(orderId)).toEqual([{ productId, status: "RESERVED" }]);
			});

			if (kind === "memory") {
				it("gives the stock back when the reservation insert fails, keeps it when the insert applied", async () => {
					const productId = await newProduct(5);
					const store = inventory.storeFor(RESERVATIONS);
					const insert = store.insert.bind(store);
					const failed = randomUUID();
					vi.spyOn(store, "insert").mockRejectedValueOnce(new StorageUnavailableError());
					await expect(reserve(failed, [{ productId, quantity: 2 }])).rejects.toMatchObject({
						type: "STORAGE_UNAVAILABLE",
					});
					expect(await stockOf(productId)).toEqual({ productId, available: 5, reserved: 0 });

					const applied = randomUUID();
					vi.spyOn(store, "insert").mockImplementationOnce(async doc => {
						await insert(doc);
						throw new StorageUnavailableError();
					});
					await reserve(applied, [{ productId, quantity: 2 }]);
					expect(await stockOf(productId)).toEqual({ productId, available: 3, reserved: 2 });
					expect(await reservationsOf(applied)).toEqual([{ productId, status: "RESERVED" }]);
				});
			}

			it("commit refuses an order whose lines are not reserved (STOCK_NOT_RESERVED), and changes nothing", async () => {
				const [held, missing] = [await newProduct(5), await newProduct(5)];
				const orderId = randomUUID();
				await reserve(orderId, [{ productId: held, quantity: 1 }]);
				const lines = [
					{ productId: held, quantity: 1 },
					{ productId: missing, quantity: 2 },
				];
				const refused = commit(orderId, lines);
				await expect(refused).rejects.toBeInstanceOf(Errors.MoleculerClientError);
				await expect(refused).rejects.toMatchObject({
					code: 409,
					type: "STOCK_NOT_RESERVED",
					data: { orderId, lines: [{ productId: missing, quantity: 2, held: 0 }] },
				});
				await expect(commit(randomUUID(), lines)).rejects.toMatchObject({ type: "STOCK_NOT_RESERVED" });
				expect(await stockOf(missing)).toEqual({ productId: missing, available: 5, reserved: 0 });
			});

			it("commit refuses an order whose reservations were released, and one reserved for fewer units", async () => {
				const productId = await newProduct(5);
				const released = randomUUID();
				await reserve(released, [{ productId, quantity: 1 }]);
				await release(released);
				await expect(commit(released, [{ productId, quantity: 1 }])).rejects.toMatchObject({
					code: 409,
					type: "STOCK_NOT_RESERVED",
				});
				const fewer = randomUUID();
				await reserve(fewer, [{ productId, quantity: 1 }]);
				await expect(commit(fewer, [{ productId, quantity: 3 }])).rejects.toMatchObject({
					type: "STOCK_NOT_RESERVED",
					data: { lines: [{ productId, quantity: 3, held: 1 }] },
				});
				expect(await stockOf(productId)).toEqual({ productId, available: 4, reserved: 1 });
			});

			it("commit of a covered order succeeds, and again when repeated", async () => {
				const productId = await newProduct(5);
				const orderId = randomUUID();
				const lines = [{ productId, quantity: 2 }];
				await reserve(orderId, lines);
				expect(await commit(orderId, lines)).toEqual({ orderId, committed: 1 });
				expect(await commit(orderId, lines)).toEqual({ orderId, committed: 0 });
				expect(await stockOf(productId)).toEqual({ productId, available: 3, reserved: 0 });
			});
		});

		describe("item 6: a failure between the two writes of a settlement", () => {
			it.each([1, 2, 3])("commit: write %i fails, the retry finishes the commit", async n => {
				const productId = await newProduct(5);
				const orderId = randomUUID();
				const lines = [{ productId, quantity: 2 }];
				await reserve(orderId, lines);
				const writes = failWrite(n);
				const first = await commit(orderId, lines).then(
					() => "committed",
					(err: Errors.MoleculerError) => err.type,
				);
				expect(first).toBe(writes() >= n ? "STORAGE_UNAVAILABLE" : "committed");
				vi.restoreAllMocks();
				await commit(orderId, lines);
				expect(await stockOf(productId)).toEqual({ productId, available: 3, reserved: 0 });
				expect(await reservationsOf(orderId)).toEqual([{ productId, status: "COMMITTED" }]);
				const { stock } = await call(shop.broker, "inventory.audit", {});
				expect(stock.find(s => s.productId === productId)).toEqual({
					productId,
					available: 3,
					reserved: 0,
					sold: 2,
					received: 5,
				});
			});

			it.each([1, 2, 3])("release: write %i fails, the retry finishes the release", async n => {
				const productId = await newProduct(5);
				const orderId = randomUUID();
				await reserve(orderId, [{ productId, quantity: 2 }]);
				failWrite(n);
				await release(orderId).catch((err: Errors.MoleculerError) => expect(err.type).toBe("STORAGE_UNAVAILABLE"));
				vi.restoreAllMocks();
				await release(orderId);
				expect(await stockOf(productId)).toEqual({ productId, available: 5, reserved: 0 });
				expect(await reservationsOf(orderId)).toEqual([{ productId, status: "RELEASED" }]);
			});
		});

		if (kind === "memory") {
			describe("item 6: duplicate settlements of one order (the document stores' own path)", () => {
				it("a commit that moves after another commit of the order finished gives its units back", async () => {
					const productId = await newProduct(10);
					const [orderId, bystander] = [randomUUID(), randomUUID()];
					const lines = [{ productId, quantity: 2 }];
					await reserve(orderId, lines);
					await reserve(bystander, [{ productId, quantity: 3 }]);
					const stale = holdFirstUpdate("stock");
					const first = commit(orderId, lines);
					await stale.reached;
					expect(await commit(orderId, lines)).toEqual({ orderId, committed: 1 });
					stale.resume();
					// The stale run took the bystander's reserved units aside, found the order committed by another move,
					// and gave them back.
					expect(await first).toEqual({ orderId, committed: 0 });
					expect(await countersOf(productId)).toEqual({ productId, available: 5, reserved: 3, sold: 2, received: 10 });
				});

				it("a release while a commit is between stock move and flip finishes the commit, then restores", async () => {
					const productId = await newProduct(10);
					const orderId = randomUUID();
					const lines = [{ productId, quantity: 2 }];
					await reserve(orderId, lines);
					const flip = holdFirstUpdate("reservations");
					const committing = commit(orderId, lines);
					await flip.reached;
					expect(await release(orderId)).toEqual({ orderId, released: 1 });
					flip.resume();
					await expect(committing).rejects.toMatchObject({ type: "STOCK_NOT_RESERVED" });
					expect(await reservationsOf(orderId)).toEqual([{ productId, status: "RESTORED" }]);
					expect(await countersOf(productId)).toEqual({ productId, available: 10, reserved: 0, sold: 0, received: 10 });
				});
			});
		}

		describe("item 8: counters beyond 32 bits", () => {
			it("takes three restocks of 1e9 and reads them back as numbers", async () => {
				const productId = await newProduct(0);
				for (let i = 0; i < 3; i++)
					await call(shop.broker, "inventory.restock", { productId, quantity: 1_000_000_000 }, admin());
				expect(await stockOf(productId)).toEqual({ productId, available: 3_000_000_000, reserved: 0 });
				const orderId = randomUUID();
				const lines = [{ productId, quantity: 1000 }];
				await reserve(orderId, lines);
				await commit(orderId, lines);
				const { stock } = await call(shop.broker, "inventory.audit", {});
				expect(stock.find(s => s.productId === productId)).toEqual({
					productId,
					available: 2_999_999_000,
					reserved: 0,
					sold: 1000,
					received: 3_000_000_000,
				});
			});

			if (kind !== "memory") {
				it("widens the INTEGER columns of a table made before, keeping its rows", async () => {
					const old = await createTestDatabase(kind);
					const sequelize = createSequelize(old.uri);
					try {
						const columns = Object.fromEntries(
							["available", "reserved", "sold", "received"].map(c => [c, { type: DataTypes.INTEGER }]),
						);
						const legacy = sequelize.define(
							"stock",
							{
								id: { type: DataTypes.STRING(128), primaryKey: true },
								productId: DataTypes.STRING,
								updatedAt: DataTypes.STRING,
								...columns,
							},
							{ tableName: "stock", timestamps: false },
						);
						await legacy.sync();
						await legacy.create({ id: "p1", productId: "p1", available: 7, reserved: 0, sold: 0, received: 7 });
						const types = async () =>
							Object.values(await sequelize.getQueryInterface().describeTable("stock")).map(c => c.type);
						expect((await types()).filter(t => /^INT/i.test(t))).toHaveLength(4);

						const store = new Store(STOCK, old.uri, shop.broker.getLogger("test"));
						await store.connect(shop.broker, sequelize);
						expect((await types()).filter(t => /^INT/i.test(t))).toEqual([]);
						await store.update({ productId: "p1" }, { inc: { available: 3_000_000_000, received: 3_000_000_000 } });
						expect(await store.findOne({ productId: "p1" })).toMatchObject({
							available: 3_000_000_007,
							received: 3_000_000_007,
						});
					} finally {
						await sequelize.close();
						await old.drop();
					}
				});
			}
		});
	};
}

describe("inventory guarantees on the in-memory store (SQLite; MongoDB takes the same path)", suite("memory"));
for (const kind of ["mariadb", "postgres"] as const)
	await describeWithServers([kind], `inventory guarantees on ${kind}`, suite(kind));
