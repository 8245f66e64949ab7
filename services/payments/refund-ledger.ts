import type { Transaction } from "sequelize";
import { ConflictError, DuplicateKeyError, PaymentUnavailableError } from "../../lib/errors";
import type { EventPayload } from "../../lib/events";
import type { Store } from "../../lib/storage";
import type { Payment, PaymentAudit, PaymentRow, Refund, RefundRecord } from "./contract";
import type { PaymentProvider, ProviderRecord } from "./payment-provider";
import { auditRow, chargeRequest, publicView, refundDone, refundedEvent, refundRequest } from "./payment-status";
import {
	afterPart,
	assertSamePart,
	fullRefund,
	isCounted,
	newPartRefund,
	partRefundedEvent,
	partRefundRequest,
	partRefusal,
	partRefundId,
	partVerdict,
	paymentRows,
	refundedByPayment,
	refundView,
	type PartRefundInput,
} from "./refund-rules";

export interface RefundLedgerDeps {
	payments: Store<Payment>;
	refunds: Store<RefundRecord>;
	provider(): PaymentProvider;
	/** Writes payment.refunded to the outbox under `id`, in `tx` when given. */
	announce(data: EventPayload<"payment.refunded">, id: string, tx?: Transaction): Promise<void>;
	warn(message: string, data: object): void;
	/** Money was given back (metrics): a charge whole (REFUNDED) or a return's part (PARTIALLY_REFUNDED). */
	refunded(outcome: "REFUNDED" | "PARTIALLY_REFUNDED"): void;
}

/** Compare-and-set rounds a part may lose to concurrent parts of the same charge before it is answered 503. */
const COUNT_ATTEMPTS = 30;

/** A SQL count that found its refund counted by a concurrent call: rolls its own change of the charge back. */
class AlreadyCounted extends Error {}

const now = () => new Date().toISOString();
const pause = () => new Promise(resolve => setTimeout(resolve, Math.random() * 5));

/**
 * The refunds of the payments actor and their writes. A return's refund is recorded (PENDING), then counted against
 * the charge, then made by the provider under its own key, then SUCCEEDED and announced: each step is conditional,
 * so a repeat of the return (or of a step after a failure) finishes what an earlier call left and counts once.
 * The row comes first: a crash after it loses nothing, and the repeat counts it. Counting is the charge's
 * compare-and-set on `refunded` plus the row's `counted` flag, one transaction on SQL; memory:// and MongoDB have none,
 * so the charge's update records the refund's id (`refundIds`) in the same single-document step, and that marker is
 * what a repeat reads as counted.
 */
export class RefundLedger {
	constructor(private readonly deps: RefundLedgerDeps) {}

	async refundPart(input: PartRefundInput): Promise<Refund> {
		const { orderId } = input;
		const payment = await this.deps.payments.findOne({ orderId });
		if (!payment) throw new ConflictError(`Order ${orderId} has no payment`, "PAYMENT_CLOSED", { orderId });
		const refund = await this.claim(payment, input);
		if (refund.status === "SUCCEEDED") return refundView(refund);
		return refundView(await this.complete(await this.count(refund), refund));
	}

	/** The return's refund row, recorded if new; a charge that already refuses it records nothing. */
	private async claim(payment: Payment, input: PartRefundInput): Promise<RefundRecord> {
		const id = partRefundId(input.returnId);
		let refund = await this.deps.refunds.findOne({ id });
		if (!refund) {
			const verdict = partVerdict(payment, input.amount);
			if (verdict !== "COUNT") throw partRefusal(verdict, payment, input.amount);
			try {
				return await this.deps.refunds.insert(newPartRefund(payment, input, now()));
			} catch (err) {
				if (!(err instanceof DuplicateKeyError)) throw err;
			}
			refund = await this.deps.refunds.findOne({ id });
			if (!refund) throw new PaymentUnavailableError({ orderId: input.orderId });
		}
		assertSamePart(refund, input);
		return refund;
	}

	/**
	 * Counts the refund against its charge once, and returns the charge. A refusal forgets the row: the charge's
	 * `refunded` only grows and a closed charge stays closed, so no concurrent call can count a part this one refused.
	 * The one move back to countable is PENDING → SUCCEEDED: a repeat of a return asked before its order's charge
	 * went through could count the row a concurrent refusal then removes (returns come after shipping, so no caller
	 * does that).
	 */
	private async count(refund: RefundRecord): Promise<Payment> {
		const { payments, refunds } = this.deps;
		for (let attempt = 0; attempt < COUNT_ATTEMPTS; attempt++) {
			const [payment, row] = await Promise.all([
				payments.findOne({ id: refund.paymentId }),
				refunds.findOne({ id: refund.id }),
			]);
			if (!payment || !row) break;
			if (isCounted(row, payment)) {
				if (!row.counted) await refunds.update({ id: row.id }, { set: { counted: true } });
				return payment;
			}
			const verdict = partVerdict(payment, row.amount);
			if (verdict !== "COUNT") {
				await refunds.remove({ id: row.id, counted: false });
				throw partRefusal(verdict, payment, row.amount);
			}
			if (await this.applyCount(payment, row)) return payment;
			await pause();
		}
		throw new PaymentUnavailableError({ orderId: refund.orderId });
	}

	/** The charge's compare-and-set on what was refunded as read, and the refund's flag; false if the charge moved. */
	private async applyCount(payment: Payment, refund: RefundRecord): Promise<boolean> {
		const { payments, refunds } = this.deps;
		const at = now();
		const where = { id: payment.id, status: payment.status, refunded: payment.refunded };
		const next = afterPart(payment, refund.amount, at);
		if (payments.kind !== "sql") {
			if (!(await payments.update(where, { set: next, push: { refundIds: refund.id } }))) return false;
			await refunds.update({ id: refund.id }, { set: { counted: true } });
			return true;
		}
		try {
			return await payments.transaction(async tx => {
				if (!(await payments.update(where, { set: next }, tx))) return false;
				const flag = { set: { counted: true, updatedAt: at } };
				if (!(await refunds.update({ id: refund.id, counted: false }, flag, tx))) throw new AlreadyCounted();
				return true;
			});
		} catch (err) {
			if (err instanceof AlreadyCounted) return true;
			throw err;
		}
	}

	/** Has the provider give a counted part back (same key on every call), then records and announces it once. */
	private async complete(payment: Payment, refund: RefundRecord): Promise<RefundRecord> {
		const { refunds } = this.deps;
		const provider = this.deps.provider();
		try {
			await provider.refund(partRefundRequest(payment, refund));
		} catch (err) {
			const { orderId, returnId } = refund;
			this.deps.warn("Refund of a return not made by the provider yet", { orderId, returnId, err: String(err) });
			await refunds.update({ id: refund.id, status: "PENDING" }, { set: { status: "FAILED", updatedAt: now() } });
			throw new PaymentUnavailableError({ orderId });
		}
		const done = { status: "SUCCEEDED", updatedAt: now() } as const;
		const recorded = await refunds.transaction(async tx => {
			const unfinished = { id: refund.id, status: { $in: ["PENDING", "FAILED"] } };
			if (!(await refunds.update(unfinished, { set: done }, tx))) return false;
			await this.deps.announce(partRefundedEvent(payment, refund), `${refund.id}:refunded`, tx);
			return true;
		});
		if (recorded) this.deps.refunded("PARTIALLY_REFUNDED");
		return { ...refund, ...done };
	}

	/**
	 * Has the provider give a charge back whole (REFUNDING, same key every time), stores it as a refund, then records
	 * REFUNDED and announces it once; `recorded` when this call did.
	 */
	async completeFull(payment: Payment): Promise<Payment> {
		const { payments, refunds } = this.deps;
		const provider = this.deps.provider();
		const { id: paymentId, orderId } = payment;
		try {
			await provider.refund(refundRequest(payment));
		} catch (err) {
			this.deps.warn("Refund not made by the provider yet", { orderId, paymentId, err: String(err) });
			throw new PaymentUnavailableError({ orderId });
		}
		const at = now();
		// The provider has given it back, so the row is true whatever happens next; a repeat finds it there.
		await refunds.insert(fullRefund(payment, at)).catch((err: unknown) => {
			if (!(err instanceof DuplicateKeyError)) throw err;
		});
		const done = refundDone(payment, at);
		const recorded = await payments.transaction(async tx => {
			if (!(await payments.update({ id: paymentId, status: "REFUNDING" }, { set: done }, tx))) return false;
			await this.deps.announce(refundedEvent(payment), `${paymentId}:refunded`, tx);
			return true;
		});
		if (recorded) this.deps.refunded("REFUNDED");
		return { ...payment, ...done };
	}

	/**
	 * Finishes the refunds nobody worked on since `before` (provider failure, node death): charges left REFUNDING, and
	 * counted parts not made yet. Claims each first (so one node asks the provider), then completes it.
	 */
	async sweep(before: string): Promise<void> {
		const { payments, refunds } = this.deps;
		for (const payment of await payments.find({ status: "REFUNDING", updatedAt: { $lt: before } }, { limit: 50 })) {
			const { id: paymentId, orderId } = payment;
			const claimed = { id: paymentId, status: "REFUNDING", updatedAt: payment.updatedAt } as const;
			const updatedAt = now();
			if (!(await payments.update(claimed, { set: { updatedAt } }))) continue;
			await this.completeFull({ ...payment, updatedAt }).catch((err: Error) =>
				this.deps.warn("Refund still in flight", { orderId, paymentId, err: err.message }),
			);
		}
		const parts = { status: { $in: ["PENDING", "FAILED"] }, counted: true, updatedAt: { $lt: before } };
		for (const refund of await refunds.find(parts, { limit: 50 })) {
			const claimed = { id: refund.id, status: refund.status, updatedAt: refund.updatedAt };
			if (!(await refunds.update(claimed, { set: { updatedAt: now() } }))) continue;
			const payment = await payments.findOne({ id: refund.paymentId });
			// A failure is logged by `complete`; the next sweep tries again.
			if (payment) await this.complete(payment, refund).catch(() => undefined);
		}
	}

	/** The order's charge, then its refunds. */
	async rows(orderId: string): Promise<PaymentRow[]> {
		const [charge, refunds] = await Promise.all([
			this.deps.payments.findOne({ orderId }),
			this.deps.refunds.find({ orderId }, { sort: ["createdAt"], limit: 10_000 }),
		]);
		return paymentRows(charge && publicView(charge), refunds);
	}

	/** A page of payments for the invariant check: what their refunds gave back, and the provider's books. */
	async audit(offset: number, limit: number): Promise<PaymentAudit[]> {
		const { payments, refunds } = this.deps;
		const provider = this.deps.provider();
		const page = await payments.find({}, { sort: ["id"], offset, limit });
		const ids = page.map(p => p.id);
		const given = refundedByPayment(ids.length ? await refunds.find({ paymentId: { $in: ids } }, { limit: 1e7 }) : []);
		const books = (p: Payment): Promise<ProviderRecord | null> => provider.record(chargeRequest(p).key);
		return Promise.all(page.map(async p => auditRow(p, given.get(p.id) ?? 0, await books(p))));
	}
}
