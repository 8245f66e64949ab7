/**
 * fastest-validator building blocks shared by every action, so the same field means the same rule everywhere.
 * `$$strict: "remove"` drops unknown fields before the handler sees them.
 */
export function params<T extends Record<string, unknown>>(schema: T) {
	return { $$strict: "remove", ...schema } as const;
}

export const id = { type: "string", min: 1, max: 64, trim: true } as const;
/**
 * Numbers are JSON numbers: no `convert`, which would turn "", [], false or "0x10" into 0 or 16. Query strings are
 * text; the gateway turns their plain decimal integers into numbers where an action declares a number param.
 */
export const quantity = { type: "number", integer: true, min: 1, max: 1000 } as const;
/**
 * A stock level or a restock. Counters add these up in 64-bit columns read back as Numbers, exact to
 * Number.MAX_SAFE_INTEGER (about 9.007e15): at 1e9 per call that is over nine million maximal restocks of one product.
 */
export const stockLevel = { type: "number", integer: true, min: 0, max: 1_000_000_000 } as const;
export const money = { type: "number", integer: true, min: 0, max: 100_000_000 } as const;
/** Patterns are strings, not RegExps: they reach other nodes' registries (and the OpenAPI document) as JSON. */
export const currency = { type: "string", pattern: "^[A-Z]{3}$", optional: true } as const;
export const page = { type: "number", integer: true, min: 1, max: 1_000_000, optional: true } as const;
export const pageSize = { type: "number", integer: true, min: 1, max: 100, optional: true } as const;
/**
 * Paging of the internal audit actions (default: everything); one page must fit in a transporter message
 * (NATS: 1 MB).
 */
export const auditPage = {
	offset: { type: "number", integer: true, min: 0, optional: true },
	limit: { type: "number", integer: true, min: 1, optional: true },
} as const;

/** C0 and C1 control characters (Unicode category Cc), NUL and ESC included. */
const CONTROL_CHARS = /\p{Cc}/u;
type ValidationIssue = { type: string; field: string; message: string };

/** fastest-validator `custom` check (Moleculer's legacy signature): text fields carry no control characters. */
function refuseControlChars(value: unknown, _schema: unknown, path: string): true | ValidationIssue[] {
	if (typeof value !== "string" || !CONTROL_CHARS.test(value)) return true;
	return [{ type: "controlChars", field: path, message: `The '${path}' field must not contain control characters.` }];
}

/**
 * A text rule that also refuses control characters (NUL in an email, ESC sequences in a name). `custom`, a function,
 * does not reach other nodes' registries; `plainText` does, for the OpenAPI document a gateway builds there.
 */
export function plainText<T extends object>(rule: T): T & { custom: typeof refuseControlChars; plainText: true } {
	return { ...rule, custom: refuseControlChars, plainText: true };
}

/**
 * The country of a shipping address (a name or a code; shipping matches it case-insensitively). One rule for carts,
 * orders and shipping: an address a cart or an order accepts is one shipping can price, so a blank country is a 422
 * before anything is stored.
 */
export const country = plainText({ type: "string", min: 1, max: 56, trim: true } as const);

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
