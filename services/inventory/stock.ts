/**
 * Stock arithmetic. A product's stock is four counters with one invariant:
 * available + reserved + sold == received, none negative. Every movement is a delta plus the guard the store
 * checks in the same atomic statement, so two concurrent movements can never both spend the same unit.
 */
export interface StockCounters {
	available: number;
	reserved: number;
	sold: number;
	received: number;
}
export type Counter = keyof StockCounters;
export interface Movement {
	inc: Partial<Record<Counter, number>>;
	/** The counter that must hold at least `min` before the movement applies. */
	guard?: { counter: Counter; min: number };
}

function positive(n: number): number {
	if (!Number.isSafeInteger(n) || n <= 0) throw new RangeError(`A stock movement needs a positive integer, got ${n}`);
	return n;
}

export const movements = {
	reserve: (q: number): Movement => ({
		inc: { available: -positive(q), reserved: q },
		guard: { counter: "available", min: q },
	}),
	release: (q: number): Movement => ({
		inc: { available: positive(q), reserved: -q },
		guard: { counter: "reserved", min: q },
	}),
	commit: (q: number): Movement => ({
		inc: { reserved: -positive(q), sold: q },
		guard: { counter: "reserved", min: q },
	}),
	/** A cancelled sale puts its units back on the shelf. */
	restore: (q: number): Movement => ({ inc: { sold: -positive(q), available: q }, guard: { counter: "sold", min: q } }),
	restock: (q: number): Movement => ({ inc: { available: positive(q), received: q } }),
};

/** The store condition under which a movement applies: its guard, checked in the same atomic statement. */
export function guardCondition(movement: Movement): Partial<Record<Counter, { $gte: number }>> {
	return movement.guard ? { [movement.guard.counter]: { $gte: movement.guard.min } } : {};
}

export function apply(counters: StockCounters, movement: Movement): StockCounters {
	if (movement.guard && counters[movement.guard.counter] < movement.guard.min)
		throw new RangeError(`Not enough ${movement.guard.counter}`);
	const next = { ...counters };
	for (const [k, v] of Object.entries(movement.inc)) next[k as Counter] += v;
	return next;
}

export function isBalanced(c: StockCounters): boolean {
	return c.available >= 0 && c.reserved >= 0 && c.sold >= 0 && c.available + c.reserved + c.sold === c.received;
}

/** True when a movement took available stock from at or above the threshold to below it. */
export function crossedLowThreshold(before: number, after: number, threshold: number): boolean {
	return before >= threshold && after < threshold;
}
