import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { ConflictError, DuplicateKeyError } from "../../lib/errors";
import { call, defineService, IDEMPOTENT_RETRY, params, id, page, pageSize, pageOf, auditPage } from "../../lib/actor";
import type { ActionName, ActionParams, ActionResult } from "../../lib/actor";
import type { CollectionSpec, Store } from "../../lib/storage";
import type { ChargeParams, Payment } from "./contract";
import { SimulatedProvider, type PaymentProvider } from "./payment-provider";
import {
	afterCharge,
	assertNotInFlight,
	canTransition,
	chargeError,
	needsCharge,
	newPayment,
	publicView,
	voidedPayment,
} from "./payment-status";

const PAYMENTS: CollectionSpec<Payment> = {
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
};

interface PaymentsState {
	store: Store<Payment>;
	provider: PaymentProvider;
}
interface PaymentsMethods {
	claimCharge(input: ChargeParams): Promise<Payment>;
}
type PaymentsThis = Service & DbThis & EventsThis & AuthThis & PaymentsMethods & PaymentsState;
type Ctx<N extends ActionName> = Context<ActionParams<N>>;
type Result<N extends ActionName> = Promise<ActionResult<N>>;

const PaymentsService = defineService<PaymentsThis>({
	name: "payments",
	mixins: [DbMixin(PAYMENTS, outboxCollection("payments")), EventsMixin, AuthMixin],

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
			async handler(this: PaymentsThis, ctx: Ctx<"payments.charge">): Result<"payments.charge"> {
				const { orderId, userId, amount, currency, paymentToken } = ctx.params;
				const payment = await this.claimCharge(ctx.params);
				if (!needsCharge(payment)) return publicView(payment);

				const outcome = await this.provider.charge(paymentToken, amount, currency);
				const { status, failureReason } = afterCharge(outcome);
				const now = new Date().toISOString();
				const data = { orderId, userId, paymentId: payment.id, amount, currency };
				// The outcome and its event commit together.
				const settled = await this.store.transaction(async tx => {
					const n = await this.store.update(
						{ id: payment.id, status: "PENDING" },
						{ set: { status, updatedAt: now, failureReason } },
						tx,
					);
					if (outcome === "SUCCEEDED") {
						if (n) await this.publishEvent(ctx, "payment.succeeded", data, { id: `${payment.id}:succeeded`, tx });
					} else {
						const id = `${payment.id}:${outcome.toLowerCase()}:${Date.now()}`;
						await this.publishEvent(ctx, "payment.failed", { ...data, reason: outcome }, { id, tx });
					}
					return n;
				});
				if (!settled && outcome === "SUCCEEDED") {
					// The order was voided while the provider was charging: give the money back at once (issue #17).
					await this.provider.refund(paymentToken, amount, currency);
					throw new ConflictError(`Payment of order ${orderId} was voided`, "PAYMENT_CLOSED");
				}
				this.broker.metrics.increment("emporium.payments.total", { outcome: status });
				if (outcome === "SUCCEEDED") return publicView({ ...payment, status, updatedAt: now });
				throw chargeError(outcome, orderId);
			},
		},

		/**
		 * Internal and idempotent: gives back a successful charge; voids the order's payment if none was made.
		 * The status moves to REFUNDED before the provider is called (issue #17 records a refund intent instead).
		 */
		refund: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id, reason: { type: "string", max: 200, optional: true } }),
			async handler(this: PaymentsThis, ctx: Ctx<"payments.refund">): Result<"payments.refund"> {
				const now = new Date().toISOString();
				const { orderId } = ctx.params;
				const reason = ctx.params.reason ?? null;
				let payment = await this.store.findOne({ orderId });
				if (!payment) {
					try {
						return publicView(await this.store.insert(voidedPayment(orderId, reason, randomUUID(), now)));
					} catch (err) {
						if (!(err instanceof DuplicateKeyError)) throw err;
						payment = (await this.store.findOne({ orderId }))!;
					}
				}
				if (canTransition(payment.status, "VOIDED"))
					await this.store.update({ id: payment.id, status: "PENDING" }, { set: { status: "VOIDED", updatedAt: now } });
				// Tried whatever status was read: a charge in flight may have succeeded since.
				const refunded = await this.store.update(
					{ id: payment.id, status: "SUCCEEDED" },
					{ set: { status: "REFUNDED", refundedAt: now, updatedAt: now } },
				);
				if (refunded) {
					const { userId, amount, currency } = payment;
					await this.provider.refund(payment.paymentToken, amount, currency);
					this.broker.metrics.increment("emporium.payments.total", { outcome: "REFUNDED" });
					const data = { orderId, userId, paymentId: payment.id, amount, currency, reason };
					await this.publishEvent(ctx, "payment.refunded", data, { id: `${payment.id}:refunded` });
				}
				return publicView((await this.store.findOne({ id: payment.id }))!);
			},
		},

		/** Internal: every payment's status, for the invariant check. */
		audit: {
			params: params(auditPage),
			async handler(this: PaymentsThis, ctx: Ctx<"payments.audit">): Result<"payments.audit"> {
				const { offset = 0, limit = 10_000_000 } = ctx.params;
				const payments = await this.store.find({}, { sort: ["id"], offset, limit });
				return payments.map(({ orderId, status }) => ({ orderId, status }));
			},
		},

		list: {
			auth: "user",
			params: params({ orderId: id, page, pageSize }),
			async handler(this: PaymentsThis, ctx: Ctx<"payments.list">): Result<"payments.list"> {
				// Asking orders enforces ownership: another customer's order is a 404.
				await call(ctx, "orders.get", { id: ctx.params.orderId });
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
		/** Inserts the order's payment as PENDING, or takes over a FAILED one for another attempt; else returns it. */
		async claimCharge(this: PaymentsThis, input: ChargeParams): Promise<Payment> {
			const now = new Date().toISOString();
			try {
				return await this.store.insert(newPayment(input, randomUUID(), now));
			} catch (err) {
				if (!(err instanceof DuplicateKeyError)) throw err;
			}
			const existing = (await this.store.findOne({ orderId: input.orderId }))!;
			if (
				canTransition(existing.status, "PENDING") &&
				(await this.store.update(
					{ id: existing.id, status: existing.status },
					{ set: { status: "PENDING", paymentToken: input.paymentToken, updatedAt: now } },
				))
			) {
				return { ...existing, status: "PENDING" };
			}
			assertNotInFlight(existing);
			return existing;
		},
	},

	created(this: PaymentsThis) {
		this.store = this.storeFor(PAYMENTS);
		this.provider = new SimulatedProvider();
	},
});

export default PaymentsService;
