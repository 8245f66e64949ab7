import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Context, Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { ConflictError, DuplicateKeyError, NotFoundError } from "../../lib/errors";
import { defineService, params, id, page, pageSize, pageOf, auditPage } from "../../lib/actor";
import { loadOrdersConfig, type OrdersConfig } from "../../lib/config";
import type { Store, Where } from "../../lib/storage";
import { ADMIN_STATUSES, ORDER_STATUSES, assertTransition } from "./order-state";
import { priceRequest, pricingCalls } from "./order-pricing";
import { ORDER_MIGRATIONS } from "./migrations";
import { failureError, noPaymentNode } from "./order-failure";
import {
	CREATE_ORDER_PARAMS,
	ORDERS,
	auditRow,
	view,
	type CreateOrderParams,
	type ListOrdersParams,
	type Order,
	type OrdersMeta,
} from "./contract";
import type { OrderAuditRow, OrderView } from "./contract";
import * as saga from "./saga";
import { RETURNS, retryRefunds, returnActions, returnMethods } from "./return-actions";

const RECOVERY_INTERVAL_MS = 2000;

interface ResponseMeta {
	$statusCode?: number;
	$location?: string;
	$responseHeaders?: Record<string, string>;
}
type CreateMeta = OrdersMeta & ResponseMeta & { idempotencyKey?: string };

interface OrdersMethods {
	/** The saga's dependencies for a run on behalf of the request `ctx`, or of recovery (null). */
	sagaDeps(ctx: Context | null): saga.SagaDeps;
	respond(ctx: Context<unknown, ResponseMeta>, order: Order): OrderView;
	findOwnOrder(ctx: Context<unknown, OrdersMeta>, orderId: string): Promise<Order>;
}
interface OrdersState {
	store: Store<Order>;
	timings: OrdersConfig;
	recoveryTimer?: NodeJS.Timeout;
	/** The recovery pass in progress: not a request, so the broker's request tracking does not wait for it. */
	recovery?: Promise<unknown>;
	stopping: boolean;
}
type OrdersThis = Service & DbThis & EventsThis & AuthThis & OrdersMethods & OrdersState & typeof returnMethods;

const changedMeanwhile = () => new ConflictError("The order changed meanwhile, reload it", "INVALID_TRANSITION");

const OrdersService = defineService<OrdersThis>({
	name: "orders",
	mixins: [DbMixin(ORDERS, RETURNS, outboxCollection("orders")), EventsMixin, AuthMixin],

	actions: {
		create: {
			auth: "user",
			// Bounds the sagas one node runs at once: a burst waits in this queue (up to the request timeout), before any
			// step's timeout runs, instead of crowding inventory's database pool (10 connections) until steps time out.
			bulkhead: { enabled: true, concurrency: 20, maxQueueSize: 5000 },
			timeout: 30_000,
			params: CREATE_ORDER_PARAMS,
			async handler(this: OrdersThis, ctx: Context<CreateOrderParams, CreateMeta>): Promise<OrderView> {
				const user = this.currentUser(ctx);
				const deps = this.sagaDeps(ctx);
				const key = saga.idempotencyKey(user.id, ctx.meta.idempotencyKey);
				const requestHash = saga.requestHash(ctx.params);
				const replied = (order: Order) => {
					ctx.meta.$responseHeaders = { "Idempotent-Replayed": "true" };
					return this.respond(ctx, order);
				};
				const replayed = key && (await saga.replay(deps, key, requestHash));
				if (replayed) return replied(replayed);

				const priced = await priceRequest(pricingCalls(ctx), ctx.params, user.id);
				const orderId = randomUUID();
				// With no payments node able to take a charge the order is refused at once.
				const refused = this.broker.registry.actions.get("payments.charge")?.hasAvailable()
					? null
					: noPaymentNode(orderId);
				const draft = { id: orderId, userId: user.id, ...priced, paymentToken: ctx.params.paymentToken };
				let order: Order;
				try {
					order = await saga.start(
						deps,
						{ ...draft, shippingAddress: ctx.params.shippingAddress ?? null, idempotencyKey: key, requestHash },
						refused,
					);
				} catch (err) {
					// A concurrent request with the same key won the insert: answer with its order.
					const winner = err instanceof DuplicateKeyError && key && (await saga.replay(deps, key, requestHash));
					if (winner) return replied(winner);
					throw err;
				}
				if (refused) return this.respond(ctx, order);
				const ended = await saga.advance(deps, order, { first: true });
				// A run that lost the order to another run answers with that run's outcome.
				return this.respond(ctx, ended.status === "PENDING" ? await saga.outcome(deps, order.id) : ended);
			},
		},

		list: {
			auth: "user",
			params: params({
				page,
				pageSize,
				userId: { ...id, optional: true },
				status: { type: "enum", values: [...ORDER_STATUSES], optional: true },
			}),
			async handler(this: OrdersThis, ctx: Context<ListOrdersParams, OrdersMeta>) {
				const { page: p = 1, pageSize: size = 20, userId, status } = ctx.params;
				const where: Where<Order> = {};
				// Customers only ever see their own orders; the userId filter is for admins.
				if (!this.isAdmin(ctx)) where.userId = this.currentUser(ctx).id;
				else if (userId) where.userId = userId;
				if (status) where.status = status;
				const [rows, total] = await Promise.all([
					this.store.find(where, { sort: ["-createdAt", "id"], limit: size, offset: (p - 1) * size }),
					this.store.count(where),
				]);
				return pageOf(rows.map(view), total, p, size);
			},
		},

		get: {
			auth: "user",
			params: params({ id }),
			async handler(this: OrdersThis, ctx: Context<{ id: string }, OrdersMeta>): Promise<OrderView> {
				return view(await this.findOwnOrder(ctx, ctx.params.id));
			},
		},

		cancel: {
			auth: "user",
			params: params({ id }),
			async handler(this: OrdersThis, ctx: Context<{ id: string }, OrdersMeta>): Promise<OrderView> {
				const order = await this.findOwnOrder(ctx, ctx.params.id);
				assertTransition(order.status, "CANCELLED");
				if (!(await saga.cancel(this.sagaDeps(ctx), order))) throw changedMeanwhile();
				return view(await saga.reload(this.store, order.id));
			},
		},

		updateStatus: {
			auth: "admin",
			params: params({ id, status: { type: "enum", values: [...ADMIN_STATUSES] } }),
			async handler(this: OrdersThis, ctx: Context<{ id: string; status: "SHIPPED" | "DELIVERED" }>) {
				const order = await saga.reload(this.store, ctx.params.id);
				assertTransition(order.status, ctx.params.status);
				const deps = this.sagaDeps(ctx);
				const change = saga.shipmentChange(ctx.params.status, deps.now());
				const moved = await saga.transition(deps, order, order.status, change);
				if (!moved) throw changedMeanwhile();
				return view(await saga.reload(this.store, order.id));
			},
		},

		/** Internal: status of every order, for the invariant check. */
		audit: {
			params: params(auditPage),
			async handler(this: OrdersThis, ctx: Context<{ offset?: number; limit?: number }>): Promise<OrderAuditRow[]> {
				const { offset = 0, limit = 10_000_000 } = ctx.params;
				const rows = await this.store.find({}, { sort: ["id"], offset, limit });
				return rows.map(auditRow);
			},
		},
		...returnActions,
	},

	methods: {
		...returnMethods,
		sagaDeps(this: OrdersThis, ctx: Context | null): saga.SagaDeps {
			return {
				store: this.store,
				calls: saga.actorCalls(ctx ?? this.broker),
				publish: (type, data, opts) => this.publishEvent(ctx, type, data, opts),
				now: Date.now,
				sleep: ms => sleep(ms),
				newToken: randomUUID,
				...this.timings,
				nodeID: this.broker.nodeID,
				logger: this.logger,
				metrics: this.broker.metrics,
			};
		},

		/**
		 * 201 with the order, or the order's failure as an error; the same on every idempotent replay. 202 with the order
		 * still PENDING when the run that took it over has not finished it yet.
		 */
		respond(this: OrdersThis, ctx: Context<unknown, ResponseMeta>, order: Order): OrderView {
			if (order.status === "FAILED") {
				if (!order.failure) throw new Error(`Order ${order.id} is FAILED without a recorded failure`);
				throw failureError(order.failure);
			}
			ctx.meta.$statusCode = order.status === "PENDING" ? 202 : 201;
			ctx.meta.$location = `/api/orders/${order.id}`;
			return view(order);
		},

		async findOwnOrder(this: OrdersThis, ctx: Context<unknown, OrdersMeta>, orderId: string): Promise<Order> {
			const order = await this.store.findOne({ id: orderId });
			if (!order) throw new NotFoundError("Order", { id: orderId });
			this.assertOwner(ctx, order.userId, "Order");
			return order;
		},
	},

	created(this: OrdersThis) {
		this.store = this.storeFor(ORDERS);
		// Refuses to start with timings under which one saga step could outlast the lease.
		this.timings = loadOrdersConfig();
		saga.assertTimings(this.timings);
		this.stopping = false;
	},

	async started(this: OrdersThis) {
		await this.migrate(ORDER_MIGRATIONS);
		const active = () => !this.stopping && !this.broker.stopping;
		this.recoveryTimer = setInterval(() => {
			if (this.recovery || !active()) return;
			this.recovery = Promise.all([
				saga.recoverStale(this.sagaDeps(null), active),
				retryRefunds(this.returnDeps(null), active),
			])
				.catch((err: Error) => this.logger.warn(`Order recovery failed: ${err.message}`))
				.finally(() => (this.recovery = undefined));
		}, RECOVERY_INTERVAL_MS);
	},

	/** Runs before the mixins' stopped handlers: recovery finishes its runs while the stores are still open. */
	async stopped(this: OrdersThis) {
		this.stopping = true;
		clearInterval(this.recoveryTimer);
		await this.recovery;
	},
});

export default OrdersService;
