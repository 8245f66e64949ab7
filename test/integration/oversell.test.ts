import { afterAll, beforeAll, describe, it } from "vitest";
import { auditShop } from "../../lib/audit";
import { startShop, type Shop } from "../support/shop";
import { client } from "../support/http";
import { balancedClients } from "../support/load";
import { describeWithServers } from "../support/servers";
import { createTestDatabase } from "../support/databases";
import { startShopCluster, type ShopCluster } from "../support/shop-cluster";
import { oversellScenario } from "../support/scenarios";

/** Guarantee 1 on the other stores: the in-memory default in one process, and PostgreSQL across nodes. */
describe("no oversell on the in-memory default (one process)", () => {
	let shop: Shop;

	beforeAll(async () => {
		shop = await startShop();
	});

	afterAll(async () => {
		await shop?.stop();
	});

	it("sells exactly 100 of 1,000 concurrent attempts", async () => {
		const api = client(shop.url);
		const admin = (await api.login("admin@example.com", "admin-password")).token;
		const customers = [];
		for (let i = 0; i < 8; i++) customers.push((await api.register(`mem${i}@example.com`, "customer-password")).token);
		await oversellScenario(
			balancedClients([shop.url]),
			shop.url,
			admin,
			customers,
			() => auditShop(shop.broker),
			"in-memory, one process",
		);
	}, 120_000);
});

await describeWithServers(["nats", "redis", "postgres"], "no oversell on PostgreSQL across nodes", () => {
	let db: Awaited<ReturnType<typeof createTestDatabase>>;
	let shop: ShopCluster;

	beforeAll(async () => {
		db = await createTestDatabase("postgres");
		shop = await startShopCluster({ label: "pg", dbUri: db.uri });
	}, 180_000);

	afterAll(async () => {
		await shop?.stop();
		await db?.drop();
	});

	it(
		"sells exactly 100 of 1,000 concurrent attempts " + "through two gateways, two orders and two inventory nodes",
		async () => {
			await oversellScenario(
				shop.send,
				shop.gateways[0],
				shop.admin,
				shop.customers,
				() => auditShop(shop.observer),
				"PostgreSQL, 2 gateways, 2 orders, 2 inventory nodes",
			);
		},
		120_000,
	);
});
