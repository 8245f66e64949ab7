// The carts actor's contract: its entity, what clients see of it, and the actions the gateway and the REPL call.
import type { CollectionSpec, Doc } from "../../lib/storage";
import type { AuthUser } from "../../lib/auth";
import type { CreateOrderParams, OrderView, ShippingAddress } from "../orders/contract";
import type { Totals } from "../orders/totals";
import type { NotApplicableReason } from "../promotions/contract";
import type { ShippingOption } from "../shipping/contract";

/** One line of an order request, as `orders.create` takes it. */
export type OrderLineRequest = CreateOrderParams["items"][number];

export type CartStatus = "ACTIVE" | "CHECKING_OUT" | "COMPLETED" | "MERGED";

/** A line as stored: which variant and how many. Names, prices and stock are read from their actors at every read. */
export interface CartLine {
	id: string;
	variantId: string;
	quantity: number;
}

/** The order request of the running checkout attempt, kept so that every concurrent caller sends the same one. */
export interface CheckoutRequest {
	attempt: number;
	items: OrderLineRequest[];
	paymentToken: string;
	shippingAddress: ShippingAddress | null;
	/** Absent on a request stored before carts took codes and methods: read as null. */
	discountCode?: string | null;
	shippingMethodId?: string | null;
}

export interface Cart extends Doc {
	userId: string | null;
	/**
	 * Unique: `user:<userId>` while this is its customer's current cart (ACTIVE or CHECKING_OUT), `cart:<id>` otherwise,
	 * so the store itself keeps a customer to one current cart.
	 */
	ownerKey: string;
	status: CartStatus;
	lines: CartLine[];
	email: string | null;
	shippingAddress: ShippingAddress | null;
	/** The discount code (upper case) the cart is priced with; one per cart. */
	discountCode: string | null;
	/** The chosen shipping method (shipping actor's id). */
	shippingMethodId: string | null;
	orderId: string | null;
	/** Set while CHECKING_OUT. */
	checkout: CheckoutRequest | null;
	/** Checkout attempts started so far; attempt n orders with the idempotency key of (cart id, n). */
	attempts: number;
	/** Bumped by every change: each write is a compare-and-set on it. */
	version: number;
	createdAt: string;
	updatedAt: string;
}

export const CARTS: CollectionSpec<Cart> = {
	name: "carts",
	fields: {
		userId: "string",
		ownerKey: "string",
		status: "string",
		lines: "json",
		email: "string",
		shippingAddress: "json",
		discountCode: "string",
		shippingMethodId: "string",
		orderId: "string",
		checkout: "json",
		attempts: "int",
		version: "int",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["ownerKey"],
	indexes: ["userId", "status", "updatedAt"],
};

/** A line as clients see it, priced from the catalogue and with the variant's available stock now. */
export interface CartItem {
	id: string;
	productId: string;
	variantId: string;
	/** null (and prices 0, available 0) when the variant no longer exists: checkout then refuses the cart. */
	sku: string | null;
	name: string | null;
	options: Record<string, string>;
	unitPrice: number;
	quantity: number;
	lineTotal: number;
	/** The line's share of the discount, its tax, and what it costs after both. */
	discount: number;
	tax: number;
	total: number;
	available: number;
}

export interface CartView {
	id: string;
	userId: string | null;
	status: CartStatus;
	currency: string;
	email: string | null;
	items: CartItem[];
	shippingAddress: ShippingAddress | null;
	discountCode: string | null;
	/** Why the cart's code takes nothing off now (it still shows, so the customer can remove it). */
	discountProblem?: NotApplicableReason;
	shippingMethodId: string | null;
	/** Why the chosen method costs nothing now: SHIPPING_NOT_AVAILABLE (no longer eligible) or SHIPPING_REQUIRED. */
	shippingProblem?: ShippingProblem;
	totals: Totals;
	orderId: string | null;
	createdAt: string;
	updatedAt: string;
}

export type ShippingProblem = "SHIPPING_REQUIRED" | "SHIPPING_NOT_AVAILABLE";

export interface CartDetails {
	email?: string;
	shippingAddress?: ShippingAddress;
	/** Checked with the shipping actor for the cart's country and currency; null clears it. */
	shippingMethodId?: string | null;
}
export interface UpdateCartParams extends CartDetails {
	id: string;
}
export interface DiscountParams {
	id: string;
	code: string;
}
export interface AddItemParams {
	id: string;
	variantId?: string;
	productId?: string;
	quantity: number;
}
export interface LineParams {
	id: string;
	lineId: string;
}

/** Who a cart action runs for (none for a guest); set by the gateway from the bearer token. */
export interface CartsMeta {
	user?: AuthUser;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		/**
		 * A guest cart, or the caller's current cart (created, or the existing one with status 200). A
		 * `shippingMethodId` needs `shippingAddress` and is checked like `carts.update`'s.
		 */
		"carts.create": { params: CartDetails; result: CartView };
		"carts.get": { params: { id: string }; result: CartView };
		/** The caller's current cart; 404 when none. */
		"carts.mine": { params: Record<string, never>; result: CartView };
		/** `shippingMethodId`: 422 SHIPPING_REQUIRED without an address, SHIPPING_NOT_AVAILABLE when not eligible. */
		"carts.update": { params: UpdateCartParams; result: CartView };
		"carts.addItem": { params: AddItemParams; result: CartView };
		"carts.updateItem": { params: LineParams & { quantity: number }; result: CartView };
		"carts.removeItem": { params: LineParams; result: CartView };
		/** A guest cart becomes the caller's, or is merged into the caller's current cart (then MERGED). */
		"carts.claim": { params: { id: string }; result: CartView };
		/**
		 * Applies a code (case-insensitive, stored upper case; replaces the cart's code) if it applies to the cart now,
		 * else 422 DISCOUNT_NOT_APPLICABLE with `data.reason` (cart unchanged).
		 */
		"carts.applyDiscount": { params: DiscountParams; result: CartView };
		/** Removes the cart's code; 404 NOT_FOUND when the cart does not hold that code. */
		"carts.removeDiscount": { params: DiscountParams; result: CartView };
		/** The methods for the cart's country, priced for this cart; 422 SHIPPING_REQUIRED without an address. */
		"carts.shippingMethods": { params: { id: string }; result: ShippingOption[] };
		/**
		 * Runs the order saga on the cart's lines, code and shipping method: answers like `orders.create`. 422
		 * SHIPPING_REQUIRED (no address or no method) or SHIPPING_NOT_AVAILABLE before anything starts.
		 */
		"carts.checkout": { params: { id: string; paymentToken: string }; result: OrderView };
	}
}
