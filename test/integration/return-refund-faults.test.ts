import type { ActionHandler, ActionSchema, Context, Middleware } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditShop } from "../../lib/audit";
import { PaymentUnavailableError } from "../../lib/errors";
import type { ReturnView } from "../../services/orders/contract";
import type { Page, Product } from "../support/api";
import { createTestDatabase } from "../support/databases";
import { client, eventually, type Client } from "../support/http";
import { describeWithServers } from "../support/servers";
import { startShop, type Shop } from "../support/shop";

/** Short leases, so the recovery pass retries a pending refund within seconds (steps stay under half the lease). */
const TIMINGS = {
	ORDER_LEASE_SECONDS: "3",
	ORDER_STEP_TIMEOUT_MS: "300",
	ORDER_STEP_RETRIES: "2",
	ORDER_CLOCK_SKEW_MS: "500",
};

/** Fails the named actions, inside the callee, while `down` holds them. */
class Outage {
	readonly down = new Set<string>();
	readonly calls = new Map<string, number>();
	readonly middleware: Middleware = {
		localAction: (next: ActionHandler, action: ActionSchema) => (ctx: Context) => {
			const name = action.name ?? "";
			this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
			if (this.down.has(name)) return Promise.reject(new PaymentUnavailableError());
			return next(ctx) as Promise<unknown>;
		},
	};
}

/**
 * A return's refund is a saga step (issue 13): with payments (or inventory) failing, a received return stays RECEIVED
 * with its refund pending, and the orders node's recovery pass finishes it once the actor is back, refunding once.
 */
function suite(kind: "memory" | "mariadb") {
	return () => {
		let shop: Shop;
		let api: Client;
		let admin: string;
		let ann: string;
		let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
		const outage = new Outage();

		beforeAll(async () => {
			db = kind === "memory" ? undefined : await createTestDatabase(kind);
			shop = await startShop({
				env: { ...TIMINGS, ...(db ? { DB_URI: db.uri } : {}) },
				middlewares: [outage.middleware],
			});
			api = client(shop.url);
			admin = (await api.login("admin@example.com", "admin-password")).token;
			ann = (await api.register(`refund-faults-${kind}@example.com`, "ann-password", "Ann")).token;
		}, 60_000);

		afterAll(async () => {
			await shop?.stop();
			await db?.drop();
		});

		async function shippedOrder(sku: string): Promise<{ orderId: string; variantId: string }> {
			const product = await api.post<Product>(
				"/api/products",
				{ name: sku, price: 1000, category: "faults", sku },
				{ token: admin },
			);
			await eventually(
				async () =>
					(await api.put(`/api/inventory/${product.body.id}`, { available: 10 }, { token: admin })).status === 200,
			);
			const order = await api.post<{ id: string }>(
				"/api/orders",
				{ items: [{ variantId: product.body.id, quantity: 2 }], paymentToken: "tok_visa" },
				{ token: ann },
			);
			expect(order.status).toBe(201);
			await api.patch(`/api/orders/${order.body.id}/status`, { status: "SHIPPED" }, { token: admin });
			return { orderId: order.body.id, variantId: product.body.id };
		}

		for (const failing of ["payments.refundPart", "inventory.returnStock"])
			it(`keeps the refund pending while ${failing} fails, and finishes it once, when it is back`, async () => {
				const { orderId, variantId } = await shippedOrder(`FAULT-${kind}-${failing}`.toUpperCase());
				const requested = await api.post<ReturnView>(
					`/api/orders/${orderId}/returns`,
					{ items: [{ variantId, quantity: 1 }] },
					{ token: ann },
				);
				expect(requested.status).toBe(201);
				outage.down.add(failing);
				const received = await api.post<ReturnView>(`/api/returns/${requested.body.id}/receive`, {}, { token: admin });
				expect(received.status).toBe(200);
				expect(received.body).toMatchObject({ status: "RECEIVED", refundStatus: "PENDING", refundAmount: 1000 });
				const payments = async () =>
					(
						await api.get<Page<{ kind: string; status: string; amount: number }>>(`/api/payments?orderId=${orderId}`, {
							token: ann,
						})
					).body.rows;
				// While it fails, nothing was given back, and retries keep trying.
				const tries = outage.calls.get(failing) ?? 0;
				await eventually(() => Promise.resolve((outage.calls.get(failing) ?? 0) > tries), 15_000);
				expect((await payments()).filter(p => p.kind === "REFUND" && p.status === "SUCCEEDED")).toEqual([]);

				outage.down.delete(failing);
				await eventually(async () => {
					const rows = (await api.get<Page<ReturnView>>(`/api/orders/${orderId}/returns`, { token: ann })).body.rows;
					return rows[0]?.refundStatus === "DONE";
				}, 20_000);
				expect(await payments()).toMatchObject([
					{ kind: "CHARGE", status: "PARTIALLY_REFUNDED", amount: 2000 },
					{ kind: "REFUND", status: "SUCCEEDED", amount: 1000 },
				]);
				const report = await auditShop(shop.broker);
				expect(report.violations).toEqual([]);
			}, 60_000);
	};
}

describe("a return's refund with payments or inventory failing (SQLite)", suite("memory"));
await describeWithServers(
	["mariadb"],
	"a return's refund with payments or inventory failing (MariaDB)",
	suite("mariadb"),
);
