import { NotFoundError, UnprocessableError } from "../../lib/errors";
import { quantity as quantityRule } from "../../lib/actor";
import type { CartLine } from "./contract";

export const MAX_LINES = 50;
export const MAX_QUANTITY = quantityRule.max;

function tooLarge(variantId: string): UnprocessableError {
	return new UnprocessableError(`At most ${MAX_QUANTITY} units of one variant per cart`, "QUANTITY_TOO_LARGE", {
		variantId,
	});
}

function assertLineCount(lines: CartLine[]): CartLine[] {
	if (lines.length > MAX_LINES)
		throw new UnprocessableError(`A cart holds at most ${MAX_LINES} lines`, "TOO_MANY_LINES", { max: MAX_LINES });
	return lines;
}

/** Adds a line, or raises the quantity of the line of the same variant (at most MAX_QUANTITY in all). */
export function addLine(lines: CartLine[], variantId: string, quantity: number, newLineId: string): CartLine[] {
	const existing = lines.find(l => l.variantId === variantId);
	if (!existing) return assertLineCount([...lines, { id: newLineId, variantId, quantity }]);
	if (existing.quantity + quantity > MAX_QUANTITY) throw tooLarge(variantId);
	return lines.map(l => (l === existing ? { ...l, quantity: l.quantity + quantity } : l));
}

function findLine(lines: CartLine[], lineId: string): CartLine {
	const line = lines.find(l => l.id === lineId);
	if (!line) throw new NotFoundError("Cart line", { lineId });
	return line;
}

/** Sets a line's quantity; 0 removes the line. */
export function setQuantity(lines: CartLine[], lineId: string, quantity: number): CartLine[] {
	const line = findLine(lines, lineId);
	if (quantity > MAX_QUANTITY) throw tooLarge(line.variantId);
	if (quantity === 0) return lines.filter(l => l !== line);
	return lines.map(l => (l === line ? { ...l, quantity } : l));
}

export function removeLine(lines: CartLine[], lineId: string): CartLine[] {
	const line = findLine(lines, lineId);
	return lines.filter(l => l !== line);
}

/**
 * A guest cart's lines merged into a customer's: quantities of the same variant are added, capped at MAX_QUANTITY;
 * other lines are appended (with new ids). More than MAX_LINES lines in all is refused, so no line is dropped.
 */
export function mergeLines(target: CartLine[], source: CartLine[], newLineId: () => string): CartLine[] {
	let merged = target;
	for (const line of source) {
		const existing = merged.find(l => l.variantId === line.variantId);
		merged = existing
			? merged.map(l => (l === existing ? { ...l, quantity: Math.min(MAX_QUANTITY, l.quantity + line.quantity) } : l))
			: [...merged, { id: newLineId(), variantId: line.variantId, quantity: Math.min(MAX_QUANTITY, line.quantity) }];
	}
	return assertLineCount(merged);
}
