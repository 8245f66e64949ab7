import { Errors } from "moleculer";
import type {
	Product,
	ProductOption,
	ProductRecord,
	Variant,
	VariantInput,
	VariantLine,
	VariantView,
} from "./contract";

/**
 * The pure rules of products with options and variants (issue 12): what a valid set of options and variants is, and
 * what a product's price, currency and SKU are, derived from its variants. No broker, no store.
 */

export const LIMITS = { options: 3, values: 50, variants: 100 } as const;

/** One failing field, in fastest-validator's shape, so a 422 reads the same as a params failure. */
export interface FieldError {
	type: string;
	field: string;
	message: string;
}

/** 422 VALIDATION_ERROR with the failing fields, like a params failure. */
export function invalid(errors: FieldError[]): Errors.ValidationError {
	return new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", errors);
}

/** The options are well formed: 0 to 3, each with a unique name and 1 to 50 unique values. */
export function optionErrors(options: ProductOption[]): FieldError[] {
	const errors: FieldError[] = [];
	const fail = (field: string, message: string) => errors.push({ type: "options", field, message });
	if (options.length > LIMITS.options) fail("options", `At most ${LIMITS.options} options`);
	const names = new Set<string>();
	options.forEach((option, i) => {
		if (names.has(option.name)) fail(`options[${i}].name`, `Option "${option.name}" is declared twice`);
		names.add(option.name);
		if (option.values.length < 1 || option.values.length > LIMITS.values)
			fail(`options[${i}].values`, `An option has 1 to ${LIMITS.values} values`);
		if (new Set(option.values).size !== option.values.length)
			fail(`options[${i}].values`, `Option "${option.name}" repeats a value`);
	});
	return errors;
}

/** The values of a variant in the order of the product's options: its combination's key. */
function combination(options: ProductOption[], chosen: Record<string, string>): string {
	return JSON.stringify(options.map(o => chosen[o.name]));
}

/**
 * Each variant names exactly one declared value of every option (and nothing else), every combination is unique,
 * there are 1 to 100 variants, and they share one currency. `field` prefixes the paths of the errors.
 */
export function variantErrors(
	options: ProductOption[],
	variants: Pick<VariantInput, "options" | "currency">[],
	field = "variants",
): FieldError[] {
	const errors: FieldError[] = [];
	const fail = (path: string, message: string) => errors.push({ type: "variants", field: path, message });
	if (variants.length < 1 || variants.length > LIMITS.variants)
		fail(field, `A product has 1 to ${LIMITS.variants} variants`);
	const seen = new Map<string, number>();
	variants.forEach((variant, i) => {
		const path = `${field}[${i}].options`;
		for (const name of Object.keys(variant.options))
			if (!options.some(o => o.name === name)) fail(path, `"${name}" is not an option of the product`);
		for (const option of options) {
			const value = variant.options[option.name];
			if (value === undefined) fail(path, `No value for option "${option.name}"`);
			else if (!option.values.includes(value)) fail(path, `"${value}" is not a value of option "${option.name}"`);
		}
		const key = combination(options, variant.options);
		if (seen.has(key)) fail(path, `Same options as variant ${seen.get(key)}`);
		else seen.set(key, i);
	});
	if (new Set(variants.map(v => v.currency)).size > 1) fail(field, "All variants of a product share one currency");
	return errors;
}

/** "M / Red" for options, the product's name when it has none. */
export function variantTitle(options: ProductOption[], chosen: Record<string, string>, productName: string): string {
	return options.length ? options.map(o => chosen[o.name]).join(" / ") : productName;
}

export function variantView({ id, sku, title, options, price, currency }: Variant): VariantView {
	return { id, sku, title, options, price, currency };
}

/** A variant's product-level summary: lowest price, the one currency, the SKU of a single variant (else null). */
export function derivedFields(variants: Pick<Variant, "sku" | "price" | "currency">[]) {
	if (variants.length === 0) throw new Error("A product without variants");
	const price = Math.min(...variants.map(v => v.price));
	return { price, currency: variants[0].currency, sku: variants.length === 1 ? variants[0].sku : null };
}

/** The product as clients see it, from its record and its variants (any order). */
export function productView(record: ProductRecord, variants: Variant[]): Product {
	const sorted = [...variants].sort((a, b) => a.position - b.position || a.id.localeCompare(b.id));
	const { price, currency, sku } = derivedFields(sorted);
	return { ...record, options: record.options ?? [], price, currency, sku, variants: sorted.map(variantView) };
}

/** The payload of product.created: the product's summary and every variant (inventory makes their stock). */
export function createdEventData(product: Product, variants: Variant[]) {
	const { id: productId, sku, name, price, currency, category } = product;
	const data = variants.map(v => ({
		variantId: v.id,
		sku: v.sku,
		price: v.price,
		currency: v.currency,
		options: v.options,
	}));
	return { productId, sku, name, price, currency, category, variants: data };
}

/** How orders and carts price a variant. */
export function variantLine(product: Pick<ProductRecord, "id" | "name">, variant: Variant): VariantLine {
	const { id, sku, options, price, currency, title } = variant;
	return { variantId: id, productId: product.id, sku, name: product.name, options, price, currency, title };
}

/**
 * `products.getVariants`: the variants among `ids` (a single-variant product's variant has the product's id), and
 * apart the ids that are products but not variants (multi-variant products: a line naming one needs a variant).
 */
export function resolveVariants(
	ids: string[],
	variants: Variant[],
	products: Pick<ProductRecord, "id" | "name">[],
): { variants: VariantLine[]; multiVariantProductIds: string[] } {
	const productsById = new Map(products.map(p => [p.id, p]));
	const byId = new Map(variants.map(v => [v.id, v]));
	const lines: VariantLine[] = [];
	const multi: string[] = [];
	for (const id of new Set(ids)) {
		const variant = byId.get(id);
		const product = variant && productsById.get(variant.productId);
		if (variant && product) lines.push(variantLine(product, variant));
		else if (!variant && productsById.has(id)) multi.push(id);
	}
	return { variants: lines, multiVariantProductIds: multi };
}
