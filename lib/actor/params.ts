/**
 * fastest-validator building blocks shared by every action, so the same field means the same rule everywhere.
 * `$$strict: "remove"` drops unknown fields before the handler sees them.
 */
export function params<T extends Record<string, unknown>>(schema: T) {
	return { $$strict: "remove", ...schema } as const;
}

export const id = { type: "string", min: 1, max: 64, trim: true } as const;
export const quantity = { type: "number", integer: true, min: 1, max: 1000, convert: true } as const;
export const stockLevel = { type: "number", integer: true, min: 0, max: 1_000_000_000, convert: true } as const;
export const money = { type: "number", integer: true, min: 0, max: 100_000_000 } as const;
export const currency = { type: "string", pattern: /^[A-Z]{3}$/, optional: true } as const;
export const page = { type: "number", integer: true, min: 1, max: 1_000_000, convert: true, optional: true } as const;
export const pageSize = { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true } as const;
/**
 * Paging of the internal audit actions (default: everything); one page must fit in a transporter message
 * (NATS: 1 MB).
 */
export const auditPage = {
	offset: { type: "number", integer: true, min: 0, convert: true, optional: true },
	limit: { type: "number", integer: true, min: 1, convert: true, optional: true },
} as const;

export interface Page<T> {
	rows: T[];
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

export function pageOf<T>(rows: T[], total: number, pageNo: number, size: number): Page<T> {
	return { rows, total, page: pageNo, pageSize: size, totalPages: Math.ceil(total / size) };
}
