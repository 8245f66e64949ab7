import { UnprocessableError } from "../../lib/errors";
import { quantity as quantityRule } from "../../lib/actor";

export interface OrderLineRequest {
	productId: string;
	quantity: number;
}
export interface ProductPrice {
	id: string;
	name: string;
	price: number;
	currency: string;
}
export interface PricedLine {
	productId: string;
	name: string;
	unitPrice: number;
	quantity: number;
	lineTotal: number;
}
export interface PricedOrder {
	items: PricedLine[];
	currency: string;
	total: number;
}

/**
 * Merges repeated lines of one product, so stock is reserved once per product. The per-line limit holds for the
 * merged line too: spreading 3,000 units over several lines is refused here, before any order exists.
 */
export function mergeLines(lines: OrderLineRequest[]): OrderLineRequest[] {
	const byProduct = new Map<string, number>();
	for (const line of lines) byProduct.set(line.productId, (byProduct.get(line.productId) ?? 0) + line.quantity);
	const merged = [...byProduct].map(([productId, quantity]) => ({ productId, quantity }));
	const tooMany = merged.filter(line => line.quantity > quantityRule.max).map(line => line.productId);
	if (tooMany.length)
		throw new UnprocessableError(`At most ${quantityRule.max} units of one product per order`, "QUANTITY_TOO_LARGE", {
			productIds: tooMany,
		});
	return merged;
}

/** Snapshots names and unit prices; every amount is an integer in minor units. */
export function priceOrder(lines: OrderLineRequest[], products: ProductPrice[]): PricedOrder {
	const byId = new Map(products.map(p => [p.id, p]));
	const unknown = lines.filter(l => !byId.has(l.productId)).map(l => l.productId);
	if (unknown.length)
		throw new UnprocessableError("Unknown products in order", "UNKNOWN_PRODUCT", { productIds: unknown });

	const items = lines.map(line => {
		const product = byId.get(line.productId)!;
		if (!Number.isSafeInteger(product.price) || product.price < 0)
			throw new Error(`Corrupt price on product ${product.id}`);
		return {
			productId: product.id,
			name: product.name,
			unitPrice: product.price,
			quantity: line.quantity,
			lineTotal: product.price * line.quantity,
		};
	});
	const currencies = new Set(items.map(i => byId.get(i.productId)!.currency));
	if (currencies.size > 1)
		throw new UnprocessableError("All items of an order must share one currency", "MIXED_CURRENCY", {
			currencies: [...currencies],
		});
	const total = items.reduce((sum, i) => sum + i.lineTotal, 0);
	if (!Number.isSafeInteger(total)) throw new UnprocessableError("Order total is too large", "TOTAL_TOO_LARGE");
	return { items, currency: [...currencies][0], total };
}
