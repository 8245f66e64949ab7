import { randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection } from "../../mixins/events.mixin";
import { AuthMixin } from "../../mixins/auth.mixin";
import { ConflictError, DuplicateKeyError, PaymentDeclinedError, PaymentUnavailableError } from "../../lib/errors";
import { IDEMPOTENT_RETRY } from "../../lib/actor";
import { params, id, page, pageSize, pageOf, auditPage } from "../../lib/actor";
import type { Doc, Store } from "../../lib/storage";
import { SimulatedProvider, type ChargeOutcome, type PaymentProvider } from "./payment-provider";

/** VOIDED: the order gave up before any charge was made, so a late charge for it is refused. */
export type PaymentStatus = "PENDING" | "SUCCEEDED" | "DECLINED" | "FAILED" | "REFUNDED" | "VOIDED";
interface ChargeParams {
	orderId: string;
	userId: string;
	amount: number;
	currency: string;
	paymentToken: string;
}

const STATUS_BY_OUTCOME: Record<ChargeOutcome, PaymentStatus> = {
	SUCCEEDED: "SUCCEEDED",
	DECLINED: "DECLINED",
	UNAVAILABLE: "FAILED",
};

function publicView(doc: Doc) {
	const { paymentToken: _token, ...payment } = doc;
	return payment;
}

const PaymentsService: ServiceSchema = {
	name: "payments",
	mixins: [
		DbMixin(
			{
				name: "payments",
				fields: {
					orderId: "string",
					userId: "string",
					amount: "money",
					currency: "string",
					status: "string",
					paymentToken: "string",
					failureReason: "string",
					createdAt: "string",
					updatedAt: "string",
					refundedAt: "string",
				},
				unique: ["orderId"],
			},
			outboxCollection("payments"),
		),
		EventsMixin,
		AuthMixin,
	],

	actions: {
		/** Internal and idempotent per order: a repeated charge returns the first outcome and never charges twice. */
		charge: {
			params: params({
				orderId: id,
				userId: id,
				amount: { type: "number", integer: true, min: 0 },
				currency: { type: "string", length: 3 },
				paymentToken: { type: "string", min: 1, max: 100 },
			}),
			retryPolicy: IDEMPOTENT_RETRY,
			// A stuck provider must not hold the caller for the whole request timeout on every attempt.
			timeout: 2000,
			bulkhead: { enabled: true, concurrency: 50, maxQueueSize: 200 },
			async handler(ctx: Context<ChargeParams>) {
				const payment = await this.claimCharge(ctx.params);
				if (payment.status === "SUCCEEDED") return publicView(payment);
				if (payment.status === "DECLINED") throw new PaymentDeclinedError({ orderId: ctx.params.orderId });
				if (payment.status !== "PENDING")
					throw new ConflictError(`Payment of order ${ctx.params.orderId} is ${payment.status}`, "PAYMENT_CLOSED");

				const outcome = await this.provider.charge(ctx.params.paymentToken, ctx.params.amount, ctx.params.currency);
				const status = STATUS_BY_OUTCOME[outcome as ChargeOutcome];
				const now = new Date().toISOString();
				const settled = await this.store.update(
					{ id: payment.id, status: "PENDING" },
					{ set: { status, updatedAt: now, failureReason: outcome === "SUCCEEDED" ? null : outcome } },
				);
				if (!settled && outcome === "SUCCEEDED") {
					// The order was voided while the provider was charging: give the money back at once.
					await this.provider.refund(ctx.params.paymentToken, ctx.params.amount, ctx.params.currency);
					throw new ConflictError(`Payment of order ${ctx.params.orderId} was voided`, "PAYMENT_CLOSED");
				}
				this.broker.metrics.increment("emporium.payments.total", { outcome: status });
				const data = {
					orderId: ctx.params.orderId,
					userId: ctx.params.userId,
					paymentId: payment.id,
					amount: ctx.params.amount,
					currency: ctx.params.currency,
				};
				if (outcome === "SUCCEEDED") {
					await this.publishEvent(ctx, "payment.succeeded", data, { id: `${payment.id}:succeeded` });
					return publicView({ ...payment, status, updatedAt: now });
				}
				await this.publishEvent(
					ctx,
					"payment.failed",
					{ ...data, reason: outcome },
					{ id: `${payment.id}:${outcome.toLowerCase()}:${Date.now()}` },
				);
				if (outcome === "DECLINED") throw new PaymentDeclinedError({ orderId: ctx.params.orderId });
				throw new PaymentUnavailableError({ orderId: ctx.params.orderId });
			},
		},

		/** Internal and idempotent: gives back a successful charge; voids the order's payment if none was made. */
		refund: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id, reason: { type: "string", max: 200, optional: true } }),
			async handler(ctx: Context<{ orderId: string; reason?: string }>) {
				const now = new Date().toISOString();
				const { orderId } = ctx.params;
				let payment = await this.store.findOne({ orderId });
				if (!payment) {
					try {
						return publicView(
							await this.store.insert({
								id: randomUUID(),
								orderId,
								userId: "",
								amount: 0,
								currency: "",
								status: "VOIDED",
								paymentToken: "",
								failureReason: ctx.params.reason ?? null,
								createdAt: now,
								updatedAt: now,
								refundedAt: null,
							}),
						);
					} catch (err) {
						if (!(err instanceof DuplicateKeyError)) throw err;
						payment = (await this.store.findOne({ orderId }))!;
					}
				}
				if (payment.status === "PENDING")
					await this.store.update({ id: payment.id, status: "PENDING" }, { set: { status: "VOIDED", updatedAt: now } });
				if (
					await this.store.update(
						{ id: payment.id, status: "SUCCEEDED" },
						{ set: { status: "REFUNDED", refundedAt: now, updatedAt: now } },
					)
				) {
					await this.provider.refund(payment.paymentToken, payment.amount, payment.currency);
					this.broker.metrics.increment("emporium.payments.total", { outcome: "REFUNDED" });
					await this.publishEvent(
						ctx,
						"payment.refunded",
						{
							orderId,
							userId: payment.userId,
							paymentId: payment.id,
							amount: payment.amount,
							currency: payment.currency,
							reason: ctx.params.reason ?? null,
						},
						{ id: `${payment.id}:refunded` },
					);
				}
				return publicView((await this.store.findOne({ id: payment.id }))!);
			},
		},

		/** Internal: every payment's status, for the invariant check. */
		audit: {
			params: params(auditPage),
			async handler(ctx: Context<{ offset?: number; limit?: number }>) {
				const { offset = 0, limit = 10_000_000 } = ctx.params;
				return (await this.store.find({}, { sort: ["id"], offset, limit })).map(({ orderId, status }: Doc) => ({
					orderId,
					status,
				}));
			},
		},

		list: {
			auth: "user",
			params: params({ orderId: id, page, pageSize }),
			async handler(ctx: Context<{ orderId: string; page?: number; pageSize?: number }>) {
				// Asking orders enforces ownership: another customer's order is a 404.
				await ctx.call("orders.get", { id: ctx.params.orderId });
				const { page: p = 1, pageSize: size = 20 } = ctx.params;
				const where = { orderId: ctx.params.orderId };
				const [rows, total] = await Promise.all([
					this.store.find(where, { sort: ["createdAt"], limit: size, offset: (p - 1) * size }),
					this.store.count(where),
				]);
				return pageOf(rows.map(publicView), total, p, size);
			},
		},
	},

	methods: {
		/** Inserts the order's payment as PENDING, or takes over a FAILED one for another attempt; else returns it as is. */
		async claimCharge(input: ChargeParams): Promise<Doc> {
			const now = new Date().toISOString();
			const fresh = {
				id: randomUUID(),
				...input,
				status: "PENDING",
				failureReason: null,
				createdAt: now,
				updatedAt: now,
				refundedAt: null,
			};
			try {
				return await this.store.insert(fresh);
			} catch (err) {
				if (!(err instanceof DuplicateKeyError)) throw err;
			}
			const existing: Doc = (await this.store.findOne({ orderId: input.orderId }))!;
			if (
				existing.status === "FAILED" &&
				(await this.store.update(
					{ id: existing.id, status: "FAILED" },
					{ set: { status: "PENDING", paymentToken: input.paymentToken, updatedAt: now } },
				))
			) {
				return { ...existing, status: "PENDING" };
			}
			if (existing.status === "PENDING") throw new PaymentUnavailableError({ orderId: input.orderId });
			return existing;
		},
	},

	created() {
		this.store = this.stores.payments as Store;
		this.provider = new SimulatedProvider() as PaymentProvider;
	},
};

export default PaymentsService;
