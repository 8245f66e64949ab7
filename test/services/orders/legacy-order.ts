// Orders as the release before the money rules stored them, for the tests of the migration that upgrades them.
import type { LegacyOrder } from "../../../services/orders/migrations";

/** When the orders below were last changed. */
export const AT = "2026-01-02T03:04:05.000Z";

/** An order as the release before the money rules stored it. */
export function legacyOrder(id: string, status: LegacyOrder["status"] = "CONFIRMED"): LegacyOrder {
	return {
		id,
		userId: "u-1",
		status,
		items: [
			{
				...{ productId: "p-1", variantId: "p-1", sku: "MUG", name: "Mug", options: {} },
				...{ unitPrice: 1200, quantity: 2, lineTotal: 2400 },
			},
			{
				...{ productId: "p-2", variantId: "p-2", sku: "TEA", name: "Tea", options: {} },
				...{ unitPrice: 650, quantity: 1, lineTotal: 650 },
			},
		],
		currency: "EUR",
		total: 3050,
		paymentToken: "tok_visa",
		shippingAddress: null,
		failure: null,
		failureReason: null,
		idempotencyKey: null,
		requestHash: "h",
		settled: true,
		leaseOwner: "n1",
		leaseToken: "t1",
		leaseUntil: AT,
		createdAt: "2026-01-01T00:00:00.000Z",
		updatedAt: AT,
	};
}
