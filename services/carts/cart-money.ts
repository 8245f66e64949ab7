import { NotFoundError, UnprocessableError } from "../../lib/errors";
import type { ShippingAddress } from "../orders/contract";
import type { NotApplicableReason } from "../promotions/contract";
import type { Cart } from "./contract";

/** Codes are typed in any case and kept upper case, as promotions stores them. */
export function normalizeCode(code: string): string {
	return code.trim().toUpperCase();
}

/** The cart without `code`: 404 when the cart does not hold it (in any case). */
export function removeCode(cart: Pick<Cart, "discountCode">, code: string): Pick<Cart, "discountCode"> {
	if (cart.discountCode !== normalizeCode(code))
		throw new NotFoundError("Discount code", { code: normalizeCode(code) });
	return { discountCode: null };
}

export function shippingRequired(message: string): UnprocessableError {
	return new UnprocessableError(message, "SHIPPING_REQUIRED");
}

/** The address shipping is priced for: 422 SHIPPING_REQUIRED without one. */
export function requireAddress(address: ShippingAddress | null): ShippingAddress {
	if (!address) throw shippingRequired("Set a shipping address first");
	return address;
}

/** What a checkout ships with: the cart's address and chosen method, both required (422 SHIPPING_REQUIRED). */
export function requireShipping(cart: Pick<Cart, "shippingAddress" | "shippingMethodId">): {
	address: ShippingAddress;
	methodId: string;
} {
	const address = requireAddress(cart.shippingAddress);
	if (!cart.shippingMethodId) throw shippingRequired("Choose a shipping method first");
	return { address, methodId: cart.shippingMethodId };
}

interface ErrorLike {
	type?: string;
	data?: { reason?: unknown };
}
const asError = (thrown: unknown): ErrorLike => (typeof thrown === "object" && thrown !== null ? thrown : {});

/** Why promotions refused a code (422 DISCOUNT_NOT_APPLICABLE), or null when `thrown` is any other error. */
export function notApplicableReason(thrown: unknown): NotApplicableReason | null {
	const err = asError(thrown);
	if (err.type !== "DISCOUNT_NOT_APPLICABLE") return null;
	return typeof err.data?.reason === "string" ? (err.data.reason as NotApplicableReason) : "UNKNOWN";
}

/** True when shipping refused the method for this destination and currency (422 SHIPPING_NOT_AVAILABLE). */
export function isShippingNotAvailable(thrown: unknown): boolean {
	return asError(thrown).type === "SHIPPING_NOT_AVAILABLE";
}
