// Prices an order request: its lines from the catalogue (pricing.ts), then the money rules: its code (promotions),
// its shipping method and the destination's tax (shipping), and the totals (totals.ts). The calls are handed in, so
// the flow is tested without the actors.
import { call, type ActionParams, type ActionResult, type Caller } from "../../lib/actor";
import { UnprocessableError } from "../../lib/errors";
import type { CreateOrderParams, Order } from "./contract";
import { mergeLines, priceOrder, type PricedOrder } from "./pricing";
import { priceTotals } from "./totals";

type PricingAction = "products.getVariants" | "promotions.check" | "shipping.quote";
export type PricingCalls = { [N in PricingAction]: (params: ActionParams<N>) => Promise<ActionResult<N>> };

/** The calls made through the request's context (keeps its meta and trace). */
export function pricingCalls(caller: Caller): PricingCalls {
	return {
		"products.getVariants": params => call(caller, "products.getVariants", params),
		"promotions.check": params => call(caller, "promotions.check", params),
		"shipping.quote": params => call(caller, "shipping.quote", params),
	};
}

/** What the money rules add to the priced lines: the order's part of an OrderDraft. */
export type OrderPricing = Pick<
	Order,
	"items" | "currency" | "total" | "totals" | "discountCode" | "discount" | "shippingMethod" | "taxRate"
>;

export type PricingRequest = Pick<CreateOrderParams, "discountCode" | "shippingMethodId" | "shippingAddress">;

/** Prices the request's lines (merged by variant) at the catalogue's prices, then with the money rules. */
export async function priceRequest(
	calls: PricingCalls,
	request: CreateOrderParams,
	userId: string,
): Promise<OrderPricing> {
	const lines = mergeLines(request.items);
	const catalogue = await calls["products.getVariants"]({ ids: lines.map(l => l.variantId) });
	return priceWithRules(calls, priceOrder(lines, catalogue), request, userId);
}

/**
 * The order's lines, totals and the rules it is priced with. A code that does not apply (422
 * DISCOUNT_NOT_APPLICABLE) and a method that does not ship there (422 SHIPPING_NOT_AVAILABLE) pass to the client as
 * promotions and shipping answer them. A method needs an address (422 SHIPPING_REQUIRED); an address alone prices the
 * tax and no shipping; no address: neither shipping nor tax.
 */
export async function priceWithRules(
	calls: PricingCalls,
	priced: PricedOrder,
	request: PricingRequest,
	userId: string,
): Promise<OrderPricing> {
	const { currency } = priced;
	const { shippingAddress: address, shippingMethodId: methodId } = request;
	if (methodId && !address)
		throw new UnprocessableError("A shipping method needs a shipping address", "SHIPPING_REQUIRED");
	const discountCode = request.discountCode?.toUpperCase() ?? null;
	const discount = discountCode
		? await calls["promotions.check"]({ code: discountCode, subtotal: priced.total, currency, userId })
		: null;
	const quote = address
		? await calls["shipping.quote"]({ country: address.country, currency, ...(methodId ? { methodId } : {}) })
		: { shipping: null, tax: null };
	const { lines, totals } = priceTotals(
		priced.items.map(item => item.lineTotal),
		{ discount, shipping: quote.shipping, tax: quote.tax },
	);
	if (!Number.isSafeInteger(totals.total)) throw new UnprocessableError("Order total is too large", "TOTAL_TOO_LARGE");
	return {
		items: priced.items.map((item, i) => ({ ...item, ...lines[i] })),
		currency,
		total: totals.total,
		totals,
		discountCode,
		discount,
		shippingMethod: quote.shipping,
		taxRate: quote.tax,
	};
}
