/**
 * Return rules: the units of a return go back on the shelf once per return and variant, recorded as a returned-stock
 * record whose id names both. Pure: returned-stock.ts applies them.
 */
import type { ReturnedStock, StockLine } from "./contract";

/** One record per return and variant: a repeated return finds it and moves nothing. */
export function returnedStockId(returnId: string, productId: string): string {
	return `${returnId}:${productId}`;
}

/**
 * A return's lines, one per variant (repeated variants add up, or the second would pass for a repeat of the first),
 * by variant id so that concurrent SQL transactions lock stock rows in one order.
 */
export function returnLines(items: readonly StockLine[]): StockLine[] {
	const merged = new Map<string, number>();
	for (const { productId, quantity } of items) merged.set(productId, (merged.get(productId) ?? 0) + quantity);
	return [...merged]
		.map(([productId, quantity]) => ({ productId, quantity }))
		.sort((a, b) => a.productId.localeCompare(b.productId));
}

export function newReturnedStock(returnId: string, line: StockLine, now: string): ReturnedStock {
	const { productId, quantity } = line;
	return { id: returnedStockId(returnId, productId), returnId, productId, quantity, updatedAt: now };
}

/**
 * Off SQL, a return's restock in flight is named on the stock record by a marker: the record's id, the units and a
 * token that tells attempts apart. Its `>RETURNED` is no reservation status, so reservations' markers
 * (reservations.ts `parseMarker`) never read it as theirs.
 */
export interface ReturnMarker {
	returnedId: string;
	quantity: number;
	token: string;
}

export function returnMarker({ returnedId, quantity, token }: ReturnMarker): string {
	return `${returnedId}>RETURNED*${quantity}#${token}`;
}

/** Parsed from the right (quantity and token hold no `>`, `*` or `#`), so any record id reads back whole. */
export function parseReturnMarker(marker: string): ReturnMarker | undefined {
	const hash = marker.lastIndexOf("#");
	const star = marker.lastIndexOf("*", hash);
	const arrow = marker.lastIndexOf(">", star);
	if (hash < 0 || star < 0 || arrow < 0 || marker.slice(arrow + 1, star) !== "RETURNED") return undefined;
	const quantity = Number(marker.slice(star + 1, hash));
	if (!Number.isSafeInteger(quantity) || quantity <= 0) return undefined;
	return { returnedId: marker.slice(0, arrow), quantity, token: marker.slice(hash + 1) };
}

/** The restocks of one returned-stock record among a stock record's moves in flight. */
export function returnsInFlight(returnedId: string, moves: readonly string[] | undefined): ReturnMarker[] {
	return (moves ?? []).map(parseReturnMarker).filter((m): m is ReturnMarker => m?.returnedId === returnedId);
}
