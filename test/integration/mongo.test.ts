import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { orderFlowScenario } from "../support/scenarios";
import { client, type Client } from "../support/http";
import { createTestDatabase } from "../support/databases";
import { describeWithInfra, useServer, type InfraServer } from "../support/infra";

/**
 * The MongoDB code paths (moleculer-db-adapter-mongo 0.4 with the mongodb 3.7 driver) against mongo-java-server:
 * an EMULATION of MongoDB's wire protocol with an in-memory backend, not a MongoDB server (none can be installed
 * here). What it proves: the queries the stores build are valid MongoDB queries and mean what we want (filters,
 * $regex search, sorting, skip/limit paging, counts), the `$inc` updates guarded by `$gte` filters, unique-index
 * errors mapped to 409s, and the whole order flow on `mongodb://` URIs. What it cannot prove: real MongoDB's
 * concurrency and storage engine, replica sets, transactions, or the behaviour of a MongoDB 7 server's query planner.
 */
interface Product {
	id: string;
	name: string;
	price: number;
	category: string;
}
interface Page {
	rows: Product[];
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

const mongoDb = (server: InfraServer, label: string) =>
	`${server.url}/emporium_${label}_${randomBytes(4).toString("hex")}`;

describeWithInfra(["mongo"], "MongoDB paths on mongo-java-server (an emulation, not MongoDB)", () => {
	let mongo: InfraServer;
	let sql: Awaited<ReturnType<typeof createTestDatabase>>;
	let allMongo: Shop;
	let mixed: Shop;

	beforeAll(async () => {
		mongo = await useServer("mongo");
		sql = await createTestDatabase("mariadb");
		allMongo = await startShop({ env: { DB_URI: mongoDb(mongo, "all") } });
		// As a deployment would split them: the catalogue and notifications on MongoDB, every other actor on SQL.
		mixed = await startShop({
			env: {
				DB_URI: sql.uri,
				PRODUCTS_DB_URI: mongoDb(mongo, "catalogue"),
				NOTIFICATIONS_DB_URI: mongoDb(mongo, "notifications"),
			},
		});
	}, 120_000);

	afterAll(async () => {
		await mixed?.stop();
		await allMongo?.stop();
		await sql?.drop();
		await mongo?.dispose();
	});

	it("[emulated MongoDB] every actor on mongodb://: places, notifies, cancels, refunds, never oversells", async () => {
		await orderFlowScenario(allMongo, "mongo-java-server, every actor");
	}, 90_000);

	it("[emulated MongoDB] unique indexes: a second account with one email, or product with one SKU: 409", async () => {
		const api = client(allMongo.url);
		const admin = (await api.login("admin@example.com", "admin-password")).token;
		await api.register("twice@example.com", "customer-password", "Once");
		const again = await api.post("/api/auth/register", {
			email: "TWICE@example.com",
			password: "customer-password",
			name: "Twice",
		});
		expect(again.status).toBe(409);
		expect(again.body).toMatchObject({ type: "EMAIL_TAKEN" });
		const product = { name: "Unique", price: 100, category: "test", sku: "UNIQ-1" };
		expect((await api.post("/api/products", product, { token: admin })).status).toBe(201);
		const duplicate = await api.post("/api/products", { ...product, name: "Copy" }, { token: admin });
		expect(duplicate.status).toBe(409);
		expect(duplicate.body).toMatchObject({ type: "SKU_TAKEN" });
	});

	it("[emulated MongoDB] catalogue and notifications on mongodb://, the rest on SQL: the whole order flow", async () => {
		await orderFlowScenario(mixed, "mongo-java-server catalogue and notifications, MariaDB for the rest");
	}, 90_000);

	it("[emulated MongoDB] catalogue search, category filter, sorting and paging", async () => {
		const api: Client = client(mixed.url);
		const admin = (await api.login("admin@example.com", "admin-password")).token;
		const tag = randomBytes(3).toString("hex");
		const category = `lamps-${tag}`;
		for (let i = 1; i <= 7; i++) {
			const res = await api.post(
				"/api/products",
				{
					name: `Lamp ${tag} ${i}`,
					description: i % 2 ? "brass (odd)" : "steel",
					price: i * 100,
					category,
					sku: `L-${tag}-${i}`,
				},
				{ token: admin },
			);
			expect(res.status).toBe(201);
		}
		await api.post(
			"/api/products",
			{ name: `Chair ${tag}`, description: "brass feet", price: 50, category: `chairs-${tag}`, sku: `C-${tag}` },
			{ token: admin },
		);

		const page1 = await api.get<Page>(`/api/products?category=${category}&sort=-price&pageSize=3&page=1`);
		expect(page1.body).toMatchObject({ total: 7, page: 1, pageSize: 3, totalPages: 3 });
		expect(page1.body.rows.map(p => p.price)).toEqual([700, 600, 500]);
		const page3 = await api.get<Page>(`/api/products?category=${category}&sort=-price&pageSize=3&page=3`);
		expect(page3.body.rows.map(p => p.price)).toEqual([100]);
		const byName = await api.get<Page>(`/api/products?category=${category}&sort=name&pageSize=2&page=2`);
		expect(byName.body.rows.map(p => p.name)).toEqual([`Lamp ${tag} 3`, `Lamp ${tag} 4`]);

		// Search is a case-insensitive substring of name, description or SKU; regex characters are taken literally.
		const brass = await api.get<Page>(`/api/products?search=${encodeURIComponent("BRASS")}&pageSize=100`);
		expect(brass.status, JSON.stringify(brass.body)).toBe(200);
		expect(
			brass.body.rows
				.filter(p => p.name.includes(tag))
				.map(p => p.name)
				.sort(),
		).toEqual([`Chair ${tag}`, `Lamp ${tag} 1`, `Lamp ${tag} 3`, `Lamp ${tag} 5`, `Lamp ${tag} 7`].sort());
		const inCategory = await api.get<Page>(`/api/products?search=brass&category=${category}`);
		expect(inCategory.body.total).toBe(4);
		const literal = await api.get<Page>(`/api/products?search=${encodeURIComponent("(odd)")}&category=${category}`);
		expect(literal.body.total).toBe(4);
		expect((await api.get<Page>(`/api/products?search=${encodeURIComponent(".*")}`)).body.total).toBe(0);
		// SKUs live in the variants: a product matches when one of its variants' SKUs has the text.
		const bySku = await api.get<Page>(`/api/products?search=${encodeURIComponent(`l-${tag}-3`)}`);
		expect(bySku.body.rows.map(p => p.name)).toEqual([`Lamp ${tag} 3`]);
		const skus = await api.get<Page>(`/api/products?search=${encodeURIComponent(`L-${tag}-`)}&sort=price&pageSize=3`);
		expect(skus.body).toMatchObject({ total: 7, totalPages: 3 });
		// An operator in the query string is a plain string to the service, never a MongoDB operator.
		expect((await api.get(`/api/products?category[$ne]=x`)).status).toBe(422);
	});
});
