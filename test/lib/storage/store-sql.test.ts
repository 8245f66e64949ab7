import { afterAll, beforeAll, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import type { Sequelize } from "sequelize";
import { Store, createSequelize, type CollectionSpec, type Doc } from "../../../lib/storage";
import { createTestDatabase } from "../../support/databases";
import { describeWithServers } from "../../support/servers";

interface Row extends Doc {
	owner: string;
	count: number;
	done: boolean;
}
const ROWS: CollectionSpec<Row> = { name: "rows", fields: { owner: "string", count: "int", done: "bool" } };

/**
 * `update` answers how many documents matched, also when the change leaves one as it was: callers use it as a
 * compare-and-set ("did my condition hold?"), e.g. settling an order that is already settled. MySQL reports changed
 * rows unless the connection asks for found rows, and Sequelize turns that off.
 */
for (const kind of ["mariadb", "postgres"] as const) {
	await describeWithServers([kind], `Store.update on ${kind}`, () => {
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

		it("counts a matched row whose values do not change", async () => {
			expect(await store.update({ id: "r1", owner: "a" }, { set: { done: true, owner: "a" } })).toBe(1);
			expect(await store.update({ id: "r1" }, { inc: { count: 0 } })).toBe(1);
		});

		it("counts changed rows, and none when the condition does not hold", async () => {
			expect(await store.update({ id: "r1", owner: "a" }, { set: { owner: "b" } })).toBe(1);
			expect(await store.update({ id: "r1", owner: "a" }, { set: { owner: "c" } })).toBe(0);
			expect(await store.findOne({ id: "r1" })).toMatchObject({ owner: "b", count: 1, done: true });
		});
	});
}
