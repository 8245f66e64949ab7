import { expect } from "vitest";
import type { Shop } from "./shop";
import { client, eventually } from "./http";
import { auditShop, type InvariantReport } from "../../lib/audit";
import { balancedClients, summarise } from "./load";
import type { ApiError, Notification, Order, Page, Payment, Product } from "./api";

/**
 * The order flow every storage and event-bus combination must pass: register, create a product with stock, order,
 * see the notification, cancel, see the refund and the stock back, race many orders for little stock, audit.
 */
export async function orderFlowScenario(shop: Shop, label: string): Promise<void> {
	const api = client(shop.url);
	const admin = (await api.login("admin@example.com", "admin-password")).token;
	const customer = await api.register(`flow-${Date.now()}@example.com`, "customer-password", "Flow");
	const product = await api.post<Product>(
		"/api/products",
		{ name: "Flow product", price: 1250, category: "flow", sku: `FLOW-${Date.now()}` },
		{ token: admin },
	);
	expect(product.status).toBe(201);
	expect((await api.put(`/api/inventory/${product.body.id}`, { available: 5 }, { token: admin })).status).toBe(200);

	const placed = await api.post<Order>(
		"/api/orders",
		{ items: [{ productId: product.body.id, quantity: 2 }], paymentToken: "tok_visa" },
		{ token: customer.token },
	);
	expect(placed.status).toBe(201);
	expect(placed.body).toMatchObject({ status: "CONFIRMED", total: 2500 });
	await eventually(async () => {
		const notes = await api.get<Page<Notification>>("/api/notifications", { token: customer.token });
		return notes.body.rows.some(n => n.type === "order.confirmed" && n.data.orderId === placed.body.id);
	}, 15_000);

	expect(
		(await api.post<Order>(`/api/orders/${placed.body.id}/cancel`, undefined, { token: customer.token })).body.status,
	).toBe("CANCELLED");
	const payments = await api.get<Page<Payment>>(`/api/payments?orderId=${placed.body.id}`, { token: customer.token });
	// The charge given back whole, and that refund.
	expect(payments.body.rows).toMatchObject([
		{ kind: "CHARGE", status: "REFUNDED" },
		{ kind: "REFUND", status: "SUCCEEDED" },
	]);
	expect((await api.get(`/api/inventory/${product.body.id}`)).body).toMatchObject({ available: 5, reserved: 0 });

	const race = await Promise.all(
		Array.from({ length: 30 }, () =>
			api.post(
				"/api/orders",
				{ items: [{ productId: product.body.id, quantity: 1 }], paymentToken: "tok_visa" },
				{ token: customer.token },
			),
		),
	);
	const confirmed = race.filter(r => r.status === 201).length;
	console.log(
		`[${label}] race for 5 units: ${confirmed} confirmed, ${race.filter(r => r.status === 409).length} OUT_OF_STOCK`,
	);
	expect(confirmed).toBe(5);
	expect(race.filter(r => r.status === 409)).toHaveLength(25);

	const report = await auditShop(shop.broker);
	expect(report.violations).toEqual([]);
}

type Send = ReturnType<typeof balancedClients>;

/**
 * Guarantee 1: 1,000 concurrent order attempts for a product with 100 units sell exactly 100; the other 900 are
 * OUT_OF_STOCK, stock ends at 0 available and 0 reserved, and the invariants hold.
 */
export async function oversellScenario(
	send: Send,
	gateway: string,
	admin: string,
	customers: string[],
	audit: () => Promise<InvariantReport>,
	label: string,
): Promise<void> {
	const api = client(gateway);
	const sku = `OVERSELL-${Date.now()}`;
	const product = await api.post<Product>(
		"/api/products",
		{ name: sku, price: 250, category: "test", sku },
		{ token: admin },
	);
	expect(product.status).toBe(201);
	await eventually(
		async () =>
			(await api.put(`/api/inventory/${product.body.id}`, { available: 100 }, { token: admin })).status === 200,
		10_000,
	);

	const started = Date.now();
	const results = await Promise.all(
		Array.from({ length: 1000 }, (_, i) =>
			send(c =>
				c.post<Partial<ApiError>>(
					"/api/orders",
					{ items: [{ productId: product.body.id, quantity: 1 }], paymentToken: "tok_visa" },
					{ token: customers[i % customers.length] },
				),
			),
		),
	);
	const report = summarise(results.map(r => ({ status: r.status, type: r.body?.type, ms: r.ms })));
	console.log(`[no oversell, ${label}] ${JSON.stringify(report)} in ${Date.now() - started} ms`);
	expect(report.statuses).toEqual({ 201: 100, 409: 900 });
	expect(report.types).toEqual({ OUT_OF_STOCK: 900 });
	expect((await api.get(`/api/inventory/${product.body.id}`)).body).toMatchObject({ available: 0, reserved: 0 });
	const invariants = await eventually(
		async () => {
			const r = await audit();
			return r.ok ? r : null;
		},
		30_000,
		500,
	).catch(audit);
	console.log(`[no oversell, ${label}] invariants ${JSON.stringify(invariants.counts)}`);
	expect(invariants.violations).toEqual([]);
}
