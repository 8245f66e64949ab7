// The orders actor's contract: its entity, the actions other actors call and the events it publishes.
import type { Doc } from "../../lib/storage";
import type { OrderStatus } from "./order-state";

/** An order as stored; clients see it without the payment token and the saga's bookkeeping. */
export interface OrderSummary extends Doc {
	userId: string;
	status: OrderStatus;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		/** Checks the order exists and the caller (ctx.meta.user) may see it. */
		"orders.get": { params: { id: string }; result: OrderSummary };
	}
}
