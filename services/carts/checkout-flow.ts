import type { LoggerInstance } from "moleculer";
import { call, type Caller } from "../../lib/actor";
import { ConflictError } from "../../lib/errors";
import type { OrderView } from "../orders/contract";
import type { Cart, CheckoutRequest, OrderLineRequest } from "./contract";
import type { CartRepository } from "./cart-store";
import { assertChangeable, assertTransition } from "./cart-state";
import { checkoutItems, checkoutKey, checkoutOutcome, checkoutRunning, orderParams } from "./checkout";
import { lookupVariants } from "./catalogue";
import { cartBasis } from "./cart-view";
import { assertShippable } from "./cart-pricing";

/** Compare-and-set rounds before a change that keeps losing to concurrent ones is refused. */
export const MAX_ROUNDS = 8;

export const changedMeanwhile = () => new ConflictError("The cart kept changing meanwhile, try again", "CART_CHANGED");

export interface CheckoutDeps {
	carts: CartRepository;
	/** The request's context: calls carry its user, and `orders.create`'s response meta comes back into it. */
	caller: Caller;
	/** The cart, if the caller may see it (404 otherwise). */
	load(cartId: string): Promise<Cart>;
	logger: LoggerInstance;
	now(): string;
}

export interface CheckoutAnswer {
	order: OrderView;
	/** The cart was already checked out: its order, again. */
	replayed: boolean;
}

/** A change of a cart: the fields to set, computed from the cart as read. */
export type CartEdit = (cart: Cart) => Partial<Cart> | Promise<Partial<Cart>>;

/** Applies `edit` to the ACTIVE cart by compare-and-set, computed again from a fresh read when the cart changed. */
export async function changeCart(deps: CheckoutDeps, cartId: string, edit: CartEdit): Promise<Cart> {
	for (let round = 0; round < MAX_ROUNDS; round++) {
		const cart = await deps.load(cartId);
		assertChangeable(cart.status);
		const changed = await deps.carts.write(cart, { ...(await edit(cart)), updatedAt: deps.now() });
		if (changed) return changed;
	}
	throw changedMeanwhile();
}

/** A guest cart becomes the customer's current cart, or is merged into it (README "Carts"); their cart again. */
export async function claimCart(deps: CheckoutDeps, cartId: string, userId: string): Promise<Cart> {
	for (let round = 0; round < MAX_ROUNDS; round++) {
		const guest = await deps.load(cartId);
		if (guest.userId === userId) return guest;
		assertChangeable(guest.status);
		const claimed = await deps.carts.claimInto(guest, userId, deps.now());
		if (claimed) return claimed;
	}
	throw changedMeanwhile();
}

/**
 * The order lines of a cart that can be checked out: lines of existing variants in one currency, an address and an
 * eligible shipping method. Checked before the checkout starts, so that a refusal changes nothing.
 */
async function checkable(deps: CheckoutDeps, cart: Cart): Promise<OrderLineRequest[]> {
	const found = await lookupVariants(
		deps.caller,
		cart.lines.map(l => l.variantId),
	);
	const items = checkoutItems(cart.lines, found);
	await assertShippable(deps.caller, cart, cartBasis(cart.lines, found.variants).currency);
	return items;
}

/**
 * Checks a cart out: an ACTIVE cart starts attempt n+1 by the compare-and-set to CHECKING_OUT (so concurrent
 * checkouts and changes of that version lose), a CHECKING_OUT cart joins the running attempt, a COMPLETED cart
 * answers with its order. A guest cart is claimed by the caller on the way.
 */
export async function checkoutCart(
	deps: CheckoutDeps,
	cartId: string,
	userId: string,
	paymentToken: string,
): Promise<CheckoutAnswer> {
	for (let round = 0; round < MAX_ROUNDS; round++) {
		let cart = await deps.load(cartId);
		if (cart.userId === null) {
			assertChangeable(cart.status);
			// What cannot be checked out is refused before the guest cart is claimed: a refusal changes nothing.
			await checkable(deps, cart);
			const claimed = await deps.carts.claimInto(cart, userId, deps.now());
			if (!claimed) continue;
			[cart, cartId] = [claimed, claimed.id];
		}
		if (cart.status === "COMPLETED" && cart.orderId)
			return { order: await call(deps.caller, "orders.get", { id: cart.orderId }), replayed: true };
		if (cart.status === "CHECKING_OUT" && cart.checkout) return runAttempt(deps, cart, cart.checkout);
		assertTransition(cart.status, "CHECKING_OUT");
		const request: CheckoutRequest = {
			attempt: cart.attempts + 1,
			items: await checkable(deps, cart),
			paymentToken,
			shippingAddress: cart.shippingAddress,
			discountCode: cart.discountCode,
			shippingMethodId: cart.shippingMethodId,
		};
		const set = { status: "CHECKING_OUT" as const, checkout: request, attempts: request.attempt };
		// No updatedAt: a cart whose checkout fails is ACTIVE again exactly as it was, its code and method too.
		const started = await deps.carts.write(cart, set);
		if (started) return runAttempt(deps, started, request);
	}
	throw changedMeanwhile();
}

/**
 * Sends the attempt's order request under the attempt's key: the first caller places the order, every other caller
 * gets it replayed once settled (orders' own idempotency). Then the cart follows the order, once, whoever gets there
 * first: COMPLETED with the order, or ACTIVE again, unchanged, when no order comes of the attempt (the cart keeps
 * its code when the code was what failed, 409 DISCOUNT_EXHAUSTED or 422 DISCOUNT_NOT_APPLICABLE, so the customer can
 * remove it and retry).
 */
async function runAttempt(deps: CheckoutDeps, cart: Cart, request: CheckoutRequest): Promise<CheckoutAnswer> {
	let order: OrderView;
	try {
		order = await call(deps.caller, "orders.create", orderParams(request), {
			meta: { idempotencyKey: checkoutKey(cart.id, request.attempt) },
		});
	} catch (err) {
		const outcome = checkoutOutcome(err);
		deps.logger.info("Cart checkout placed no order", { cartId: cart.id, attempt: request.attempt, outcome });
		if (outcome === "reopen") await deps.carts.settle(cart.id, request.attempt, { status: "ACTIVE", checkout: null });
		if (outcome === "running") throw checkoutRunning();
		throw err;
	}
	const completed = { status: "COMPLETED" as const, orderId: order.id, ownerKey: `cart:${cart.id}`, checkout: null };
	await deps.carts.settle(cart.id, request.attempt, completed);
	return { order, replayed: false };
}
