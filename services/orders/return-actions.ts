// The orders actor's return actions and the methods they need, spread into orders.service.ts; the rules are in
// returns.ts and the flow in return-flow.ts.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Context, Service } from "moleculer";
import { auditPage, id, page, pageOf, pageSize, params, type ActionResult, type Page } from "../../lib/actor";
import type { OrdersConfig } from "../../lib/config";
import type { Where } from "../../lib/storage";
import type { AuthThis } from "../../mixins/auth.mixin";
import type { DbThis } from "../../mixins/db.mixin";
import type { EventsThis } from "../../mixins/events.mixin";
import { ORDERS, RETURN_PARAMS, type Order, type OrdersMeta, type ReturnStatus, type ReturnView } from "./contract";
import {
	keyedQueue,
	receiveReturn,
	rejectReturn,
	requestReturn,
	returnCalls,
	type KeyedQueue,
	type ReturnDeps,
} from "./return-flow";
import { RETURNS, returnView, type StoredReturn } from "./returns";

export { RETURNS } from "./returns";
export { retryRefunds } from "./return-flow";

const RETURN_STATUSES: readonly ReturnStatus[] = ["REQUESTED", "RECEIVED", "REJECTED"];

/** What the return actions need of the orders service. */
export type ReturnsHost = Service &
	DbThis &
	EventsThis &
	AuthThis & {
		timings: OrdersConfig;
		/** Made at the first return action of this node. */
		returnQueue?: KeyedQueue;
		returnDeps(ctx: Context | null): ReturnDeps;
		findOwnOrder(ctx: Context<unknown, OrdersMeta>, orderId: string): Promise<Order>;
	};

interface RequestParams {
	id: string;
	items: { variantId: string; quantity: number }[];
	reason?: string;
}
type PageParams = { page?: number; pageSize?: number };

async function pageOfReturns(
	host: ReturnsHost,
	where: Where<StoredReturn>,
	{ page: p = 1, pageSize: size = 20 }: PageParams,
): Promise<Page<ReturnView>> {
	const store = host.storeFor(RETURNS);
	const [rows, total] = await Promise.all([
		store.find(where, { sort: ["-createdAt", "id"], limit: size, offset: (p - 1) * size }),
		store.count(where),
	]);
	return pageOf(rows.map(returnView), total, p, size);
}

export const returnMethods = {
	/** The returns flow's dependencies for a request `ctx`, or for the sweep (null). */
	returnDeps(this: ReturnsHost, ctx: Context | null): ReturnDeps {
		return {
			...this.timings,
			orders: this.storeFor(ORDERS),
			returns: this.storeFor(RETURNS),
			calls: returnCalls(ctx ?? this.broker),
			queue: (this.returnQueue ??= keyedQueue()),
			publish: (type, data, opts) => this.publishEvent(ctx, type, data, opts),
			now: Date.now,
			sleep: ms => sleep(ms),
			newId: randomUUID,
			windowDays: this.timings.returnWindowDays,
			logger: this.logger,
		};
	},
};

export const returnActions = {
	/** Owner or admin: 201 with the REQUESTED return, or 422 RETURN_NOT_ALLOWED with `data.reason`. */
	requestReturn: {
		auth: "user" as const,
		params: RETURN_PARAMS,
		async handler(
			this: ReturnsHost,
			ctx: Context<RequestParams, OrdersMeta & { $statusCode?: number }>,
		): Promise<ReturnView> {
			const order = await this.findOwnOrder(ctx, ctx.params.id);
			const { items, reason } = ctx.params;
			const ret = await requestReturn(this.returnDeps(ctx), order, items, reason ?? null);
			ctx.meta.$statusCode = 201;
			return returnView(ret);
		},
	},

	/** Owner or admin: the order's returns, newest first. */
	returns: {
		auth: "user" as const,
		params: params({ id, page, pageSize }),
		async handler(this: ReturnsHost, ctx: Context<{ id: string } & PageParams, OrdersMeta>) {
			const order = await this.findOwnOrder(ctx, ctx.params.id);
			return pageOfReturns(this, { orderId: order.id }, ctx.params);
		},
	},

	/** Admin: every return, newest first, filtered by status. */
	listReturns: {
		auth: "admin" as const,
		params: params({ page, pageSize, status: { type: "enum", values: [...RETURN_STATUSES], optional: true } }),
		async handler(this: ReturnsHost, ctx: Context<PageParams & { status?: ReturnStatus }>) {
			const { status } = ctx.params;
			return pageOfReturns(this, status ? { status } : {}, ctx.params);
		},
	},

	/** Admin: REQUESTED → RECEIVED, stock back and the refund (PENDING until payments has it); else 409. */
	receiveReturn: {
		auth: "admin" as const,
		params: params({ id }),
		async handler(this: ReturnsHost, ctx: Context<{ id: string }>): Promise<ReturnView> {
			return returnView(await receiveReturn(this.returnDeps(ctx), ctx.params.id));
		},
	},

	/** Admin: REQUESTED → REJECTED; else 409. */
	rejectReturn: {
		auth: "admin" as const,
		params: params({ id }),
		async handler(this: ReturnsHost, ctx: Context<{ id: string }>): Promise<ReturnView> {
			return returnView(await rejectReturn(this.returnDeps(ctx), ctx.params.id));
		},
	},

	/** Internal: every return, page by page, for the invariant check. */
	auditReturns: {
		params: params(auditPage),
		async handler(
			this: ReturnsHost,
			ctx: Context<{ offset?: number; limit?: number }>,
		): Promise<ActionResult<"orders.auditReturns">> {
			const { offset = 0, limit = 10_000_000 } = ctx.params;
			const rows = await this.storeFor(RETURNS).find({}, { sort: ["id"], offset, limit });
			return rows.map(({ id: returnId, orderId, status, items, refundAmount, refundStatus }) => ({
				id: returnId,
				orderId,
				status,
				items,
				refundAmount,
				refundStatus,
			}));
		},
	},
};
