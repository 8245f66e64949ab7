import { afterAll, beforeAll, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { QueryTypes } from "sequelize";
import { startShop, type Shop } from "../support/shop";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";
import { call } from "../../lib/actor";
import { Store, createSequelize, type CollectionSpec } from "../../lib/storage";
import { CARTS, type Cart } from "../../services/carts/contract";

/** The carts collection of the release before discount codes and shipping methods: no column for either. */
const { discountCode, shippingMethodId, ...releasedFields } = CARTS.fields;
const RELEASED_CARTS = { ...CARTS, fields: releasedFields } as unknown as CollectionSpec<Cart>;

const address = { line1: "1 Old Rd", city: "Springfield", postalCode: "12345", country: "US" };
const NOW = "2026-01-01T00:00:00.000Z";

/**
 * Issue 13: carts stored by the release before codes and methods (a SQL table without their columns) are upgraded
 * by `carts-0001-money` when the carts actor starts: they read as carts with neither, and take both.
 */
for (const kind of ["mariadb", "postgres"] as const) {
	await describeWithServers([kind], `upgrading the carts of a ${kind} database`, () => {
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		let shop: Shop | undefined;

		beforeAll(async () => {
			db = await createTestDatabase(kind);
			const broker = new ServiceBroker({ logger: false });
			const sequelize = createSequelize(db.uri);
			const released = new Store(RELEASED_CARTS, db.uri, broker.getLogger("released"));
			await released.connect(broker, sequelize);
			const old = { id: "old-cart", userId: null, ownerKey: "cart:old-cart", status: "ACTIVE" as const, lines: [] };
			const rest = { email: null, shippingAddress: address, orderId: null, checkout: null, attempts: 0, version: 0 };
			await released.insert({ ...old, ...rest, createdAt: NOW, updatedAt: NOW } as unknown as Cart);
			await sequelize.close();
			shop = await startShop({ env: { DB_URI: db.uri }, services: ["carts", "shipping", "promotions"] });
		});

		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		it("reads an old cart as one without a code or a method, and stores both from then on", async () => {
			expect(await call(shop!.broker, "carts.get", { id: "old-cart" })).toMatchObject({
				id: "old-cart",
				shippingAddress: address,
				discountCode: null,
				shippingMethodId: null,
			});
			const admin = { id: "a", email: "admin@example.com", name: "A", role: "admin" as const };
			const method = { name: "Standard", price: 499, currency: "USD", countries: ["*"], freeOver: null, active: true };
			const { id } = await call(shop!.broker, "shipping.createMethod", method, { meta: { user: admin } });
			await call(shop!.broker, "carts.update", { id: "old-cart", shippingMethodId: id });
			expect(await call(shop!.broker, "carts.get", { id: "old-cart" })).toMatchObject({ shippingMethodId: id });

			const sequelize = createSequelize(db!.uri);
			const q = (name: string) => sequelize.getQueryInterface().quoteIdentifier(name);
			const done = await sequelize.query<{ name: string }>(`SELECT ${q("name")} FROM carts_migrations`, {
				type: QueryTypes.SELECT,
			});
			await sequelize.close();
			expect(done.map(r => r.name)).toEqual(["carts-0001-money"]);
		});
	});
}
