import { createHash, randomUUID } from "node:crypto";
import { Errors, type Context, type ServiceBroker, type ServiceSchema } from "moleculer";
import { DbMixin } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection } from "../../mixins/events.mixin";
import { AuthMixin } from "../../mixins/auth.mixin";
import { ConflictError, DuplicateKeyError, NotFoundError } from "../../lib/errors";
import { params, id, quantity, page, pageSize, pageOf, auditPage } from "../../lib/actor";
import type { ActionParams, ActionResult } from "../../lib/actor";
import type { DomainEventType } from "../../lib/events";
import type { Doc, Store } from "../../lib/storage";
import { ADMIN_STATUSES, ORDER_STATUSES, assertTransition, type OrderStatus } from "./order-state";
import { mergeLines, priceOrder, type OrderLineRequest } from "./pricing";
import { classifyFailure, failureError, type OrderFailure, type SagaStep } from "./order-failure";
import type { OrderAudit } from "./contract";

interface CreateParams {
	items: OrderLineRequest[];
	paymentToken: string;
	shippingAddress?: Record<string, string>;
}
type Caller = Context | ServiceBroker;

const LEASE_MS = Number(process.env.ORDER_LEASE_SECONDS ?? 15) * 1000;
const RECOVERY_INTERVAL_MS = 2000;
const REPLAY_WAIT_MS = 8000;
const REFUND_TIMEOUT_MS = 1500;
const RECOVERY_BATCH = 50;
const RECOVERY_PARALLEL = 8;

const ORDERS = {
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
		leaseUntil: "string",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["idempotencyKey"],
	indexes: ["userId", "status", "leaseUntil", "createdAt"],
} as const;

/** What clients see of an order: no payment token, lease or idempotency bookkeeping. */
function view(order: Doc) {
	const { paymentToken, requestHash, leaseOwner, leaseUntil, settled, failure, idempotencyKey, ...rest } = order;
	return rest;
}

const OrdersService: ServiceSchema = {
	name: "orders",
	mixins: [DbMixin(ORDERS, outboxCollection("orders")), EventsMixin, AuthMixin],

	actions: {
		create: {
			auth: "user",
			// Bounds the sagas one node runs at once, so a slow dependency cannot pile up work until the node falls over;
			// a burst waits in the queue (up to the timeout) instead of crowding the database pools.
			bulkhead: { enabled: true, concurrency: 50, maxQueueSize: 5000 },
			timeout: 30_000,
			params: params({
				items: {
					type: "array",
					min: 1,
					max: 50,
					items: { type: "object", strict: "remove", props: { productId: id, quantity } },
				},
				paymentToken: { type: "string", min: 1, max: 100 },
				shippingAddress: {
					type: "object",
					optional: true,
					strict: "remove",
					props: {
						line1: "string|max:200",
						line2: "string|max:200|optional",
						city: "string|max:100",
						postalCode: "string|max:20",
						country: "string|max:56",
					},
				},
			}),
			async handler(
				ctx: Context<
					CreateParams,
					{ idempotencyKey?: string; $statusCode?: number; $responseHeaders?: Record<string, string> }
				>,
			) {
				const user = this.currentUser(ctx);
				const key = ctx.meta.idempotencyKey ? `${user.id}:${ctx.meta.idempotencyKey}` : null;
				const requestHash = createHash("sha256")
					.update(JSON.stringify([ctx.params.items, ctx.params.paymentToken, ctx.params.shippingAddress ?? null]))
					.digest("hex");
				if (key) {
					const existing = await this.store.findOne({ idempotencyKey: key });
					if (existing) return this.replay(ctx, existing, requestHash);
				}

				const lines = mergeLines(ctx.params.items);
				const products = await ctx.call("products.getMany", { ids: lines.map(l => l.productId) });
				const priced = priceOrder(lines, products as never);
				const now = new Date().toISOString();
				const orderId = randomUUID();
				// With no payments node able to take a charge (none up, or every breaker open), the order is refused at
				// once: stored as FAILED in the same write, before it takes any stock.
				const refused = (this.broker.registry as any).getActionEndpoints("payments.charge")?.hasAvailable()
					? null
					: {
							...classifyFailure(
								"payment",
								new Errors.ServiceNotAvailableError({ action: "payments.charge" }),
								orderId,
							),
							chargeMayExist: false,
						};
				const order: Doc = {
					id: orderId,
					userId: user.id,
					status: refused ? "FAILED" : "PENDING",
					items: priced.items,
					currency: priced.currency,
					total: priced.total,
					paymentToken: ctx.params.paymentToken,
					shippingAddress: ctx.params.shippingAddress ?? null,
					failure: refused,
					failureReason: refused?.type ?? null,
					idempotencyKey: key,
					requestHash,
					settled: !!refused,
					leaseOwner: this.broker.nodeID,
					leaseUntil: new Date(Date.now() + LEASE_MS).toISOString(),
					createdAt: now,
					updatedAt: now,
				};
				try {
					await this.store.transaction(async (tx: unknown) => {
						await this.store.insert(order, tx);
						await this.publishEvent(
							ctx,
							"order.created",
							this.eventData({ ...order, status: "PENDING", failure: null }),
							{ id: `${order.id}:created`, tx },
						);
						if (refused)
							await this.publishEvent(ctx, "order.failed", this.eventData(order), { id: `${order.id}:failed`, tx });
					});
				} catch (err) {
					// A concurrent request with the same key won the insert: answer with its order.
					if (err instanceof DuplicateKeyError && key)
						return this.replay(ctx, (await this.store.findOne({ idempotencyKey: key }))!, requestHash);
					throw err;
				}
				if (refused) {
					this.broker.metrics.increment("emporium.orders.total", { status: "FAILED" });
					return this.respond(ctx, order);
				}
				return this.respond(ctx, await this.advance(ctx, order));
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
			async handler(ctx: Context<{ page?: number; pageSize?: number; userId?: string; status?: OrderStatus }>) {
				const { page: p = 1, pageSize: size = 20, userId, status } = ctx.params;
				const where: Record<string, string> = {};
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
			async handler(ctx: Context<{ id: string }>) {
				return view(await this.findOwnOrder(ctx, ctx.params.id));
			},
		},

		cancel: {
			auth: "user",
			params: params({ id }),
			async handler(ctx: Context<{ id: string }>) {
				const order = await this.findOwnOrder(ctx, ctx.params.id);
				assertTransition(order.status, "CANCELLED");
				const cancelled = await this.transition(
					ctx,
					order,
					"CONFIRMED",
					{
						status: "CANCELLED",
						settled: false,
						leaseOwner: this.broker.nodeID,
						leaseUntil: new Date(Date.now() + LEASE_MS).toISOString(),
					},
					"order.cancelled",
				);
				if (!cancelled) throw new ConflictError("The order changed meanwhile, reload it", "INVALID_TRANSITION");
				await this.compensate(ctx, cancelled);
				return view(await this.reload(order.id));
			},
		},

		updateStatus: {
			auth: "admin",
			params: params({ id, status: { type: "enum", values: [...ADMIN_STATUSES] } }),
			async handler(ctx: Context<{ id: string; status: "SHIPPED" | "DELIVERED" }>) {
				const order = await this.reload(ctx.params.id);
				assertTransition(order.status, ctx.params.status);
				const event = ctx.params.status === "SHIPPED" ? "order.shipped" : "order.delivered";
				if (!(await this.transition(ctx, order, order.status, { status: ctx.params.status }, event))) {
					throw new ConflictError("The order changed meanwhile, reload it", "INVALID_TRANSITION");
				}
				return view(await this.reload(order.id));
			},
		},

		/** Internal: every order's status, lines and money, for the invariant check. */
		audit: {
			params: params(auditPage),
			async handler(ctx: Context<ActionParams<"orders.audit">>): Promise<ActionResult<"orders.audit">> {
				const { offset = 0, limit = 10_000_000 } = ctx.params;
				const orders = await (this.store as Store<OrderAudit>).find({}, { sort: ["id"], offset, limit });
				return orders.map(({ id: orderId, status, settled, items, total, currency }) => ({
					id: orderId,
					status,
					settled: !!settled,
					items: items.map(({ productId, quantity: q }) => ({ productId, quantity: q })),
					total,
					currency,
				}));
			},
		},
	},

	methods: {
		/**
		 * The saga: reserve, charge, commit, confirm. Each step is idempotent per order, so a node that takes over
		 * an abandoned order simply runs it again from the start.
		 */
		async advance(caller: Caller, order: Doc): Promise<Doc> {
			const lines = (order.items as { productId: string; quantity: number }[]).map(({ productId, quantity: q }) => ({
				productId,
				quantity: q,
			}));
			const steps: [SagaStep, () => Promise<unknown>][] = [
				["reserve", () => caller.call("inventory.reserve", { orderId: order.id, items: lines })],
				[
					"payment",
					() =>
						caller.call("payments.charge", {
							orderId: order.id,
							userId: order.userId,
							amount: order.total,
							currency: order.currency,
							paymentToken: order.paymentToken,
						}),
				],
				["commit", () => caller.call("inventory.commit", { orderId: order.id })],
			];
			let leaseUntil = Date.parse(order.leaseUntil as string);
			for (const [step, run] of steps) {
				// A slow saga renews its lease; if another node has taken the order over meanwhile, this run stops.
				if (Date.now() > leaseUntil - LEASE_MS / 2) {
					const next = new Date(Date.now() + LEASE_MS).toISOString();
					if (
						!(await this.store.update(
							{ id: order.id, status: "PENDING", leaseOwner: this.broker.nodeID },
							{ set: { leaseUntil: next } },
						))
					)
						return this.reload(order.id);
					leaseUntil = Date.parse(next);
				}
				try {
					await run();
				} catch (err: any) {
					this.logger.info(`Order ${order.id} failed at ${step}: ${err.type ?? err.name} ${err.message}`);
					return this.fail(caller, order, classifyFailure(step, err, order.id));
				}
			}
			const confirmed = await this.transition(
				this.contextOf(caller),
				order,
				"PENDING",
				{ status: "CONFIRMED", settled: true },
				"order.confirmed",
			);
			if (confirmed) {
				this.broker.metrics.increment("emporium.orders.total", { status: "CONFIRMED" });
				this.broker.metrics.increment("emporium.orders.value", { currency: order.currency }, order.total as number);
			}
			return confirmed ?? this.reload(order.id);
		},

		async fail(caller: Caller, order: Doc, failure: OrderFailure): Promise<Doc> {
			const failed = await this.transition(
				this.contextOf(caller),
				order,
				"PENDING",
				{ status: "FAILED", failure, failureReason: failure.type },
				"order.failed",
			);
			if (!failed) return this.reload(order.id);
			this.broker.metrics.increment("emporium.orders.total", { status: "FAILED" });
			await this.compensate(caller, failed);
			return failed;
		},

		/** Gives back what a failed or cancelled order holds. If a call fails the order stays unsettled and recovery retries. */
		async compensate(caller: Caller, order: Doc): Promise<void> {
			try {
				await caller.call("inventory.release", { orderId: order.id });
				const failure = order.failure as OrderFailure | null;
				if (order.status === "CANCELLED" || failure?.chargeMayExist) {
					// Short and without retries: the client is waiting, and recovery retries an unsettled order anyway.
					await caller.call(
						"payments.refund",
						{ orderId: order.id, reason: order.status === "CANCELLED" ? "cancelled" : failure!.type },
						{ timeout: REFUND_TIMEOUT_MS, retries: 0 },
					);
				}
				await this.store.update({ id: order.id }, { set: { settled: true } });
			} catch (err: any) {
				this.logger.warn(`Compensation of order ${order.id} incomplete, recovery will retry: ${err.message}`);
			}
		},

		/** Compare-and-set of the status, with its domain event in the same transaction; null if the order moved on. */
		async transition(
			ctx: Context | null,
			order: Doc,
			from: OrderStatus,
			set: Record<string, unknown>,
			event: DomainEventType,
		): Promise<Doc | null> {
			const next = { ...order, ...set, updatedAt: new Date().toISOString() };
			const changed = await this.store.transaction(async (tx: unknown) => {
				if (
					!(await this.store.update({ id: order.id, status: from }, { set: { ...set, updatedAt: next.updatedAt } }, tx))
				)
					return false;
				await this.publishEvent(ctx, event, this.eventData(next), {
					id: `${order.id}:${String(set.status).toLowerCase()}`,
					tx,
				});
				return true;
			});
			return changed ? next : null;
		},

		eventData(order: Doc) {
			const failure = order.failure as OrderFailure | null;
			return {
				orderId: order.id,
				userId: order.userId,
				status: order.status,
				total: order.total,
				currency: order.currency,
				items: order.items,
				failureReason: failure?.type ?? null,
			};
		},

		respond(ctx: Context<unknown, { $statusCode?: number; $location?: string }>, order: Doc) {
			if (order.status === "FAILED") throw failureError(order.failure as OrderFailure);
			ctx.meta.$statusCode = 201;
			ctx.meta.$location = `/api/orders/${order.id}`;
			return view(order);
		},

		/** The same key from the same user answers with the first order once it has settled, and never charges again. */
		async replay(
			ctx: Context<unknown, { $responseHeaders?: Record<string, string> }>,
			existing: Doc,
			requestHash: string,
		) {
			if (existing.requestHash !== requestHash)
				throw new ConflictError("This Idempotency-Key was used for a different request", "IDEMPOTENCY_KEY_REUSED");
			let order = existing;
			for (const deadline = Date.now() + REPLAY_WAIT_MS; order.status === "PENDING" && Date.now() < deadline;) {
				await new Promise(resolve => setTimeout(resolve, 25));
				order = await this.reload(existing.id);
			}
			if (order.status === "PENDING")
				throw new ConflictError(
					"The first request with this Idempotency-Key is still in progress",
					"IDEMPOTENT_REQUEST_IN_PROGRESS",
					{ orderId: order.id },
				);
			ctx.meta.$responseHeaders = { "Idempotent-Replayed": "true" };
			return this.respond(ctx, order);
		},

		async reload(orderId: string): Promise<Doc> {
			const order = await this.store.findOne({ id: orderId });
			if (!order) throw new NotFoundError("Order", { id: orderId });
			return order;
		},

		async findOwnOrder(ctx: Context, orderId: string): Promise<Doc> {
			const order = await this.store.findOne({ id: orderId });
			if (!order) throw new NotFoundError("Order", { id: orderId });
			this.assertOwner(ctx, order.userId, "Order");
			return order;
		},

		contextOf(caller: Caller): Context | null {
			return "broker" in caller && "params" in caller ? (caller as Context) : null;
		},

		/** Picks up orders whose node died or gave up mid-way (lease expired) and finishes or compensates them. */
		async recoverOrders(): Promise<void> {
			const now = new Date().toISOString();
			const stale: Doc[] = await this.store.find(
				{ settled: false, leaseUntil: { $lt: now } },
				{ sort: ["leaseUntil"], limit: RECOVERY_BATCH },
			);
			const recoverOne = async (order: Doc) => {
				const lease = { leaseOwner: this.broker.nodeID, leaseUntil: new Date(Date.now() + LEASE_MS).toISOString() };
				if (!(await this.store.update({ id: order.id, leaseUntil: order.leaseUntil as string }, { set: lease })))
					return;
				Object.assign(order, lease);
				this.logger.info(`Recovering order ${order.id} (${order.status})`);
				if (order.status === "PENDING") await this.advance(this.broker, order);
				else await this.compensate(this.broker, order);
			};
			for (let i = 0; i < stale.length; i += RECOVERY_PARALLEL)
				await Promise.all(stale.slice(i, i + RECOVERY_PARALLEL).map(recoverOne));
		},
	},

	created() {
		this.store = this.stores.orders as Store;
	},

	started() {
		this.recoveryTimer = setInterval(() => {
			if (this.recovering) return;
			this.recovering = true;
			this.recoverOrders()
				.catch((err: Error) => this.logger.warn(`Order recovery failed: ${err.message}`))
				.finally(() => (this.recovering = false));
		}, RECOVERY_INTERVAL_MS);
	},

	stopped() {
		clearInterval(this.recoveryTimer);
	},
};

export default OrdersService;
