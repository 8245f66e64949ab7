import { ConflictError } from "../../lib/errors";

export const ORDER_STATUSES = [
	"PENDING",
	"CONFIRMED",
	"FAILED",
	"CANCELLED",
	"SHIPPED",
	"DELIVERED",
	"PARTIALLY_RETURNED",
	"RETURNED",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

const TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
	PENDING: ["CONFIRMED", "FAILED"],
	CONFIRMED: ["CANCELLED", "SHIPPED"],
	SHIPPED: ["DELIVERED", "PARTIALLY_RETURNED", "RETURNED"],
	DELIVERED: ["PARTIALLY_RETURNED", "RETURNED"],
	// Each received return moves the order on; the one that leaves nothing unreturned makes it RETURNED.
	PARTIALLY_RETURNED: ["PARTIALLY_RETURNED", "RETURNED"],
	FAILED: [],
	CANCELLED: [],
	RETURNED: [],
};

/** Statuses an admin may set by hand; the rest belong to the saga and to cancellation. */
export const ADMIN_STATUSES = ["SHIPPED", "DELIVERED"] as const;

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
	return TRANSITIONS[from].includes(to);
}

export function assertTransition(from: OrderStatus, to: OrderStatus): void {
	if (!canTransition(from, to)) {
		throw new ConflictError(`An order cannot go from ${from} to ${to}`, "INVALID_TRANSITION", { from, to });
	}
}

export function isFinal(status: OrderStatus): boolean {
	return TRANSITIONS[status].length === 0;
}
