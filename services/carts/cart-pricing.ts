/**
 * What a cart is priced with, asked of promotions (its code) and shipping (its method and its country's tax) at every
 * read, like its prices: the cart holds only the choices. Carts without a code or an address ask nothing.
 */
import { call, type Caller } from "../../lib/actor";
import { discountOf } from "../orders/totals";
import type { ShippingOption } from "../shipping/contract";
import type { Cart, UpdateCartParams } from "./contract";
import { cartBasis, UNPRICED, type CartPricing } from "./cart-view";
import { lookupVariants } from "./catalogue";
import {
	isShippingNotAvailable,
	normalizeCode,
	notApplicableReason,
	requireAddress,
	requireShipping,
} from "./cart-money";

type Basis = ReturnType<typeof cartBasis>;

/** The cart's currency and subtotal from the catalogue now. */
export async function basisOf(caller: Caller, cart: Pick<Cart, "lines">): Promise<Basis> {
	const { variants } = await lookupVariants(
		caller,
		cart.lines.map(l => l.variantId),
	);
	return cartBasis(cart.lines, variants);
}

/** The rule of `code` for this cart now, or 422 DISCOUNT_NOT_APPLICABLE from promotions. */
function check(caller: Caller, cart: Pick<Cart, "userId">, code: string, basis: Basis) {
	const { subtotal, currency } = basis;
	return call(caller, "promotions.check", { code, subtotal, currency, ...(cart.userId && { userId: cart.userId }) });
}

async function discountOfCart(caller: Caller, cart: Cart, basis: Basis): Promise<Partial<CartPricing>> {
	if (!cart.discountCode) return {};
	try {
		return { discount: await check(caller, cart, cart.discountCode, basis) };
	} catch (err) {
		const reason = notApplicableReason(err);
		if (!reason) throw err;
		return { discountProblem: reason };
	}
}

async function quoteOfCart(caller: Caller, cart: Cart, currency: string): Promise<Partial<CartPricing>> {
	if (!cart.shippingAddress) return cart.shippingMethodId ? { shippingProblem: "SHIPPING_REQUIRED" } : {};
	const { country } = cart.shippingAddress;
	if (!cart.shippingMethodId) return call(caller, "shipping.quote", { country, currency });
	try {
		return await call(caller, "shipping.quote", { country, currency, methodId: cart.shippingMethodId });
	} catch (err) {
		if (!isShippingNotAvailable(err)) throw err;
		const { tax } = await call(caller, "shipping.quote", { country, currency });
		return { tax, shippingProblem: "SHIPPING_NOT_AVAILABLE" };
	}
}

/**
 * The cart's pricing now. A COMPLETED or MERGED cart is not priced again (its order keeps what was paid, and its own
 * use of a limited code would show as EXHAUSTED): it shows its subtotal only.
 */
export async function pricingOf(caller: Caller, cart: Cart, basis: Basis): Promise<CartPricing> {
	if (cart.status === "COMPLETED" || cart.status === "MERGED") return UNPRICED;
	const [discount, quote] = await Promise.all([
		discountOfCart(caller, cart, basis),
		quoteOfCart(caller, cart, basis.currency),
	]);
	return { ...UNPRICED, ...discount, ...quote };
}

/** The change that applies `code` to the cart, if promotions says it applies now (else its 422 goes through). */
export async function applyCode(caller: Caller, cart: Cart, code: string): Promise<Pick<Cart, "discountCode">> {
	const discountCode = normalizeCode(code);
	await check(caller, cart, discountCode, await basisOf(caller, cart));
	return { discountCode };
}

/** 422 SHIPPING_REQUIRED without an address and a method, SHIPPING_NOT_AVAILABLE when shipping refuses the method. */
export async function assertShippable(
	caller: Caller,
	cart: Pick<Cart, "shippingAddress" | "shippingMethodId">,
	currency: string,
): Promise<void> {
	const { address, methodId } = requireShipping(cart);
	await call(caller, "shipping.quote", { country: address.country, currency, methodId });
}

/** The methods for the cart's country, priced for its subtotal after its code (free with a FREE_SHIPPING code). */
export async function shippingOptionsOf(caller: Caller, cart: Cart): Promise<ShippingOption[]> {
	const { country } = requireAddress(cart.shippingAddress);
	const basis = await basisOf(caller, cart);
	const { discount } = await discountOfCart(caller, cart, basis);
	return call(caller, "shipping.options", {
		country,
		currency: basis.currency,
		afterDiscount: basis.subtotal - discountOf(discount ?? null, basis.subtotal),
		...(discount?.type === "FREE_SHIPPING" && { free: true }),
	});
}

/** The change of `carts.update`: a method chosen is checked for the cart's address (as changed) and currency. */
export async function detailsChange(caller: Caller, cart: Cart, details: UpdateCartParams): Promise<Partial<Cart>> {
	const { email, shippingAddress, shippingMethodId } = details;
	const set: Partial<Cart> = {
		...(email !== undefined && { email }),
		...(shippingAddress !== undefined && { shippingAddress }),
		...(shippingMethodId !== undefined && { shippingMethodId }),
	};
	const next = { ...cart, ...set };
	if (shippingMethodId) await assertShippable(caller, next, (await basisOf(caller, next)).currency);
	return set;
}
