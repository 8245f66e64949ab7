import { UnprocessableError } from "../../lib/errors";
import type { VariantLine } from "../products/contract";
import type { NotApplicableReason } from "../promotions/contract";
import { priceTotals, type DiscountRule, type ShippingCharge, type TaxRule } from "../orders/totals";
import type { Cart, CartItem, CartLine, CartView, ShippingProblem } from "./contract";

/** The currency of a cart with no line priced yet. */
export const DEFAULT_CURRENCY = "USD";

/**
 * What the cart is priced with now: its code's rule (null when it has none or it does not apply, then
 * `discountProblem` says why), its method (null likewise, `shippingProblem`), and its country's tax (null: none).
 */
export interface CartPricing {
	discount: DiscountRule | null;
	discountProblem?: NotApplicableReason;
	shipping: ShippingCharge | null;
	shippingProblem?: ShippingProblem;
	tax: TaxRule | null;
}

export const UNPRICED: CartPricing = { discount: null, shipping: null, tax: null };

/** What codes and methods are checked against: the cart's currency and subtotal, from the catalogue now. */
export function cartBasis(lines: CartLine[], variants: VariantLine[]): { currency: string; subtotal: number } {
	const byId = new Map(variants.map(v => [v.variantId, v]));
	return {
		currency: lines.map(l => byId.get(l.variantId)?.currency).find(c => c !== undefined) ?? DEFAULT_CURRENCY,
		subtotal: lines.reduce((sum, l) => sum + (byId.get(l.variantId)?.price ?? 0) * l.quantity, 0),
	};
}

/**
 * The cart as clients see it: each line priced from the catalogue now, with its variant's available stock now, and
 * the totals of `pricing` (services/orders/totals.ts, as the order will be priced). A line whose variant no longer
 * exists shows with null name and SKU, price 0 and nothing available. An empty cart ships nothing: no shipping.
 */
export function cartView(
	cart: Cart,
	variants: VariantLine[],
	available: ReadonlyMap<string, number>,
	pricing: CartPricing = UNPRICED,
): CartView {
	const byId = new Map(variants.map(v => [v.variantId, v]));
	const lineTotals = cart.lines.map(l => (byId.get(l.variantId)?.price ?? 0) * l.quantity);
	const priced = priceTotals(lineTotals, {
		discount: pricing.discount,
		shipping: cart.lines.length ? pricing.shipping : null,
		tax: pricing.tax,
	});
	const items = cart.lines.map((line, i): CartItem => {
		const variant = byId.get(line.variantId);
		return {
			id: line.id,
			productId: variant?.productId ?? line.variantId,
			variantId: line.variantId,
			sku: variant?.sku ?? null,
			name: variant?.name ?? null,
			options: variant?.options ?? {},
			unitPrice: variant?.price ?? 0,
			quantity: line.quantity,
			lineTotal: lineTotals[i],
			...priced.lines[i],
			available: variant ? (available.get(line.variantId) ?? 0) : 0,
		};
	});
	const { id, userId, status, email, shippingAddress, discountCode, shippingMethodId, orderId } = cart;
	return {
		id,
		userId,
		status,
		currency: cartBasis(cart.lines, variants).currency,
		email,
		items,
		shippingAddress,
		discountCode,
		...(pricing.discountProblem && { discountProblem: pricing.discountProblem }),
		shippingMethodId,
		...(pricing.shippingProblem && { shippingProblem: pricing.shippingProblem }),
		totals: priced.totals,
		orderId,
		createdAt: cart.createdAt,
		updatedAt: cart.updatedAt,
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
