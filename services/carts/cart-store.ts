import type { Store } from "../../lib/storage";
import { DuplicateKeyError } from "../../lib/errors";
import type { Cart } from "./contract";
import { assertChangeable, customerSlot, ownerKeyOf, withMoneyFields } from "./cart-state";
import { mergeLines } from "./cart-lines";

/**
 * The carts collection, written only by compare-and-set: every write names the version it read and bumps it, so of
 * concurrent writers of one version exactly one applies (a single conditional UPDATE on SQL, a conditional update
 * on memory:// and MongoDB). The unique `ownerKey` keeps each customer to one current cart in the store itself.
 */
export class CartRepository {
	constructor(
		private readonly store: Store<Cart>,
		private readonly newLineId: () => string,
	) {}

	async findById(cartId: string): Promise<Cart | null> {
		const cart = await this.store.findOne({ id: cartId });
		return cart && withMoneyFields(cart);
	}

	/** The customer's current cart (ACTIVE or CHECKING_OUT), if any. */
	async current(userId: string): Promise<Cart | null> {
		const cart = await this.store.findOne({ ownerKey: customerSlot(userId) });
		return cart && withMoneyFields(cart);
	}

	/** Throws DuplicateKeyError when the customer already has a current cart. */
	insert(cart: Cart): Promise<Cart> {
		return this.store.insert(cart);
	}

	/** Applies `set` if the cart is still at the version read; null when it changed since. */
	async write(cart: Cart, set: Partial<Cart>): Promise<Cart | null> {
		const next = { ...cart, ...set };
		const changed = { ...set, ownerKey: ownerKeyOf(next) };
		const n = await this.store.update({ id: cart.id, version: cart.version }, { set: changed, inc: { version: 1 } });
		return n === 1 ? { ...next, ...changed, version: cart.version + 1 } : null;
	}

	/** Ends checkout attempt `attempt` of the cart, unless it already ended (another caller settled it first). */
	async settle(cartId: string, attempt: number, set: Partial<Cart>): Promise<boolean> {
		const where = { id: cartId, status: "CHECKING_OUT", attempts: attempt };
		return (await this.store.update(where, { set, inc: { version: 1 } })) === 1;
	}

	/**
	 * The guest cart becomes the customer's current cart, or is merged into it: first the guest cart is MERGED (so
	 * no one merges it twice), then the customer's cart takes its lines, or else the guest cart is given back.
	 * Null when a concurrent change got in the way: the caller reads both carts again.
	 */
	async claimInto(guest: Cart, userId: string, now: string): Promise<Cart | null> {
		const current = await this.current(userId);
		if (!current)
			return this.write(guest, { userId, updatedAt: now }).catch((err: unknown) => {
				if (err instanceof DuplicateKeyError) return null; // the customer got a cart meanwhile
				throw err;
			});
		assertChangeable(current.status);
		const lines = mergeLines(current.lines, guest.lines, this.newLineId);
		const merged = await this.write(guest, { status: "MERGED", updatedAt: now });
		if (!merged) return null;
		// The customer's own choices win, the guest cart's fill in the gaps; a method goes with its address.
		const set = {
			lines,
			email: current.email ?? guest.email,
			shippingAddress: current.shippingAddress ?? guest.shippingAddress,
			discountCode: current.discountCode ?? guest.discountCode,
			shippingMethodId: current.shippingAddress ? current.shippingMethodId : guest.shippingMethodId,
			updatedAt: now,
		};
		const target = await this.write(current, set);
		if (!target) await this.write(merged, { status: "ACTIVE", updatedAt: guest.updatedAt });
		return target;
	}

	/** Removes the carts untouched since `cutoff` (ISO time), but none whose checkout is running. */
	removeUntouchedSince(cutoff: string): Promise<number> {
		return this.store.remove({ updatedAt: { $lt: cutoff }, status: { $ne: "CHECKING_OUT" } });
	}
}
