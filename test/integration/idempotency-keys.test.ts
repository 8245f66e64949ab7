import { afterAll, beforeAll, expect, it } from "vitest";
import { auditShop } from "../../lib/audit";
import { createTestDatabase } from "../support/databases";
import { client, eventually, type Client } from "../support/http";
import { describeWithServers, type SERVERS } from "../support/servers";
import { startShop, type Shop } from "../support/shop";

/**
 * Issue 17, item 5: an Idempotency-Key of any documented length (up to 255 characters) works on every store, and a
 * longer one is refused with 422 instead of being ignored (which let a retrying client be charged twice). The store
 * keeps a fixed-length digest of user and key, so the SQL column's 255 characters are never the limit.
 */
const STORES: { kind: "memory" | "mariadb" | "postgres"; servers: (keyof typeof SERVERS)[] }[] = [
	{ kind: "memory", servers: [] },
	{ kind: "mariadb", servers: ["mariadb"] },
	{ kind: "postgres", servers: ["postgres"] },
];

interface Answer {
	id?: string;
	type?: string;
	data?: { field?: string; expected?: number }[];
}

for (const { kind, servers } of STORES) {
	await describeWithServers(servers, `Idempotency-Key lengths on ${kind}`, () => {
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		let shop: Shop;
		let api: Client;
		let productId: string;
		let ann: string;
		let bob: string;

		const place = (token: string, key: string) =>
			api.post<Answer>(
				"/api/orders",
				{ items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
				{ token, headers: { "Idempotency-Key": key } },
			);
		const ordersOf = async (token: string) => (await api.get<{ total: number }>("/api/orders", { token })).body.total;
		const available = async () => (await api.get<{ available: number }>(`/api/inventory/${productId}`)).body.available;

		beforeAll(async () => {
			db = kind === "memory" ? undefined : await createTestDatabase(kind);
			shop = await startShop({ env: db ? { DB_URI: db.uri } : {} });
			api = client(shop.url);
			const admin = (await api.login("admin@example.com", "admin-password")).token;
			const product = await api.post<{ id: string }>(
				"/api/products",
				{ name: "Keyed", price: 400, category: "keys", sku: `KEY-${kind}` },
				{ token: admin },
			);
			productId = product.body.id;
			await eventually(
				async () => (await api.put(`/api/inventory/${productId}`, { available: 10 }, { token: admin })).status === 200,
			);
			ann = (await api.register(`ann-keys-${kind}@example.com`, "customer-password")).token;
			bob = (await api.register(`bob-keys-${kind}@example.com`, "customer-password")).token;
		}, 60_000);

		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		it("takes a 255-character key: one order, replayed, and per user", async () => {
			const key = "k".repeat(255);
			const first = await place(ann, key);
			expect(first.status, JSON.stringify(first.body)).toBe(201);
			const again = await place(ann, key);
			expect(again.status).toBe(201);
			expect(again.body.id).toBe(first.body.id);
			expect(again.headers.get("idempotent-replayed")).toBe("true");
			// Another customer's identical key is another order.
			const bobs = await place(bob, key);
			expect(bobs.status).toBe(201);
			expect(bobs.body.id).not.toBe(first.body.id);
			expect(await available()).toBe(8);
		});

		it("replays a failed order's answer with the same status, order and Idempotent-Replayed header", async () => {
			const declined = (key: string) =>
				api.post<{ type?: string; data?: { orderId?: string } }>(
					"/api/orders",
					{ items: [{ productId, quantity: 1 }], paymentToken: "tok_declined" },
					{ token: ann, headers: { "Idempotency-Key": key } },
				);
			const first = await declined(`declined-${kind}`);
			expect(first.status, JSON.stringify(first.body)).toBe(402);
			expect(first.headers.get("idempotent-replayed")).toBeNull();
			const again = await declined(`declined-${kind}`);
			expect(again.status).toBe(402);
			expect(again.body).toMatchObject({ type: "PAYMENT_DECLINED", data: { orderId: first.body.data?.orderId } });
			expect(again.headers.get("idempotent-replayed")).toBe("true");
		});

		it("refuses a longer key with 422 and places nothing, however often it is retried", async () => {
			const before = { orders: await ordersOf(ann), available: await available() };
			for (const key of ["x".repeat(256), "y".repeat(300)]) {
				for (let attempt = 0; attempt < 2; attempt++) {
					const refused = await place(ann, key);
					expect(refused.status, JSON.stringify(refused.body)).toBe(422);
					expect(refused.body).toMatchObject({
						type: "VALIDATION_ERROR",
						data: [{ field: "Idempotency-Key", expected: 255 }],
					});
				}
			}
			expect({ orders: await ordersOf(ann), available: await available() }).toEqual(before);
			expect((await auditShop(shop.broker)).violations).toEqual([]);
		});
	});
}
