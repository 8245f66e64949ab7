// The orders actor's contract: its entity, the actions other actors call and the events it publishes.
import type { Doc } from "../../lib/storage";
import type { OrderStatus } from "./order-state";

/** An order as stored; clients see it without the payment token and the saga's bookkeeping. */
export interface OrderSummary extends Doc {
	userId: string;
	status: OrderStatus;
}

/** What the invariant check (lib/audit) reads of an order: its status, its lines and what it costs. */
export interface OrderAudit {
	id: string;
	status: OrderStatus;
	settled: boolean;
	items: { productId: string; quantity: number }[];
	total: number;
	currency: string;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		/** Checks the order exists and the caller (ctx.meta.user) may see it. */
		"orders.get": { params: { id: string }; result: OrderSummary };
		/** Every order, paged (`offset`/`limit`, default everything), for the invariant check. */
		"orders.audit": { params: { offset?: number; limit?: number }; result: OrderAudit[] };
	}
}
