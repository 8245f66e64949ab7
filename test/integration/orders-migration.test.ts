import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import type { Sequelize } from "sequelize";
import { Store, createSequelize, type CollectionSpec, type MigrationContext } from "../../lib/storage";
import { ORDERS, type Order } from "../../services/orders/contract";
import { ORDER_MIGRATIONS, type LegacyOrder } from "../../services/orders/migrations";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";
import { AT, legacyOrder } from "../services/orders/legacy-order";

const NEW_FIELDS = ["totals", "discountCode", "discount", "shippingMethod", "taxRate", "shippedAt", "deliveredAt"];
/** The orders collection of the release before the money rules: the table `sync()` made of it has none of them. */
const RELEASED_ORDERS = {
	...ORDERS,
	fields: Object.fromEntries(Object.entries(ORDERS.fields).filter(([f]) => !NEW_FIELDS.includes(f))),
} as unknown as CollectionSpec<LegacyOrder>;

const [step] = ORDER_MIGRATIONS;
/** More than one batch of the step. */
const LEGACY_COUNT = 503;

/**
 * Issue 13: orders stored before the money rules gain their totals and line amounts from the versioned step
 * `orders-0001-money-rules` (on SQL, the columns too), so reading them and their events never finds a field missing.
 */
function upgradeScenario(open: () => Promise<{ uri: string; sequelize?: Sequelize; close(): Promise<void> }>) {
	const broker = new ServiceBroker({ logger: false });
	let db: Awaited<ReturnType<typeof open>>;
	let orders: Store<Order>;
	let ctx: MigrationContext;

	beforeAll(async () => {
		db = await open();
		const released = new Store(RELEASED_ORDERS, db.uri, broker.getLogger("released"));
		await released.connect(broker, db.sequelize);
		for (let i = 0; i < LEGACY_COUNT; i++)
			await released.insert(legacyOrder(`o-${String(i).padStart(4, "0")}`, i === 0 ? "DELIVERED" : "CONFIRMED"));
		// The new release opens the same collection with the current spec (on SQLite in memory: the same store).
		orders = db.sequelize ? new Store(ORDERS, db.uri, broker.getLogger("orders")) : (released as never);
		if (db.sequelize) await orders.connect(broker, db.sequelize);
		ctx = {
			kind: db.sequelize ? "sql" : "memory",
			sequelize: db.sequelize,
			storeFor: () => orders as never,
			logger: broker.getLogger("migrations"),
		};
	}, 60_000);

	afterAll(() => db?.close());

	it("gives every order totals, lines with discount, tax and total, and no code, method or rate", async () => {
		await step.up(ctx);
		const rows = await orders.find({}, { sort: ["id"] });
		expect(rows).toHaveLength(LEGACY_COUNT);
		for (const row of rows) {
			expect(row.totals).toEqual({ subtotal: 3050, discount: 0, shipping: 0, tax: 0, total: 3050 });
			expect(row.items.map(({ lineTotal, discount, tax, total }) => [lineTotal, discount, tax, total])).toEqual([
				[2400, 0, 0, 2400],
				[650, 0, 0, 650],
			]);
			expect(row).toMatchObject({ discountCode: null, discount: null, shippingMethod: null, taxRate: null });
		}
		expect(rows[0]).toMatchObject({ status: "DELIVERED", shippedAt: AT, deliveredAt: AT });
		expect(rows[1]).toMatchObject({ status: "CONFIRMED", shippedAt: null, deliveredAt: null });
	});

	it("leaves orders that have their totals alone when it runs again, and stores orders of the new shape", async () => {
		const priced: Order = {
			...(legacyOrder("o-new") as Order),
			items: legacyOrder("o-new").items.map(i => ({ ...i, discount: 100, tax: 10, total: i.lineTotal - 90 })),
			total: 2870,
			totals: { subtotal: 3050, discount: 200, shipping: 0, tax: 20, total: 2870 },
			discountCode: "SAVE",
			discount: { code: "SAVE", type: "FIXED", value: 200 },
			shippingMethod: null,
			taxRate: { country: "XX", rate: 100, shippingTaxable: false },
			shippedAt: null,
			deliveredAt: null,
		};
		await orders.insert(priced);
		await step.up(ctx);
		const { items, total, totals, discountCode, discount, shippingMethod, taxRate } = priced;
		expect(await orders.findOne({ id: "o-new" })).toMatchObject({
			...{ items, total, totals, discountCode, discount, shippingMethod, taxRate },
		});
		expect(await orders.count({})).toBe(LEGACY_COUNT + 1);
	});
}

describe("orders-0001-money-rules on SQLite (in memory)", () => {
	upgradeScenario(() => Promise.resolve({ uri: "memory://", close: () => Promise.resolve() }));
});

for (const kind of ["mariadb", "postgres"] as const) {
	await describeWithServers([kind], `orders-0001-money-rules on ${kind}`, () => {
		upgradeScenario(async () => {
			const created = await createTestDatabase(kind);
			const sequelize = createSequelize(created.uri);
			return {
				uri: created.uri,
				sequelize,
				async close() {
					await sequelize.close();
					await created.drop();
				},
			};
		});
	});
}
