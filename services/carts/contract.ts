// The carts actor's contract: its entity, what clients see of it, and the actions the gateway and the REPL call.
import type { CollectionSpec, Doc } from "../../lib/storage";
import type { AuthUser } from "../../lib/auth";
import type { CreateOrderParams, OrderView, ShippingAddress } from "../orders/contract";

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
	totals: { subtotal: number; total: number };
	orderId: string | null;
	createdAt: string;
	updatedAt: string;
}

export interface CartDetails {
	email?: string;
	shippingAddress?: ShippingAddress;
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
		/** A guest cart, or the caller's current cart (created, or the existing one with status 200). */
		"carts.create": { params: CartDetails; result: CartView };
		"carts.get": { params: { id: string }; result: CartView };
		/** The caller's current cart; 404 when none. */
		"carts.mine": { params: Record<string, never>; result: CartView };
		"carts.update": { params: CartDetails & { id: string }; result: CartView };
		"carts.addItem": { params: AddItemParams; result: CartView };
		"carts.updateItem": { params: LineParams & { quantity: number }; result: CartView };
		"carts.removeItem": { params: LineParams; result: CartView };
		/** A guest cart becomes the caller's, or is merged into the caller's current cart (then MERGED). */
		"carts.claim": { params: { id: string }; result: CartView };
		/** Runs the order saga on the cart's lines: answers like `orders.create`. */
		"carts.checkout": { params: { id: string; paymentToken: string }; result: OrderView };
	}
}
