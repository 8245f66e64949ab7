import { expect } from "vitest";
import type { Shop } from "./shop";
import { client, eventually } from "./http";
import { auditShop } from "../../lib/invariants";

/**
 * The order flow every storage and event-bus combination must pass: register, create a product with stock, order,
 * see the notification, cancel, see the refund and the stock back, race many orders for little stock, audit.
 */
export async function orderFlowScenario(shop: Shop, label: string): Promise<void> {
	const api = client(shop.url);
	const admin = (await api.login("admin@example.com", "admin-password")).token;
	const customer = await api.register(`flow-${Date.now()}@example.com`, "customer-password", "Flow");
	const product = await api.post("/api/products", { name: "Flow product", price: 1250, category: "flow", sku: `FLOW-${Date.now()}` }, { token: admin });
	expect(product.status).toBe(201);
	expect((await api.put(`/api/inventory/${product.body.id}`, { available: 5 }, { token: admin })).status).toBe(200);

	const placed = await api.post("/api/orders", { items: [{ productId: product.body.id, quantity: 2 }], paymentToken: "tok_visa" }, { token: customer.token });
	expect(placed.status).toBe(201);
	expect(placed.body).toMatchObject({ status: "CONFIRMED", total: 2500 });
	await eventually(async () => {
		const notes = await api.get("/api/notifications", { token: customer.token });
		return notes.body.rows.some((n: { type: string; data: { orderId: string } }) => n.type === "order.confirmed" && n.data.orderId === placed.body.id);
	}, 15_000);

	expect((await api.post(`/api/orders/${placed.body.id}/cancel`, undefined, { token: customer.token })).body.status).toBe("CANCELLED");
	expect((await api.get(`/api/payments?orderId=${placed.body.id}`, { token: customer.token })).body.rows).toMatchObject([{ status: "REFUNDED" }]);
	expect((await api.get(`/api/inventory/${product.body.id}`)).body).toMatchObject({ available: 5, reserved: 0 });

	const race = await Promise.all(Array.from({ length: 30 }, () => api.post("/api/orders", { items: [{ productId: product.body.id, quantity: 1 }], paymentToken: "tok_visa" }, { token: customer.token })));
	const confirmed = race.filter(r => r.status === 201).length;
	console.log(`[${label}] race for 5 units: ${confirmed} confirmed, ${race.filter(r => r.status === 409).length} OUT_OF_STOCK`);
	expect(confirmed).toBe(5);
	expect(race.filter(r => r.status === 409)).toHaveLength(25);

	const report = await auditShop(shop.broker);
	expect(report.violations).toEqual([]);
}
