import { money, currency, page, pageSize } from "../../lib/actor";
import { NotFoundError, UnprocessableError } from "../../lib/errors";
import type { ProductOption, ProductRecord, Variant, VariantInput } from "./contract";
import { LIMITS, invalid, optionErrors, variantErrors, variantTitle, type FieldError } from "./variants";

/** The params of the products actions, and the pure building of records and variants from what an admin sent. */

const sku = { type: "string", min: 1, max: 64, trim: true, pattern: "^[A-Za-z0-9._-]+$" } as const;
const label = { type: "string", min: 1, max: 50, trim: true } as const;
export const variantFields = {
	sku,
	title: { type: "string", min: 1, max: 200, trim: true, optional: true },
	options: { type: "record", key: label, value: label, optional: true },
	price: money,
	currency,
} as const;
export const productFields = {
	name: { type: "string", min: 1, max: 200, trim: true },
	description: { type: "string", max: 5000, optional: true },
	category: { type: "string", min: 1, max: 50, trim: true, lowercase: true },
	price: { ...money, optional: true },
	currency,
	sku: { ...sku, optional: true },
	options: {
		type: "array",
		optional: true,
		max: LIMITS.options,
		items: {
			type: "object",
			strict: "remove",
			props: { name: label, values: { type: "array", min: 1, max: LIMITS.values, items: label } },
		},
	},
	variants: {
		type: "array",
		optional: true,
		min: 1,
		max: LIMITS.variants,
		items: { type: "object", strict: "remove", props: variantFields },
	},
} as const;
const { variants: _variants, ...updatable } = productFields;
export const updateFields = updatable;

export const optional = <T extends Record<string, object>>(schema: T) =>
	Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, { ...v, optional: true }])) as {
		[K in keyof T]: T[K] & { optional: true };
	};

export const SORTS: Record<string, string[]> = {
	name: ["name", "id"],
	price: ["price", "id"],
	"-price": ["-price", "id"],
	"-createdAt": ["-createdAt", "id"],
};
export const SEARCH_FIELDS: (keyof ProductRecord)[] = ["name", "description"];
export const listFields = {
	page,
	pageSize,
	search: { type: "string", max: 100, trim: true, optional: true },
	category: { type: "string", max: 50, trim: true, lowercase: true, optional: true },
	sort: { type: "enum", values: Object.keys(SORTS), optional: true },
	minPrice: { ...money, convert: true, optional: true },
	maxPrice: { ...money, convert: true, optional: true },
} as const;
export interface ListParams {
	page?: number;
	pageSize?: number;
	search?: string;
	category?: string;
	sort?: string;
	minPrice?: number;
	maxPrice?: number;
}

/** What `products.create` and `products.update` receive: today's single-variant fields, or options and variants. */
export interface ProductParams {
	name: string;
	description?: string;
	category: string;
	price?: number;
	currency?: string;
	sku?: string;
	options?: ProductOption[];
	variants?: VariantInput[];
}
export type VariantParams = Omit<VariantInput, "options"> & { options?: Record<string, string> };

function required(fields: string[]): FieldError[] {
	return fields.map(field => ({ type: "required", field, message: `The '${field}' field is required.` }));
}

/** A new product's record and variants. A product with one variant gives it the product's id. */
export function buildProduct(input: ProductParams, productId: string, now: string, newId: () => string) {
	const { name, description = "", category } = input;
	const single = !input.variants;
	const options = input.options ?? [];
	const inputs: VariantInput[] = input.variants ?? [
		{ sku: input.sku ?? "", price: input.price ?? -1, currency: input.currency, options: {} },
	];
	const errors = single
		? required(["price", "sku"].filter(f => input[f as "price" | "sku"] === undefined))
		: optionErrors(options);
	if (single && options.length) errors.push(...required(["variants"]));
	const withCurrency = inputs.map(v => ({ ...v, currency: v.currency ?? "USD", options: v.options ?? {} }));
	errors.push(...variantErrors(options, withCurrency));
	if (errors.length) throw invalid(errors);
	const variants: Variant[] = withCurrency.map((v, position) => ({
		id: inputs.length === 1 ? productId : newId(),
		productId,
		sku: v.sku,
		title: v.title ?? variantTitle(options, v.options, name),
		options: v.options,
		price: v.price,
		currency: v.currency,
		position,
		createdAt: now,
		updatedAt: now,
	}));
	const record: ProductRecord = {
		id: productId,
		name,
		description,
		category,
		options,
		price: Math.min(...variants.map(v => v.price)),
		currency: variants[0].currency,
		createdAt: now,
		updatedAt: now,
	};
	return { record, variants };
}

/** A variant added to a product, checked with the product's other variants. */
export function addedVariant(
	record: ProductRecord,
	variants: Variant[],
	input: VariantParams,
	id: string,
	now: string,
) {
	const options = input.options ?? {};
	const variant: Variant = {
		id,
		productId: record.id,
		sku: input.sku,
		title: input.title ?? variantTitle(record.options, options, record.name),
		options,
		price: input.price,
		currency: input.currency ?? variants[0]?.currency ?? "USD",
		position: Math.max(-1, ...variants.map(v => v.position)) + 1,
		createdAt: now,
		updatedAt: now,
	};
	check(record.options, [...variants, variant]);
	return variant;
}

/** A variant after an admin's change, checked with the product's other variants. */
export function changedVariant(
	record: ProductRecord,
	variants: Variant[],
	variantId: string,
	changes: Partial<VariantParams>,
	now: string,
): Variant {
	const before = variants.find(v => v.id === variantId);
	if (!before) throw new NotFoundError("Variant", { id: variantId, productId: record.id });
	const options = changes.options ?? before.options;
	const title = changes.title ?? (changes.options ? variantTitle(record.options, options, record.name) : before.title);
	const variant = { ...before, ...changes, options, title, updatedAt: now };
	check(
		record.options,
		variants.map(v => (v.id === variantId ? variant : v)),
	);
	return variant;
}

/**
 * A product's record after an admin's change. `price`, `currency` and `sku` are its variant's: they may change only
 * on a single-variant product (422 VARIANT_REQUIRED otherwise); new options must still fit every variant.
 */
export function changedProduct(
	record: ProductRecord,
	variants: Variant[],
	changes: Partial<Omit<ProductParams, "variants">>,
	now: string,
) {
	const { price, currency: cur, sku: newSku, options, ...fields } = changes;
	const variantChanges = Object.fromEntries(
		Object.entries({ price, currency: cur, sku: newSku }).filter(([, v]) => v !== undefined),
	);
	if (Object.keys(variantChanges).length && variants.length !== 1)
		throw new UnprocessableError(
			"Price, currency and SKU belong to each variant: change them on /variants/:variantId",
			"VARIANT_REQUIRED",
			{ fields: Object.keys(variantChanges) },
		);
	const after: ProductRecord = { ...record, ...fields, options: options ?? record.options, updatedAt: now };
	if (options) {
		const errors = optionErrors(options);
		if (errors.length) throw invalid(errors);
		check(options, variants);
	}
	const variant = Object.keys(variantChanges).length ? { ...variants[0], ...variantChanges, updatedAt: now } : null;
	return { record: after, variant };
}

function check(options: ProductOption[], variants: Variant[]): void {
	const errors = variantErrors(options, variants);
	if (errors.length) throw invalid(errors);
}
