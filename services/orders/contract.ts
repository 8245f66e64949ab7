// The orders actor's contract: its entity, the actions other actors and the gateway call and the events it publishes.
import type { AuthUser } from "../../lib/auth";
import { id, params, quantity, type Page } from "../../lib/actor";
import type { CollectionSpec, Doc } from "../../lib/storage";
import type { OrderStatus } from "./order-state";
import type { OrderFailure } from "./order-failure";
import type { OrderLineRequest, PricedLine } from "./pricing";

export interface ShippingAddress {
	line1: string;
	line2?: string;
	city: string;
	postalCode: string;
	country: string;
}

/** An order as stored, with the saga's bookkeeping: its lease, idempotency key and whether it is settled. */
export interface Order extends Doc {
	userId: string;
	status: OrderStatus;
	items: PricedLine[];
	currency: string;
	/** Minor units. */
	total: number;
	paymentToken: string;
	shippingAddress: ShippingAddress | null;
	/** Why the order failed, as the client is told (also on replays); null unless FAILED. */
	failure: OrderFailure | null;
	failureReason: string | null;
	/** SHA-256 (hex) of the user and the request's Idempotency-Key, unique; null when the request carried no key. */
	idempotencyKey: string | null;
	/** Digest of the request, so that a key reused for a different request is refused. */
	requestHash: string;
	/** True once nothing is left to do or undo (confirmed, or compensated after failing or cancelling). */
	settled: boolean;
	/** The node running the order's saga, until `leaseUntil` (ISO time); then recovery may take it over. */
	leaseOwner: string;
	/** Unique to the run holding the order: every write of a run requires it, and a takeover replaces it. */
	leaseToken: string;
	leaseUntil: string;
	createdAt: string;
	updatedAt: string;
}

/** The orders collection: a column for every field of Order. */
export const ORDERS: CollectionSpec<Order> = {
	name: "orders",
	fields: {
		userId: "string",
		status: "string",
		items: "json",
		currency: "string",
		total: "money",
		paymentToken: "string",
		shippingAddress: "json",
		failure: "json",
		failureReason: "string",
		idempotencyKey: "string",
		requestHash: "string",
		settled: "bool",
		leaseOwner: "string",
		leaseToken: "string",
		leaseUntil: "string",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["idempotencyKey"],
	indexes: ["userId", "status", "leaseUntil", "createdAt"],
};

/** What clients see of an order: no payment token, lease or idempotency bookkeeping. */
export type OrderView = Omit<
	Order,
	"paymentToken" | "requestHash" | "leaseOwner" | "leaseToken" | "leaseUntil" | "settled" | "failure" | "idempotencyKey"
>;

export function view(order: Order): OrderView {
	const { paymentToken, requestHash, leaseOwner, leaseToken, leaseUntil, settled, failure, idempotencyKey, ...rest } =
		order;
	return rest;
}

/** The payload of every order.* event. */
export interface OrderEventData {
	orderId: string;
	userId: string;
	status: OrderStatus;
	total: number;
	currency: string;
	items: PricedLine[];
	failureReason: string | null;
}

export type OrderEventType =
	"order.created" | "order.confirmed" | "order.failed" | "order.cancelled" | "order.shipped" | "order.delivered";

export interface CreateOrderParams {
	items: OrderLineRequest[];
	paymentToken: string;
	shippingAddress?: ShippingAddress;
}
export interface ListOrdersParams {
	page?: number;
	pageSize?: number;
	/** Admins only: customers always see their own orders. */
	userId?: string;
	status?: OrderStatus;
}
/** What the invariant check (lib/audit) reads of an order: its status, its lines and what it costs. */
export interface OrderAuditRow {
	id: string;
	status: OrderStatus;
	settled: boolean;
	items: { productId: string; quantity: number }[];
	total: number;
	currency: string;
}

/** A shipping address as orders (and carts, which check out into orders) validate it. */
export const SHIPPING_ADDRESS = {
	type: "object",
	strict: "remove",
	props: {
		line1: "string|max:200",
		line2: "string|max:200|optional",
		city: "string|max:100",
		postalCode: "string|max:20",
		country: "string|max:56",
	},
} as const;

/** What `orders.create` validates: lines by variant (or single-variant product), a payment token, an address. */
export const CREATE_ORDER_PARAMS = params({
	items: {
		type: "array",
		min: 1,
		max: 50,
		items: {
			type: "object",
			strict: "remove",
			props: { variantId: { ...id, optional: true }, productId: { ...id, optional: true }, quantity },
		},
	},
	paymentToken: { type: "string", min: 1, max: 100 },
	shippingAddress: { ...SHIPPING_ADDRESS, optional: true },
});

declare module "../../lib/actor" {
	interface ActionContracts {
		/** The caller (ctx.meta.user) must be signed in; the order is created, or replayed for a known key. */
		"orders.create": { params: CreateOrderParams; result: OrderView };
		"orders.list": { params: ListOrdersParams; result: Page<OrderView> };
		/** Checks the order exists and the caller (ctx.meta.user) may see it. */
		"orders.get": { params: { id: string }; result: OrderView };
		"orders.cancel": { params: { id: string }; result: OrderView };
		/** Admins only. */
		"orders.updateStatus": { params: { id: string; status: "SHIPPED" | "DELIVERED" }; result: OrderView };
		/** Internal: status of every order, page by page, for the invariant check. */
		"orders.audit": { params: { offset?: number; limit?: number }; result: OrderAuditRow[] };
	}
}

declare module "../../lib/events" {
	interface EventPayloads {
		"order.created": OrderEventData;
		"order.confirmed": OrderEventData;
		"order.failed": OrderEventData;
		"order.cancelled": OrderEventData;
		"order.shipped": OrderEventData;
		"order.delivered": OrderEventData;
	}
}

/** Who an order action runs for; set by the gateway from the bearer token. */
export interface OrdersMeta {
	user?: AuthUser;
}
