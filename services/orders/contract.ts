// The orders actor's contract: its entity, the actions other actors and the gateway call and the events it publishes.
import type { AuthUser } from "../../lib/auth";
import { country, id, params, quantity, type Page } from "../../lib/actor";
import type { CollectionSpec, Doc } from "../../lib/storage";
import type { OrderStatus } from "./order-state";
import type { OrderFailure } from "./order-failure";
import { stockKey, type OrderLineRequest, type PricedLine } from "./pricing";
import type { DiscountRule, LineAmounts, ShippingCharge, TaxRule, Totals } from "./totals";

export interface ShippingAddress {
	line1: string;
	line2?: string;
	city: string;
	postalCode: string;
	country: string;
}

/** An order's line: what it was priced at, its share of the discount, its tax, and what it cost after both. */
export type OrderItem = PricedLine & LineAmounts;

/** An order as stored, with the saga's bookkeeping: its lease, idempotency key and whether it is settled. */
export interface Order extends Doc {
	userId: string;
	status: OrderStatus;
	items: OrderItem[];
	currency: string;
	/** Minor units: `totals.total`, what is charged. */
	total: number;
	totals: Totals;
	/** The code the order was priced with (upper case), and what it took off; null without one. */
	discountCode: string | null;
	discount: DiscountRule | null;
	/** The shipping method and the tax rule the order was priced with; null without. */
	shippingMethod: ShippingCharge | null;
	taxRate: TaxRule | null;
	/** When the order was shipped and delivered (ISO); the return window runs from delivery, or from shipping before. */
	shippedAt: string | null;
	deliveredAt: string | null;
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
		totals: "json",
		discountCode: "string",
		discount: "json",
		shippingMethod: "json",
		taxRate: "json",
		shippedAt: "string",
		deliveredAt: "string",
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

/** What the invariant check reads of an order; stock is keyed by variant id (lib/audit matches the reservations). */
export function auditRow(order: Order): OrderAuditRow {
	const { id, status, settled, items, total, currency, discountCode } = order;
	const lines = items.map(item => ({ productId: stockKey(item), quantity: item.quantity }));
	return { id, status, settled: !!settled, items: lines, total, currency, discountCode: discountCode ?? null };
}

/** The payload of every order.* event. */
export interface OrderEventData {
	orderId: string;
	userId: string;
	status: OrderStatus;
	total: number;
	totals: Totals;
	currency: string;
	items: OrderItem[];
	discountCode: string | null;
	failureReason: string | null;
}

export type OrderEventType =
	| "order.created"
	| "order.confirmed"
	| "order.failed"
	| "order.cancelled"
	| "order.shipped"
	| "order.delivered"
	| "order.returned";

export interface CreateOrderParams {
	items: OrderLineRequest[];
	paymentToken: string;
	shippingAddress?: ShippingAddress;
	/** Case-insensitive; 422 DISCOUNT_NOT_APPLICABLE when it does not apply. */
	discountCode?: string;
	/** Needs `shippingAddress`; without it the order costs no shipping. */
	shippingMethodId?: string;
}

export type ReturnStatus = "REQUESTED" | "RECEIVED" | "REJECTED";

/** One variant of a return, and what returning it gives back (price - discount share + tax share). */
export interface ReturnItem {
	variantId: string;
	quantity: number;
	refundAmount: number;
}

/** A return of part of an order; its id is the refund's idempotency key in payments. */
export interface OrderReturn extends Doc {
	orderId: string;
	userId: string;
	status: ReturnStatus;
	items: ReturnItem[];
	/** The sum of the items', plus shipping and its tax on the return that leaves nothing of the order unreturned. */
	refundAmount: number;
	currency: string;
	reason: string | null;
	/** RECEIVED until payments has given the money back: "PENDING", then "DONE"; null before. */
	refundStatus: "PENDING" | "DONE" | null;
	createdAt: string;
	updatedAt: string;
}
/** What clients see of a return: all of it. */
export type ReturnView = OrderReturn;

/** The payload of every return.* event: the return, named by `returnId`. */
export type ReturnEventData = Pick<
	OrderReturn,
	"orderId" | "userId" | "status" | "items" | "refundAmount" | "currency"
> & {
	returnId: string;
};
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
	/** The code whose use the order holds (until it fails or is cancelled); null without one. */
	discountCode: string | null;
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
		country,
	},
} as const;

/** A discount code as clients type it: 3 to 32 of [A-Za-z0-9_-] (stored and compared upper case). */
export const DISCOUNT_CODE = { type: "string", pattern: "^[A-Za-z0-9_-]{3,32}$" } as const;

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
	discountCode: { ...DISCOUNT_CODE, optional: true },
	shippingMethodId: { ...id, optional: true },
});

/** A return request: variants and quantities of an order, and why. */
export const RETURN_PARAMS = params({
	id,
	items: {
		type: "array",
		min: 1,
		max: 50,
		items: { type: "object", strict: "remove", props: { variantId: id, quantity } },
	},
	reason: { type: "string", max: 500, optional: true },
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
		/** Owner or admin (README "Returns"). */
		"orders.requestReturn": {
			params: { id: string; items: { variantId: string; quantity: number }[]; reason?: string };
			result: ReturnView;
		};
		/** Owner or admin: the order's returns. */
		"orders.returns": { params: { id: string }; result: Page<ReturnView> };
		/** Admin: every return, newest first, filtered by status. */
		"orders.listReturns": {
			params: { page?: number; pageSize?: number; status?: ReturnStatus };
			result: Page<ReturnView>;
		};
		/** Admin: REQUESTED → RECEIVED (stock back, refund through payments) or REJECTED; else 409 INVALID_TRANSITION. */
		"orders.receiveReturn": { params: { id: string }; result: ReturnView };
		"orders.rejectReturn": { params: { id: string }; result: ReturnView };
		/** Internal: every return, for the invariant check. */
		"orders.auditReturns": {
			params: { offset?: number; limit?: number };
			result: Pick<OrderReturn, "id" | "orderId" | "status" | "items" | "refundAmount" | "refundStatus">[];
		};
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
		/** The order became PARTIALLY_RETURNED or RETURNED (its status says which). */
		"order.returned": OrderEventData;
		"return.requested": ReturnEventData;
		"return.received": ReturnEventData;
		"return.rejected": ReturnEventData;
	}
}

/** Who an order action runs for; set by the gateway from the bearer token. */
export interface OrdersMeta {
	user?: AuthUser;
}
