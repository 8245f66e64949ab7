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

/** The settlement that ends in `to`: each status but RESERVED is reached by exactly one. */
export function settlementTo(to: ReservationStatus): Settlement | undefined {
	return Object.values(SETTLEMENTS).find(s => s.to === to);
}

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

/**
 * Where there are no transactions (memory://, MongoDB) each stock move of a reservation is named by a marker: the stock
 * record lists the markers of its moves in flight, the reservation the markers its statuses rely on. The token makes
 * every attempt distinct, so a duplicate attempt is told apart from the one the reservation recorded.
 */
export interface MoveMarker {
	reservationId: string;
	to: ReservationStatus;
	token: string;
}

export function moveMarker({ reservationId, to, token }: MoveMarker): string {
	return `${reservationId}>${to}#${token}`;
}

/** Parsed from the right (status and token hold no `>` or `#`), so any reservation id reads back whole. */
export function parseMarker(marker: string): MoveMarker | undefined {
	const hash = marker.lastIndexOf("#");
	const arrow = marker.lastIndexOf(">", hash);
	if (hash < 0 || arrow < 0) return undefined;
	const to = marker.slice(arrow + 1, hash) as ReservationStatus;
	if (!RESERVATION_STATUSES.includes(to)) return undefined;
	return { reservationId: marker.slice(0, arrow), to, token: marker.slice(hash + 1) };
}

/** The moves of one reservation among a stock record's moves in flight. */
export function movesInFlight(reservationId: string, moves: readonly string[] | undefined): MoveMarker[] {
	return (moves ?? []).map(parseMarker).filter((m): m is MoveMarker => m?.reservationId === reservationId);
}

/** A line of an order its reservations do not cover, as STOCK_NOT_RESERVED reports it. */
export interface UncoveredLine {
	productId: string;
	quantity: number;
	/** What the order's reservations hold of the product in the accepted statuses. */
	held: number;
}

/**
 * The order's lines that its reservations do not hold exactly, counting only reservations in `statuses`; repeated
 * products count together.
 */
export function uncoveredLines(
	lines: readonly StockLine[],
	reservations: readonly Pick<Reservation, "productId" | "quantity" | "status">[],
	statuses: readonly ReservationStatus[],
): UncoveredLine[] {
	const wanted = new Map<string, number>();
	for (const { productId, quantity } of lines) wanted.set(productId, (wanted.get(productId) ?? 0) + quantity);
	const held = new Map<string, number>();
	for (const r of reservations)
		if (statuses.includes(r.status)) held.set(r.productId, (held.get(r.productId) ?? 0) + r.quantity);
	return [...wanted]
		.map(([productId, quantity]) => ({ productId, quantity, held: held.get(productId) ?? 0 }))
		.filter(line => line.held !== line.quantity);
}
