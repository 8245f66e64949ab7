import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call } from "../../lib/actor";
import type { AuthUser } from "../../lib/auth";
import type { Store } from "../../lib/storage";
import { ORDERS, type Order } from "../../services/orders/contract";
import { startShop, type Shop } from "../support/shop";
import { createTestDatabase } from "../support/databases";
import { describeWithServers } from "../support/servers";
import { pricedOrder } from "../services/orders/return-fakes";

/**
 * The return actions of an orders node on its own (no inventory or payments node: every refund stays PENDING), on
 * each kind of store: the unique slots and receipts that keep concurrent requests and receipts exact, the SQL
 * transactions, the actions' params and access rules.
 */
const customer: AuthUser = { id: "u1", role: "customer", email: "u1@example.com" } as AuthUser;
const stranger: AuthUser = { id: "u2", role: "customer", email: "u2@example.com" } as AuthUser;
const admin: AuthUser = { id: "a1", role: "admin", email: "a1@example.com" } as AuthUser;

/** The tests, on the store `dbUri` gives. */
function returnActions(dbUri: () => Promise<{ uri: string; drop(): Promise<void> }>) {
	return () => {
		let shop: Shop;
		let db: { uri: string; drop(): Promise<void> };
		let seq = 0;

		beforeAll(async () => {
			db = await dbUri();
			shop = await startShop({ services: ["orders"], env: { DB_URI: db.uri } });
		});
		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		/** A delivered order of three units of 1000 with 100 off: unit refunds 967, 966, 967. */
		async function deliveredOrder(): Promise<Order> {
			const order = pricedOrder(
				[{ variantId: "x", unitPrice: 1000, quantity: 3 }],
				{ discount: { code: "C100", type: "FIXED", value: 100 } },
				`order-${++seq}-${Date.now()}`,
			);
			order.deliveredAt = new Date().toISOString();
			const orders = (
				shop.broker.getLocalService("orders") as unknown as { storeFor(s: typeof ORDERS): Store<Order> }
			).storeFor(ORDERS);
			return orders.insert(order);
		}

		it("concurrent requests hold at most what was bought; concurrent receipts add up to the total", async () => {
			const order = await deliveredOrder();
			const asks = await Promise.allSettled(
				Array.from({ length: 8 }, () =>
					call(
						shop.broker,
						"orders.requestReturn",
						{ id: order.id, items: [{ variantId: "x", quantity: 1 }] },
						{
							meta: { user: customer },
						},
					),
				),
			);
			const made = asks.flatMap(a => (a.status === "fulfilled" ? [a.value] : []));
			expect(made).toHaveLength(3);
			for (const a of asks.filter(a => a.status === "rejected"))
				expect(a.reason).toMatchObject({ code: 422, type: "RETURN_NOT_ALLOWED", data: { reason: "QUANTITY" } });

			const received = await Promise.all(
				made.map(r => call(shop.broker, "orders.receiveReturn", { id: r.id }, { meta: { user: admin } })),
			);
			// No payments node: the refunds wait, the receipts stand.
			expect(received.map(r => [r.status, r.refundStatus])).toEqual(Array(3).fill(["RECEIVED", "PENDING"]));
			expect(received.map(r => r.refundAmount).sort()).toEqual([966, 967, 967]);
			const audit = await call(shop.broker, "orders.auditReturns", {});
			expect(audit.filter(r => r.orderId === order.id).reduce((s, r) => s + r.refundAmount, 0)).toBe(order.total);
			const after = await call(shop.broker, "orders.get", { id: order.id }, { meta: { user: customer } });
			expect(after.status).toBe("RETURNED");
		});

		it("answers 201 with the return, strips unknown fields, and lists it to its owner and admins only", async () => {
			const order = await deliveredOrder();
			const meta: { user: AuthUser; $statusCode?: number } = { user: customer };
			const items = [{ variantId: "x", quantity: 2, price: 1 }];
			const ret = await call(
				shop.broker,
				"orders.requestReturn",
				{ id: order.id, items, reason: "too small" },
				{ meta },
			);
			expect(meta.$statusCode).toBe(201);
			expect(ret).toEqual({
				id: expect.any(String),
				orderId: order.id,
				userId: customer.id,
				status: "REQUESTED",
				items: [{ variantId: "x", quantity: 2, refundAmount: 967 + 966 }],
				refundAmount: 967 + 966,
				currency: "USD",
				reason: "too small",
				refundStatus: null,
				createdAt: expect.any(String),
				updatedAt: expect.any(String),
			});
			const mine = await call(shop.broker, "orders.returns", { id: order.id }, { meta: { user: customer } });
			expect(mine).toMatchObject({ total: 1, rows: [{ id: ret.id }] });
			await expect(
				call(shop.broker, "orders.returns", { id: order.id }, { meta: { user: stranger } }),
			).rejects.toMatchObject({ code: 404 });
			await expect(call(shop.broker, "orders.listReturns", {}, { meta: { user: customer } })).rejects.toMatchObject({
				code: 403,
			});
			await expect(
				call(shop.broker, "orders.receiveReturn", { id: ret.id }, { meta: { user: customer } }),
			).rejects.toMatchObject({ code: 403 });

			const rejected = await call(shop.broker, "orders.rejectReturn", { id: ret.id }, { meta: { user: admin } });
			expect(rejected.status).toBe("REJECTED");
			await expect(
				call(shop.broker, "orders.receiveReturn", { id: ret.id }, { meta: { user: admin } }),
			).rejects.toMatchObject({ code: 409, type: "INVALID_TRANSITION" });
			const listed = await call(shop.broker, "orders.listReturns", { status: "REJECTED" }, { meta: { user: admin } });
			expect(listed.rows.map(r => r.id)).toContain(ret.id);
			expect(listed.rows.every(r => r.status === "REJECTED")).toBe(true);
		});
	};
}

describe(
	"return actions on SQLite",
	returnActions(() => Promise.resolve({ uri: "memory://", drop: () => Promise.resolve() })),
);
for (const kind of ["mariadb", "postgres"] as const)
	await describeWithServers(
		[kind],
		`return actions on ${kind}`,
		returnActions(() => createTestDatabase(kind)),
	);
