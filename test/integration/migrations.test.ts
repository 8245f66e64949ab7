import { afterAll, beforeAll, expect, it } from "vitest";
import { ServiceBroker } from "moleculer";
import { QueryTypes } from "sequelize";
import { startShop, type Shop } from "../support/shop";
import { client, type Client } from "../support/http";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";
import { auditShop } from "../../lib/audit";
import { Store, createSequelize, type CollectionSpec, type Doc } from "../../lib/storage";
import { STOCK } from "../../services/inventory/stock-ledger";
import type { StockRecord } from "../../services/inventory/contract";
import type { Order, Product, Stock } from "../support/api";

/** A product as the release before variants (commit 4d1b175) stored it: its own SKU, price and currency. */
interface ReleasedProduct extends Doc {
	name: string;
	description: string;
	price: number;
	currency: string;
	category: string;
	sku: string;
	createdAt: string;
	updatedAt: string;
}
/** That release's products collection, verbatim: its table is what the adapter's `sync()` made of it. */
const RELEASED_PRODUCTS: CollectionSpec<ReleasedProduct> = {
	name: "products",
	fields: {
		...{ name: "string", description: "text", price: "money", currency: "string", category: "string" },
		...{ sku: "string", createdAt: "string", updatedAt: "string" },
	},
	unique: ["sku"],
	indexes: ["category", "createdAt", "price", "name"],
};

const NOW = "2026-01-01T00:00:00.000Z";
const OLD = [
	{ id: "old-mug", sku: "MUG-1", name: "Mug", price: 1200, currency: "EUR", stock: [7, 0] },
	{ id: "old-pen", sku: "PEN-1", name: "Pen", price: 150, currency: "EUR", stock: [40, 0] },
];

/**
 * Issue 12: a database written by the release before variants is upgraded by the versioned migrations when the
 * shop starts on it: each product gets its one variant (the product's id, SKU, price), its stock becomes that
 * variant's, and orders, stock moves and the invariants work on the upgraded data.
 */
for (const kind of ["mariadb", "postgres"] as const) {
	await describeWithServers([kind], `upgrading a ${kind} database of the release before variants`, () => {
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		let shop: Shop | undefined;
		let api: Client;

		beforeAll(async () => {
			db = await createTestDatabase(kind);
			// The tables and rows as the previous release wrote them.
			const broker = new ServiceBroker({ logger: false });
			const sequelize = createSequelize(db.uri);
			const products = new Store(RELEASED_PRODUCTS, db.uri, broker.getLogger("released"));
			const stock = new Store<StockRecord>(STOCK, db.uri, broker.getLogger("released"));
			await products.connect(broker, sequelize);
			await stock.connect(broker, sequelize);
			for (const {
				stock: [available, sold],
				...p
			} of OLD) {
				await products.insert({ ...p, description: "", category: "old", createdAt: NOW, updatedAt: NOW });
				const counters = { available, reserved: 0, sold, received: available + sold };
				await stock.insert({ id: p.id, productId: p.id, ...counters, updatedAt: NOW });
			}
			await sequelize.close();

			shop = await startShop({ env: { DB_URI: db.uri, SEED: "false" } });
			api = client(shop.url);
		});

		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		it("gives each product its one variant, with the product's id, SKU and price, and keeps its stock", async () => {
			for (const { id, sku, name, price, currency, stock } of OLD) {
				const product = (await api.get<Product>(`/api/products/${id}`)).body;
				expect(product).toMatchObject({ id, sku, name, price, currency, options: [] });
				expect(product.variants).toEqual([{ id, sku, title: name, options: {}, price, currency }]);
				expect((await api.get<Stock>(`/api/inventory/${id}`)).body).toMatchObject({
					...{ productId: id, available: stock[0], reserved: 0 },
				});
			}
		});

		it("records the step, so a restart does not run it again", async () => {
			const sequelize = createSequelize(db!.uri);
			const done = await sequelize.query<{ name: string }>(
				`SELECT ${sequelize.getQueryInterface().quoteIdentifier("name")} FROM products_migrations`,
				{ type: QueryTypes.SELECT },
			);
			await sequelize.close();
			expect(done.map(r => r.name)).toEqual(["products-0001-variants"]);
		});

		it("takes orders by variant on the upgraded data and adds products with variants", async () => {
			const admin = (await api.login("admin@example.com", "admin-password")).token;
			const ann = (await api.register(`ann-${kind}-${Date.now()}@example.com`, "ann-password", "Ann")).token;
			const order = await api.post<Order>(
				"/api/orders",
				{ items: [{ variantId: "old-mug", quantity: 2 }], paymentToken: "tok_visa" },
				{ token: ann },
			);
			expect(order.status).toBe(201);
			expect(order.body.items[0]).toMatchObject({ productId: "old-mug", variantId: "old-mug", sku: "MUG-1" });
			expect((await api.get<Stock>("/api/inventory/old-mug")).body).toMatchObject({ available: 5, reserved: 0 });
			for (const n of [1, 2]) {
				const body = {
					...{ name: `Tee ${n}`, category: "new", options: [{ name: "Size", values: ["S", "M"] }] },
					variants: ["S", "M"].map(size => ({ sku: `TEE-${n}-${size}`, options: { Size: size }, price: 900 })),
				};
				const created = await api.post<Product>("/api/products", body, { token: admin });
				expect(created.status).toBe(201); // the old unique sku column holds NULL for each: no conflict
				expect(created.body.sku).toBeNull();
			}
			expect(await auditShop(shop!.broker, { settled: true })).toMatchObject({ violations: [] });
		});
	});
}
