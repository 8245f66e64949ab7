import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { randomBytes } from "node:crypto";
import { startShop, type Shop } from "../support/shop";
import { eventually } from "../support/http";
import { describeWithServers } from "../support/servers";
import { createTestDatabase } from "../support/databases";
import { AS_ADMIN, eventProbe, failNextOutboxWrite, outboxOf } from "../support/events";
import type { DomainEvent } from "../../lib/events";

/**
 * Issue 17, item 6: an event is written with the change it announces. The outbox write is made to fail once, right
 * after the change: on SQL the change must roll back with it; in memory (no transactions) the change stands and its
 * event must still reach the consumers.
 */
const SERVICES = ["products", "inventory", "users", "payments", "orders"];
const EVENTS = ["product.created", "user.registered", "payment.succeeded", "order.confirmed"] as const;
const unique = () => randomBytes(4).toString("hex");
const productInput = (sku: string) => ({ name: `Product ${sku}`, price: 1250, category: "test", sku });
const charge = (orderId: string) => ({
	orderId,
	userId: "user-1",
	amount: 1250,
	currency: "USD",
	paymentToken: "tok_visa",
});
const customer = { meta: { user: { id: "user-1", role: "customer", email: "c@example.com", name: "C" } } };

describe("in memory: a failed outbox write does not lose the event of a change that stands", () => {
	let shop: Shop;
	let seen: DomainEvent[];

	beforeAll(async () => {
		shop = await startShop({ services: SERVICES });
		seen = await eventProbe(shop.broker, [...EVENTS]);
	});
	afterEach(() => vi.restoreAllMocks());
	afterAll(() => shop?.stop());

	it("products.create: product.created arrives, so the product gets its stock record", async () => {
		failNextOutboxWrite(shop.broker, "products", "product.created");
		const product = await shop.broker.call<{ id: string }, object>(
			"products.create",
			productInput(`mem-${unique()}`),
			AS_ADMIN,
		);
		await eventually(() =>
			Promise.resolve(seen.some(e => e.type === "product.created" && e.data.productId === product.id)),
		);
		expect(await eventually(() => shop.broker.call("inventory.get", { productId: product.id }))).toMatchObject({
			productId: product.id,
			available: 0,
		});
	});

	it("users.register: user.registered arrives", async () => {
		failNextOutboxWrite(shop.broker, "users", "user.registered");
		const { user } = await shop.broker.call<{ user: { id: string } }, object>("users.register", {
			email: `mem-${unique()}@example.com`,
			password: "correct-horse",
			name: "Mem",
		});
		await eventually(() => Promise.resolve(seen.some(e => e.type === "user.registered" && e.data.userId === user.id)));
	});

	it("payments.charge: the payment is SUCCEEDED and payment.succeeded arrives", async () => {
		failNextOutboxWrite(shop.broker, "payments", "payment.succeeded");
		const orderId = `order-${unique()}`;
		await expect(shop.broker.call("payments.charge", charge(orderId))).resolves.toMatchObject({ status: "SUCCEEDED" });
		await eventually(() =>
			Promise.resolve(seen.some(e => e.type === "payment.succeeded" && e.data.orderId === orderId)),
		);
	});

	it("when the bus refuses that event too, the relay stores it and sends it later", async () => {
		failNextOutboxWrite(shop.broker, "products", "product.created");
		const adapter = shop.broker.channelAdapter as unknown as { publish(...args: unknown[]): Promise<void> };
		vi.spyOn(adapter, "publish").mockRejectedValueOnce(new Error("injected: bus unreachable"));
		const product = await shop.broker.call<{ id: string }, object>(
			"products.create",
			productInput(`bus-${unique()}`),
			AS_ADMIN,
		);
		await eventually(() =>
			Promise.resolve(seen.some(e => e.type === "product.created" && e.data.productId === product.id)),
		);
		// Sent rows are deleted together a moment after sending.
		await eventually(async () => (await outboxOf(shop.broker, "products").count({})) === 0);
	});

	it("an order's confirmation (orders' own transaction helper) still announces order.confirmed", async () => {
		const product = await shop.broker.call<{ id: string }, object>(
			"products.create",
			productInput(`ord-${unique()}`),
			AS_ADMIN,
		);
		await eventually(() => shop.broker.call("inventory.restock", { productId: product.id, quantity: 5 }, AS_ADMIN));
		failNextOutboxWrite(shop.broker, "orders", "order.confirmed");
		const order = await shop.broker.call<{ id: string; status: string }, object>(
			"orders.create",
			{ items: [{ productId: product.id, quantity: 1 }], paymentToken: "tok_visa" },
			customer,
		);
		expect(order.status).toBe("CONFIRMED");
		await eventually(() =>
			Promise.resolve(seen.some(e => e.type === "order.confirmed" && e.data.orderId === order.id)),
		);
	});
});

for (const kind of ["mariadb", "postgres"] as const) {
	await describeWithServers([kind], `on ${kind}: the outbox row is written in the change's transaction`, () => {
		let shop: Shop;
		let db: Awaited<ReturnType<typeof createTestDatabase>>;
		let seen: DomainEvent[];

		beforeAll(async () => {
			db = await createTestDatabase(kind);
			shop = await startShop({ env: { DB_URI: db.uri }, services: SERVICES.filter(s => s !== "orders") });
			seen = await eventProbe(shop.broker, [...EVENTS]);
		});
		afterEach(() => vi.restoreAllMocks());
		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		it("products.create fails whole: no product without its event, and the client's retry gets both", async () => {
			const input = productInput(`sql-${unique()}`);
			failNextOutboxWrite(shop.broker, "products", "product.created");
			await expect(shop.broker.call("products.create", input, AS_ADMIN)).rejects.toThrow(/injected/);
			expect(await shop.broker.call("products.list", { search: input.sku })).toMatchObject({ total: 0 });

			const product = await shop.broker.call<{ id: string }, object>("products.create", input, AS_ADMIN);
			expect(await eventually(() => shop.broker.call("inventory.get", { productId: product.id }))).toMatchObject({
				available: 0,
			});
		});

		it("users.register fails whole: the email is still free and the retry announces the user", async () => {
			const credentials = { email: `sql-${unique()}@example.com`, password: "correct-horse", name: "Sql" };
			failNextOutboxWrite(shop.broker, "users", "user.registered");
			await expect(shop.broker.call("users.register", credentials)).rejects.toThrow(/injected/);

			const { user } = await shop.broker.call<{ user: { id: string } }, object>("users.register", credentials);
			await eventually(() =>
				Promise.resolve(seen.some(e => e.type === "user.registered" && e.data.userId === user.id)),
			);
		});

		it("payments.charge: the SUCCEEDED status is not kept without its event", async () => {
			const orderId = `order-${unique()}`;
			failNextOutboxWrite(shop.broker, "payments", "payment.succeeded");
			await expect(shop.broker.call("payments.charge", charge(orderId))).rejects.toThrow(/injected/);
			const payments = await shop.broker.call<{ orderId: string; status: string }[], object>("payments.audit", {});
			expect(payments.find(p => p.orderId === orderId)?.status).not.toBe("SUCCEEDED");
			// Nothing stays: earlier events' rows are deleted a moment after they were sent, this one was never stored.
			await eventually(async () => (await outboxOf(shop.broker, "payments").count({})) === 0);
		});
	});
}
