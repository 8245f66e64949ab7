import { Errors } from "moleculer";
import { currency, money, page, pageSize } from "../../lib/actor";
import { DISCOUNT_CODE } from "../orders/contract";
import type { DiscountType } from "../orders/totals";
import type { Promotion, PromotionInput } from "./contract";

/**
 * The params of the promotions admin actions, and the pure building of a promotion from what an admin sent: codes are
 * stored upper case, times as `toISOString()` (so they compare as strings), and the fields must make sense together
 * for the type (README "Money rules"). No broker, no store.
 */

export const DISCOUNT_TYPES: readonly DiscountType[] = ["PERCENTAGE", "FIXED", "FREE_SHIPPING"];

/** A date (`2026-12-01`, midnight UTC) or a date-time with a zone (`2026-12-01T09:30:00+01:00`, `...Z`). */
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
const USES = { type: "number", integer: true, min: 1, max: 1_000_000_000 } as const;

/** Absent leaves the field as it is (on update); null clears it. */
const nullable = <T extends object>(rule: T) => ({ ...rule, optional: true, nullable: true }) as const;

const promotionFields = {
	code: DISCOUNT_CODE,
	type: { type: "enum", values: DISCOUNT_TYPES },
	/** Bounds per type are checked with the other fields (`promotionErrors`). */
	value: nullable({ ...money, min: 1 }),
	currency: nullable(currency),
	minSubtotal: nullable(money),
	startsAt: nullable({ type: "string", max: 40, pattern: ISO_TIME }),
	endsAt: nullable({ type: "string", max: 40, pattern: ISO_TIME }),
	usageLimit: nullable(USES),
	perCustomerLimit: nullable(USES),
	active: { type: "boolean" },
} as const;
export const createFields = promotionFields;
export const updateFields = Object.fromEntries(
	Object.entries(promotionFields).map(([k, v]) => [k, { ...v, optional: true }]),
) as { [K in keyof typeof promotionFields]: (typeof promotionFields)[K] & { optional: true } };
export const listFields = {
	page,
	pageSize,
	// Query strings are text: "true"/"false" become booleans.
	active: { type: "boolean", convert: true, optional: true },
	code: { type: "string", min: 1, max: 64, trim: true, optional: true },
} as const;

/** One failing field, in fastest-validator's shape, so a 422 reads the same as a params failure. */
export interface FieldError {
	type: string;
	field: string;
	message: string;
}

/** 422 VALIDATION_ERROR with the failing fields, like a params failure. */
function invalid(errors: FieldError[]): Errors.ValidationError {
	return new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", errors);
}

/** Codes are compared case-insensitively: stored, looked up and reported upper case. */
export function normaliseCode(code: string): string {
	return code.trim().toUpperCase();
}

/** The instant an ISO date or date-time names, as `toISOString()`; null when it is no real calendar day or time. */
export function normaliseTime(text: string): string | null {
	const m = ISO_TIME.exec(text);
	const ms = Date.parse(text);
	if (!m || Number.isNaN(ms)) return null;
	// Date.parse rolls 31 February over into March: the day must exist in its month.
	const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
	const date = new Date(Date.UTC(year, month - 1, day));
	if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
	return new Date(ms).toISOString();
}

/** What is wrong with a promotion's fields taken together (empty when nothing is). */
export function promotionErrors(p: Omit<Promotion, "id" | "createdAt" | "updatedAt">): FieldError[] {
	const errors: FieldError[] = [];
	const fail = (field: string, type: string, message: string) => errors.push({ type, field, message });
	if (p.type === "PERCENTAGE" && (p.value === null || p.value < 1 || p.value > 100))
		fail("value", "percentage", "A PERCENTAGE code needs a 'value' from 1 to 100.");
	if (p.type === "FIXED" && p.value === null)
		fail("value", "required", "A FIXED code needs a 'value' in minor units of its currency.");
	if (p.type === "FIXED" && p.currency === null) fail("currency", "required", "A FIXED code needs a 'currency'.");
	if (p.type === "FREE_SHIPPING" && p.value !== null)
		fail("value", "forbidden", "A FREE_SHIPPING code takes no 'value'.");
	for (const field of ["startsAt", "endsAt"] as const)
		if (p[field] !== null && normaliseTime(p[field]) === null)
			fail(field, "date", `The '${field}' field must be an ISO date or date-time with a zone.`);
	const [starts, ends] = [p.startsAt && normaliseTime(p.startsAt), p.endsAt && normaliseTime(p.endsAt)];
	if (starts && ends && starts >= ends) fail("endsAt", "dateMin", "The 'endsAt' field must be after 'startsAt'.");
	return errors;
}

type Fields = Omit<Promotion, "id" | "createdAt" | "updatedAt">;

/** The fields as stored: code upper case, times normalised; 422 VALIDATION_ERROR when they do not fit together. */
function checked(fields: Fields): Fields {
	const errors = promotionErrors(fields);
	if (errors.length) throw invalid(errors);
	const time = (t: string | null) => (t === null ? null : normaliseTime(t));
	return { ...fields, code: normaliseCode(fields.code), startsAt: time(fields.startsAt), endsAt: time(fields.endsAt) };
}

/** A new promotion from `promotions.create`'s params; every optional field absent is null. */
export function buildPromotion(input: PromotionInput, id: string, now: string): Promotion {
	const fields = checked({
		code: input.code ?? "",
		type: input.type ?? "PERCENTAGE",
		value: input.value ?? null,
		currency: input.currency ?? null,
		minSubtotal: input.minSubtotal ?? null,
		startsAt: input.startsAt ?? null,
		endsAt: input.endsAt ?? null,
		usageLimit: input.usageLimit ?? null,
		perCustomerLimit: input.perCustomerLimit ?? null,
		active: input.active ?? true,
	});
	return { id, ...fields, createdAt: now, updatedAt: now };
}

/**
 * A promotion after an admin's change: absent fields stay, null clears. The whole result is checked, so changing the
 * type may need other fields in the same request (FREE_SHIPPING: `value: null`). `updatedAt` always moves on, so it
 * serves as the version a concurrent change is detected by.
 */
export function changedPromotion(before: Promotion, changes: PromotionInput, now: string): Promotion {
	const given: Partial<Promotion> = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
	const { id, createdAt, updatedAt, ...kept } = before;
	const { id: _id, createdAt: _createdAt, updatedAt: _updatedAt, ...changed } = given;
	const later = now > updatedAt ? now : new Date(Date.parse(updatedAt) + 1).toISOString();
	return { id, ...checked({ ...kept, ...changed }), createdAt, updatedAt: later };
}
