import { ConflictError, NotFoundError } from "../../lib/errors";
import type { AuthUser } from "../../lib/auth";
import type { Cart, CartStatus } from "./contract";

/**
 * The cart's state machine. ACTIVE is the only state that takes changes; a checkout moves it to CHECKING_OUT, which
 * ends COMPLETED (an order was placed) or ACTIVE again (the order failed); a guest cart merged into a customer's
 * cart is MERGED. COMPLETED and MERGED are final.
 */
const TRANSITIONS: Record<CartStatus, readonly CartStatus[]> = {
	ACTIVE: ["CHECKING_OUT", "MERGED"],
	CHECKING_OUT: ["COMPLETED", "ACTIVE"],
	COMPLETED: [],
	MERGED: [],
};

export function canTransition(from: CartStatus, to: CartStatus): boolean {
	return TRANSITIONS[from].includes(to);
}

/** Why a cart in `status` refuses a change: nothing in ACTIVE, 409 otherwise. */
export function assertChangeable(status: CartStatus): void {
	if (status === "ACTIVE") return;
	if (status === "CHECKING_OUT")
		throw new ConflictError("A checkout of this cart is running; it refuses changes", "CHECKOUT_IN_PROGRESS");
	throw new ConflictError(
		status === "COMPLETED" ? "This cart was checked out" : "This cart was merged into another cart",
		"CART_COMPLETED",
	);
}

export function assertTransition(from: CartStatus, to: CartStatus): void {
	if (canTransition(from, to)) return;
	assertChangeable(from);
	throw new ConflictError(`A cart cannot go from ${from} to ${to}`, "INVALID_TRANSITION");
}

/** The unique owner slot of a customer's current cart; a cart that is not one holds a slot of its own. */
export function ownerKeyOf(cart: Pick<Cart, "id" | "userId" | "status">): string {
	const current = cart.status === "ACTIVE" || cart.status === "CHECKING_OUT";
	return cart.userId && current ? customerSlot(cart.userId) : `cart:${cart.id}`;
}

export function customerSlot(userId: string): string {
	return `user:${userId}`;
}

/**
 * A guest cart is reachable by anyone holding its id; a customer's cart only by that customer. Any other caller is
 * told it does not exist (404), so neither its data nor its existence leaks.
 */
export function assertCanSee(cart: Pick<Cart, "userId">, user: AuthUser | undefined): void {
	if (cart.userId !== null && cart.userId !== user?.id) throw new NotFoundError("Cart");
}

/** A new, empty ACTIVE cart: a guest's (userId null) or the customer's current cart. */
export function newCart(
	cartId: string,
	userId: string | null,
	details: Pick<Partial<Cart>, "email" | "shippingAddress" | "shippingMethodId">,
	now: string,
): Cart {
	const draft = { id: cartId, userId, status: "ACTIVE" as const };
	return {
		...draft,
		ownerKey: ownerKeyOf(draft),
		lines: [],
		email: details.email ?? null,
		shippingAddress: details.shippingAddress ?? null,
		discountCode: null,
		shippingMethodId: details.shippingMethodId ?? null,
		orderId: null,
		checkout: null,
		attempts: 0,
		version: 0,
		createdAt: now,
		updatedAt: now,
	};
}

/** A cart as stored by a release before discount codes and shipping methods reads as one without either. */
export function withMoneyFields(stored: Cart): Cart {
	return { ...stored, discountCode: stored.discountCode ?? null, shippingMethodId: stored.shippingMethodId ?? null };
}
