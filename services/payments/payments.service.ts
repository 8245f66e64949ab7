import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { ConflictError, DuplicateKeyError } from "../../lib/errors";
import { call, defineService, IDEMPOTENT_RETRY, params, id, money, page, pageSize, pageOf } from "../../lib/actor";
import { auditPage, plainText } from "../../lib/actor";
import type { ActionName, ActionParams, ActionResult } from "../../lib/actor";
import type { Store } from "../../lib/storage";
import { PAYMENTS, REFUNDS, type ChargeParams, type Payment } from "./contract";
import { SimulatedProvider, type PaymentProvider } from "./payment-provider";
import {
	afterCharge,
	assertNotInFlight,
	canTransition,
	chargeError,
	chargeRequest,
	needsCharge,
	newPayment,
	providerHolds,
	publicView,
	refundIntent,
	sourcesOf,
	voidChange,
	voidedPayment,
} from "./payment-status";
import { RefundLedger } from "./refund-ledger";
import { PAYMENT_MIGRATIONS } from "./migrations";

interface PaymentsState {
	/** Refunds left REFUNDING (provider failure, node death) are finished by a sweep once this long without progress. */
	settings: { refundSweepMs: number; refundGraceMs: number };
	store: Store<Payment>;
	provider: PaymentProvider;
	refunds: RefundLedger;
	refundSweep?: NodeJS.Timeout;
	sweeping?: Promise<void>;
}
interface PaymentsMethods {
	claimCharge(input: ChargeParams): Promise<Payment>;
}
type PaymentsThis = Service & DbThis & EventsThis & AuthThis & PaymentsMethods & PaymentsState;
type Ctx<N extends ActionName> = Context<ActionParams<N>>;
type Result<N extends ActionName> = Promise<ActionResult<N>>;

const PaymentsService = defineService<PaymentsThis>({
	name: "payments",
	mixins: [DbMixin(PAYMENTS, REFUNDS, outboxCollection("payments")), EventsMixin, AuthMixin],
	settings: { refundSweepMs: 5000, refundGraceMs: 5000 },

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
				const { orderId, userId, amount, currency } = ctx.params;
				const payment = await this.claimCharge(ctx.params);
				if (!needsCharge(payment)) return publicView(payment);

				const outcome = await this.provider.charge(chargeRequest(payment));
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
					// The order gave up (VOIDED) while the provider was charging: record the refund, then make it.
					if (await this.store.update({ id: payment.id, status: "VOIDED" }, { set: refundIntent(null, now) }))
						await this.refunds.completeFull((await this.store.findOne({ id: payment.id }))!).catch((err: Error) =>
							this.logger.warn("Late charge not refunded yet; the refund sweep retries", {
								orderId,
								err: err.message,
							}),
						);
					throw new ConflictError(`Payment of order ${orderId} was voided`, "PAYMENT_CLOSED");
				}
				this.broker.metrics.increment("emporium.payments.total", { outcome: status });
				if (outcome === "SUCCEEDED") return publicView({ ...payment, status, updatedAt: now });
				throw chargeError(outcome, orderId);
			},
		},

		/**
		 * Internal and idempotent per order: voids the order's payment if no charge was made, else records the refund
		 * (REFUNDING), has the provider make it and answers after; a provider failure is a 503 and a retry finishes it.
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
				// Both tried whatever status was read: a charge in flight may have ended since. A payment with no recorded
				// outcome may still have been charged (the node or its database failed after the provider answered):
				// the provider's books decide whether it is voided or refunded.
				const where = { id: payment.id };
				const unsettled = { ...where, status: { $in: sourcesOf("VOIDED") } };
				if (payment.status !== "SUCCEEDED" && providerHolds(await this.provider.record(chargeRequest(payment).key)))
					await this.store.update(unsettled, { set: refundIntent(reason, now) });
				await this.store.update(unsettled, { set: voidChange(reason, now) });
				await this.store.update({ ...where, status: "SUCCEEDED" }, { set: refundIntent(reason, now) });
				const current = (await this.store.findOne(where))!;
				return publicView(current.status === "REFUNDING" ? await this.refunds.completeFull(current) : current);
			},
		},

		/**
		 * Internal and idempotent per return: counts `amount` against the order's charge (never past it, 409
		 * REFUND_EXCEEDS_CHARGE), has the provider give it back and answers after (503 PAYMENT_UNAVAILABLE: call again).
		 */
		refundPart: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({
				orderId: id,
				returnId: id,
				amount: money,
				reason: plainText({ type: "string", max: 200, optional: true }),
			}),
			async handler(this: PaymentsThis, ctx: Ctx<"payments.refundPart">): Result<"payments.refundPart"> {
				return this.refunds.refundPart({ ...ctx.params, reason: ctx.params.reason ?? null });
			},
		},

		/** Internal: every payment, what its refunds gave back and what the provider holds, for the invariant check. */
		audit: {
			params: params(auditPage),
			async handler(this: PaymentsThis, ctx: Ctx<"payments.audit">): Result<"payments.audit"> {
				const { offset = 0, limit = 10_000_000 } = ctx.params;
				return this.refunds.audit(offset, limit);
			},
		},

		list: {
			auth: "user",
			params: params({ orderId: id, page, pageSize }),
			async handler(this: PaymentsThis, ctx: Ctx<"payments.list">): Result<"payments.list"> {
				// Asking orders enforces ownership: another customer's order is a 404.
				await call(ctx, "orders.get", { id: ctx.params.orderId });
				const { page: p = 1, pageSize: size = 20 } = ctx.params;
				const rows = await this.refunds.rows(ctx.params.orderId);
				return pageOf(rows.slice((p - 1) * size, p * size), rows.length, p, size);
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
				return { ...existing, status: "PENDING", paymentToken: input.paymentToken, updatedAt: now };
			}
			assertNotInFlight(existing);
			return existing;
		},
	},

	created(this: PaymentsThis) {
		this.store = this.storeFor(PAYMENTS);
		this.provider = new SimulatedProvider();
		this.refunds = new RefundLedger({
			payments: this.store,
			refunds: this.storeFor(REFUNDS),
			// Read on every call: tests swap the provider after start.
			provider: () => this.provider,
			announce: async (data, id, tx) => void (await this.publishEvent(null, "payment.refunded", data, { id, tx })),
			warn: (message, data) => this.logger.warn(message, data),
			refunded: outcome => this.broker.metrics.increment("emporium.payments.total", { outcome }),
		});
	},

	async started(this: PaymentsThis) {
		await this.migrate(PAYMENT_MIGRATIONS);
		this.refundSweep = setInterval(() => {
			const before = new Date(Date.now() - this.settings.refundGraceMs).toISOString();
			this.sweeping ??= this.refunds
				.sweep(before)
				.catch((err: Error) => this.logger.warn("Refund sweep failed", { err: err.message }))
				.finally(() => (this.sweeping = undefined));
		}, this.settings.refundSweepMs);
	},

	async stopped(this: PaymentsThis) {
		clearInterval(this.refundSweep);
		await this.sweeping;
	},
});

export default PaymentsService;
