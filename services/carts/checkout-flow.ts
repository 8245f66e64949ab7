import type { LoggerInstance } from "moleculer";
import { call, type Caller } from "../../lib/actor";
import { ConflictError } from "../../lib/errors";
import type { OrderView } from "../orders/contract";
import type { Cart, CheckoutRequest } from "./contract";
import type { CartRepository } from "./cart-store";
import { assertChangeable, assertTransition } from "./cart-state";
import { checkoutItems, checkoutKey, checkoutOutcome, checkoutRunning } from "./checkout";
import { lookupVariants } from "./catalogue";

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
			checkoutItems(
				cart.lines,
				await lookupVariants(
					deps.caller,
					cart.lines.map(l => l.variantId),
				),
			);
			const claimed = await deps.carts.claimInto(cart, userId, deps.now());
			if (!claimed) continue;
			[cart, cartId] = [claimed, claimed.id];
		}
		if (cart.status === "COMPLETED" && cart.orderId)
			return { order: await call(deps.caller, "orders.get", { id: cart.orderId }), replayed: true };
		if (cart.status === "CHECKING_OUT" && cart.checkout) return runAttempt(deps, cart, cart.checkout);
		assertTransition(cart.status, "CHECKING_OUT");
		const found = await lookupVariants(
			deps.caller,
			cart.lines.map(l => l.variantId),
		);
		const request: CheckoutRequest = {
			attempt: cart.attempts + 1,
			items: checkoutItems(cart.lines, found),
			paymentToken,
			shippingAddress: cart.shippingAddress,
		};
		const set = { status: "CHECKING_OUT" as const, checkout: request, attempts: request.attempt };
		// No updatedAt: a cart whose checkout fails is ACTIVE again exactly as it was.
		const started = await deps.carts.write(cart, set);
		if (started) return runAttempt(deps, started, request);
	}
	throw changedMeanwhile();
}

/**
 * Sends the attempt's order request under the attempt's key: the first caller places the order, every other caller
 * gets it replayed once settled (orders' own idempotency). Then the cart follows the order, once, whoever gets there
 * first: COMPLETED with the order, or ACTIVE again, unchanged, when no order comes of the attempt.
 */
async function runAttempt(deps: CheckoutDeps, cart: Cart, request: CheckoutRequest): Promise<CheckoutAnswer> {
	const { items, paymentToken, shippingAddress } = request;
	let order: OrderView;
	try {
		order = await call(
			deps.caller,
			"orders.create",
			{ items, paymentToken, ...(shippingAddress && { shippingAddress }) },
			{ meta: { idempotencyKey: checkoutKey(cart.id, request.attempt) } },
		);
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
