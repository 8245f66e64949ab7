import { UnprocessableError } from "../../lib/errors";
import type { VariantLine } from "../products/contract";
import type { Cart, CartItem, CartLine, CartView } from "./contract";

/** The currency of a cart with no line priced yet. */
export const DEFAULT_CURRENCY = "USD";

/**
 * The cart as clients see it: each line priced from the catalogue now, with its variant's available stock now.
 * A line whose variant no longer exists shows with null name and SKU, price 0 and nothing available.
 */
export function cartView(cart: Cart, variants: VariantLine[], available: ReadonlyMap<string, number>): CartView {
	const byId = new Map(variants.map(v => [v.variantId, v]));
	const items = cart.lines.map((line): CartItem => {
		const variant = byId.get(line.variantId);
		const unitPrice = variant?.price ?? 0;
		return {
			id: line.id,
			productId: variant?.productId ?? line.variantId,
			variantId: line.variantId,
			sku: variant?.sku ?? null,
			name: variant?.name ?? null,
			options: variant?.options ?? {},
			unitPrice,
			quantity: line.quantity,
			lineTotal: unitPrice * line.quantity,
			available: variant ? (available.get(line.variantId) ?? 0) : 0,
		};
	});
	const subtotal = items.reduce((sum, i) => sum + i.lineTotal, 0);
	const { id, userId, status, email, shippingAddress, orderId, createdAt, updatedAt } = cart;
	return {
		id,
		userId,
		status,
		currency: cart.lines.map(l => byId.get(l.variantId)?.currency).find(c => c !== undefined) ?? DEFAULT_CURRENCY,
		email,
		items,
		shippingAddress,
		totals: { subtotal, total: subtotal },
		orderId,
		createdAt,
		updatedAt,
	};
}

/** A cart is paid in one currency: a variant priced in another than the cart's other lines is refused. */
export function assertOneCurrency(lines: CartLine[], variants: VariantLine[], added: VariantLine): void {
	const byId = new Map(variants.map(v => [v.variantId, v]));
	const others = lines.map(l => byId.get(l.variantId)?.currency).filter(c => c !== undefined && c !== added.currency);
	if (others.length)
		throw new UnprocessableError("All items of a cart must share one currency", "MIXED_CURRENCY", {
			currencies: [...new Set([added.currency, ...others])],
		});
}
