import { Errors } from "moleculer";
import { UnprocessableError } from "../../lib/errors";
import { quantity as quantityRule } from "../../lib/actor";
import type { VariantLine } from "../products/contract";

/** A line as a client sends it: a variant, or a single-variant product (whose variant has the product's id). */
export interface OrderLineRequest {
	variantId?: string;
	productId?: string;
	quantity: number;
}
/** A line once merged: one per variant. */
export interface VariantQuantity {
	variantId: string;
	quantity: number;
}
export interface PricedLine {
	productId: string;
	variantId: string;
	sku: string;
	name: string;
	options: Record<string, string>;
	unitPrice: number;
	quantity: number;
	lineTotal: number;
}
export interface PricedOrder {
	items: PricedLine[];
	currency: string;
	total: number;
}
/** What `products.getVariants` answers for the order's lines. */
export interface VariantCatalogue {
	variants: VariantLine[];
	multiVariantProductIds: string[];
}

/**
 * Merges repeated lines of one variant (a single-variant product named by its id is its variant), so stock is
 * reserved once per variant. The per-line limit holds for the merged line too: spreading 3,000 units over several
 * lines is refused here, before any order exists. A line naming neither a variant nor a product is 422.
 */
export function mergeLines(lines: OrderLineRequest[]): VariantQuantity[] {
	const missing = lines.flatMap((line, i) => ((line.variantId ?? line.productId) ? [] : [i]));
	if (missing.length)
		throw new Errors.ValidationError(
			"Parameters validation error!",
			"VALIDATION_ERROR",
			missing.map(i => ({
				type: "required",
				field: `items[${i}].variantId`,
				message: "A line names a variantId (or the productId of a single-variant product)",
			})),
		);
	const byVariant = new Map<string, number>();
	for (const line of lines) {
		const key = (line.variantId ?? line.productId)!;
		byVariant.set(key, (byVariant.get(key) ?? 0) + line.quantity);
	}
	const merged = [...byVariant].map(([variantId, quantity]) => ({ variantId, quantity }));
	const tooMany = merged.filter(line => line.quantity > quantityRule.max).map(line => line.variantId);
	if (tooMany.length)
		throw new UnprocessableError(`At most ${quantityRule.max} units of one variant per order`, "QUANTITY_TOO_LARGE", {
			variantIds: tooMany,
		});
	return merged;
}

/** Snapshots names, SKUs, options and unit prices; every amount is an integer in minor units. */
export function priceOrder(lines: VariantQuantity[], catalogue: VariantCatalogue): PricedOrder {
	const multi = lines.filter(l => catalogue.multiVariantProductIds.includes(l.variantId)).map(l => l.variantId);
	if (multi.length)
		throw new UnprocessableError("These products have several variants: name one", "VARIANT_REQUIRED", {
			productIds: multi,
		});
	const byId = new Map(catalogue.variants.map(v => [v.variantId, v]));
	const unknown = lines.filter(l => !byId.has(l.variantId)).map(l => l.variantId);
	if (unknown.length)
		throw new UnprocessableError("Unknown products in order", "UNKNOWN_PRODUCT", { productIds: unknown });

	const items = lines.map(line => {
		const { variantId, productId, sku, name, options, price } = byId.get(line.variantId)!;
		if (!Number.isSafeInteger(price) || price < 0) throw new Error(`Corrupt price on variant ${variantId}`);
		const lineTotal = price * line.quantity;
		return { productId, variantId, sku, name, options, unitPrice: price, quantity: line.quantity, lineTotal };
	});
	const currencies = new Set(lines.map(l => byId.get(l.variantId)!.currency));
	if (currencies.size > 1)
		throw new UnprocessableError("All items of an order must share one currency", "MIXED_CURRENCY", {
			currencies: [...currencies],
		});
	const total = items.reduce((sum, i) => sum + i.lineTotal, 0);
	if (!Number.isSafeInteger(total)) throw new UnprocessableError("Order total is too large", "TOTAL_TOO_LARGE");
	return { items, currency: [...currencies][0], total };
}

/**
 * The stock key of an order item: its variant. Items of orders placed before variants have no `variantId`; their
 * product's one variant has the product's id.
 */
export function stockKey(item: Pick<PricedLine, "productId"> & { variantId?: string }): string {
	return item.variantId ?? item.productId;
}
