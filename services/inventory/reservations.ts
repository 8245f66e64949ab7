/**
 * Reservation rules: one order line held by inventory, and the stock movement each step of its life applies.
 * RESERVED → COMMITTED (sold) or RELEASED (back to available); COMMITTED → RESTORED (a cancelled sale goes back).
 * Pure: the service applies each step as a guarded status flip plus the step's guarded stock movement.
 */
import type { Reservation, StockLine } from "./contract";
import { crossedLowThreshold, movements, type Movement } from "./stock";

export const RESERVATION_STATUSES = ["RESERVED", "COMMITTED", "RELEASED", "RESTORED"] as const;
export type ReservationStatus = (typeof RESERVATION_STATUSES)[number];

/** A step of a reservation: every reservation of the order in `from` moves to `to`, applying `movement` once. */
export interface Settlement {
	from: ReservationStatus;
	to: ReservationStatus;
	movement: (quantity: number) => Movement;
}

export const SETTLEMENTS = {
	/** The order is paid: reserved units become sold. */
	commit: { from: "RESERVED", to: "COMMITTED", movement: movements.commit },
	/** The order failed or is cancelled before payment: reserved units go back to available. */
	release: { from: "RESERVED", to: "RELEASED", movement: movements.release },
	/** A paid order is cancelled: sold units go back to available. */
	restore: { from: "COMMITTED", to: "RESTORED", movement: movements.restore },
} as const satisfies Record<string, Settlement>;

/** True when some settlement takes a reservation from `from` to `to`; every other change is illegal. */
export function canSettle(from: ReservationStatus, to: ReservationStatus): boolean {
	return Object.values(SETTLEMENTS).some(s => s.from === from && s.to === to);
}

/** One reservation per order and product: a second reserve of the same line finds it and holds nothing more. */
export function reservationId(orderId: string, productId: string): string {
	return `${orderId}:${productId}`;
}

/**
 * The order in which an order's lines are reserved: by product id, so concurrent SQL transactions lock stock rows in
 * one order and cannot deadlock. Merged lines are the caller's job (orders merges repeated products).
 */
export function reservationOrder<L extends StockLine>(items: readonly L[]): L[] {
	return [...items].sort((a, b) => a.productId.localeCompare(b.productId));
}

export interface ShortLine {
	productId: string;
	requested: number;
	available: number;
}

/** A line the stock could not cover, as OUT_OF_STOCK reports it; a product without counters has none available. */
export function shortLine(line: StockLine, available: number | undefined): ShortLine {
	return { productId: line.productId, requested: line.quantity, available: available ?? 0 };
}

/**
 * The lines whose reservation took their product's available stock below the threshold, given what is available
 * after all of them; a product missing from `availableAfter` counts as 0.
 */
export function lowStockAfterReserve(
	lines: readonly StockLine[],
	availableAfter: ReadonlyMap<string, number>,
	threshold: number,
): { productId: string; available: number }[] {
	return lines
		.map(line => ({ line, after: availableAfter.get(line.productId) ?? 0 }))
		.filter(({ line, after }) => crossedLowThreshold(after + line.quantity, after, threshold))
		.map(({ line, after }) => ({ productId: line.productId, available: after }));
}

/** A freshly held line of an order. */
export function newReservation(orderId: string, line: StockLine, now: string): Reservation {
	const { productId, quantity } = line;
	return { id: reservationId(orderId, productId), orderId, productId, quantity, status: "RESERVED", updatedAt: now };
}
