/**
 * Stock arithmetic. A product's stock is four counters with one invariant:
 * available + reserved + sold == received, none negative. Every movement is a delta plus the guard the store
 * checks in the same atomic statement, so two concurrent movements can never both spend the same unit.
 * Stores without transactions also count `pending`: units between two counters while a settlement is in flight
 * (see `stages`); it is 0 at rest and counts with the others: available + reserved + sold + pending == received.
 */
export interface StockCounters {
	available: number;
	reserved: number;
	sold: number;
	received: number;
}
/** Counters with the in-flight units of the document stores (absent on SQL and on records that never had any). */
export type StagedCounters = StockCounters & { pending?: number };
export type Counter = keyof StockCounters | "pending";
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

export function apply<C extends StagedCounters>(counters: C, movement: Movement): C {
	if (movement.guard && (counters[movement.guard.counter] ?? 0) < movement.guard.min)
		throw new RangeError(`Not enough ${movement.guard.counter}`);
	const next = { ...counters };
	for (const [k, v] of Object.entries(movement.inc) as [Counter, number][]) next[k] = (next[k] ?? 0) + v;
	return next;
}

export function isBalanced(c: StagedCounters): boolean {
	const pending = c.pending ?? 0;
	return (
		c.available >= 0 &&
		c.reserved >= 0 &&
		c.sold >= 0 &&
		pending >= 0 &&
		c.available + c.reserved + c.sold + pending === c.received
	);
}

/**
 * A settlement's movement in two atomic steps, for stores without transactions. `take` puts the units aside (the
 * movement's source counter to `pending`, guarded); once the reservation's status records the move, `give` hands them
 * to the target counter, and if another move settled the reservation, `giveBack` returns them to the source. Nothing
 * reaches its target (`available` included) before the status flip that accounts for it, so a duplicate run of a
 * settlement can never make units sellable twice.
 */
export interface Stages {
	take: Movement;
	give: Movement;
	giveBack: Movement;
}

export function stages(movement: Movement): Stages {
	const entries = Object.entries(movement.inc) as [Counter, number][];
	const from = entries.find(([, v]) => v < 0);
	const to = entries.find(([, v]) => v > 0);
	if (entries.length !== 2 || !from || !to || from[1] !== -to[1])
		throw new RangeError("A staged movement takes units from one counter and gives them to another");
	const q = to[1];
	return {
		take: { inc: { [from[0]]: -q, pending: q }, guard: { counter: from[0], min: q } },
		give: { inc: { pending: -q, [to[0]]: q }, guard: { counter: "pending", min: q } },
		giveBack: { inc: { pending: -q, [from[0]]: q }, guard: { counter: "pending", min: q } },
	};
}

/**
 * A restock in two atomic steps (a return put back on the shelf, off SQL): `take` counts the units as received but
 * keeps them aside (`pending`), `give` makes them available once the return's record accounts for them, and
 * `giveBack` takes them out again when another attempt recorded the return. The invariant holds at every step.
 */
export function restockStages(q: number): Stages {
	positive(q);
	const fromPending = { counter: "pending", min: q } as const;
	return {
		take: { inc: { received: q, pending: q } },
		give: { inc: { pending: -q, available: q }, guard: fromPending },
		giveBack: { inc: { pending: -q, received: -q }, guard: fromPending },
	};
}

/** True when a movement took available stock from at or above the threshold to below it. */
export function crossedLowThreshold(before: number, after: number, threshold: number): boolean {
	return before >= threshold && after < threshold;
}
