import { ConflictError, UnprocessableError } from "../../lib/errors";
import type { VariantLine } from "../products/contract";
import type { CreateOrderParams } from "../orders/contract";
import type { CartLine, CheckoutRequest, OrderLineRequest } from "./contract";

/** The order line of a cart line: orders price and reserve it by variant. */
export function orderLine(line: CartLine): OrderLineRequest {
	return { variantId: line.variantId, quantity: line.quantity };
}

/** What the catalogue says of a cart's variants (`products.getVariants`). */
export interface VariantLookup {
	variants: VariantLine[];
	multiVariantProductIds: string[];
}

/** Refuses a variant id that is a multi-variant product (VARIANT_REQUIRED) or nothing at all (UNKNOWN_PRODUCT). */
export function assertVariants(ids: string[], found: VariantLookup): void {
	const multi = ids.filter(id => found.multiVariantProductIds.includes(id));
	if (multi.length)
		throw new UnprocessableError("Choose a variant of this product", "VARIANT_REQUIRED", { productIds: multi });
	const known = new Set(found.variants.map(v => v.variantId));
	const unknown = ids.filter(id => !known.has(id));
	if (unknown.length)
		throw new UnprocessableError("Unknown or deleted product variant", "UNKNOWN_PRODUCT", { variantIds: unknown });
}

/**
 * The order lines of a checkout: the cart must hold lines, each naming an existing variant, all in one currency.
 * Checked before the checkout starts, so that orders refuses nothing it could have known.
 */
export function checkoutItems(lines: CartLine[], found: VariantLookup): OrderLineRequest[] {
	if (lines.length === 0) throw new UnprocessableError("The cart is empty", "EMPTY_CART");
	const ids = lines.map(l => l.variantId);
	assertVariants(ids, found);
	const currencies = new Set(found.variants.filter(v => ids.includes(v.variantId)).map(v => v.currency));
	if (currencies.size > 1)
		throw new UnprocessableError("All items of an order must share one currency", "MIXED_CURRENCY", {
			currencies: [...currencies],
		});
	return lines.map(orderLine);
}

/**
 * The Idempotency-Key of checkout attempt `attempt` of a cart: every caller of one attempt sends the same order
 * request under the same key, so orders creates one order and replays it to the others.
 */
export function checkoutKey(cartId: string, attempt: number): string {
	return `cart:${cartId}:checkout:${attempt}`;
}

/** What `orders.create` is sent for an attempt: its stored request, leaving out what it does not have. */
export function orderParams(request: CheckoutRequest): CreateOrderParams {
	const { items, paymentToken, shippingAddress, discountCode, shippingMethodId } = request;
	return {
		items,
		paymentToken,
		...(shippingAddress && { shippingAddress }),
		...(discountCode && { discountCode }),
		...(shippingMethodId && { shippingMethodId }),
	};
}

/**
 * What an error from `orders.create` means for the cart:
 * - `reopen`: no order will come of this attempt (it failed, with `data.orderId`, e.g. 409 DISCOUNT_EXHAUSTED, or
 *   was refused before an order existed, 4xx, e.g. 422 DISCOUNT_NOT_APPLICABLE): the cart is ACTIVE again, as it
 *   was (its code too), and a later checkout is a new attempt;
 * - `running`: the attempt's order is still being placed: the cart stays CHECKING_OUT;
 * - `unknown`: the attempt's outcome is unknown (timeout, no orders node): the cart stays CHECKING_OUT, and the next
 *   checkout sends the same attempt again, which places the order at most once.
 */
export type CheckoutOutcome = "reopen" | "running" | "unknown";

interface ErrorLike {
	code?: number;
	type?: string;
	data?: unknown;
}

export function checkoutOutcome(thrown: unknown): CheckoutOutcome {
	const err: ErrorLike = typeof thrown === "object" && thrown !== null ? thrown : {};
	if (err.type === "IDEMPOTENT_REQUEST_IN_PROGRESS") return "running";
	const data = typeof err.data === "object" && err.data !== null ? (err.data as Record<string, unknown>) : {};
	if (typeof data.orderId === "string") return "reopen";
	const code = err.code ?? 500;
	const transient = ["REQUEST_TIMEOUT", "SERVICE_NOT_AVAILABLE", "SERVICE_NOT_FOUND"].includes(err.type ?? "");
	return code >= 400 && code < 500 && !transient ? "reopen" : "unknown";
}

/** The answer to a checkout that found the attempt still running. */
export function checkoutRunning(orderId?: string): ConflictError {
	return new ConflictError(
		"A checkout of this cart is running; try again shortly",
		"CHECKOUT_IN_PROGRESS",
		orderId ? { orderId } : undefined,
	);
}
