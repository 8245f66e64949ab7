import { Errors } from "moleculer";
import { PaymentUnavailableError } from "../../lib/errors";

/**
 * The saga step that failed: part of what the order records (compensation always gives back stock and payment, and
 * the code's use when the order has a code).
 */
export type SagaStep = "promotion" | "reserve" | "payment" | "commit";

export interface OrderFailure {
	step: SagaStep;
	name: string;
	code: number;
	type: string;
	message: string;
	data: Record<string, unknown>;
}

/** Refusals the client is told about as they are; any other 4xx from an internal call is a fault of ours. */
const BUSINESS_REFUSALS = new Set([
	"OUT_OF_STOCK",
	"PAYMENT_DECLINED",
	// The code ran out while the saga ran (409), or no longer applies to this customer (422).
	"DISCOUNT_EXHAUSTED",
	"DISCOUNT_NOT_APPLICABLE",
]);

export interface ErrorLike {
	name?: string;
	code?: number;
	type?: string;
	message?: string;
	data?: unknown;
}

/** What a thrown value says about itself; fields it lacks stay undefined. */
export function errorLike(thrown: unknown): ErrorLike {
	return typeof thrown === "object" && thrown !== null ? thrown : { message: String(thrown) };
}

/**
 * What a failed step means for the client. Business refusals (4xx) pass through; anything else on the way to
 * payments (unreachable node, open breaker, timeout) is PAYMENT_UNAVAILABLE, elsewhere SERVICE_UNAVAILABLE.
 */
export function classifyFailure(step: SagaStep, thrown: unknown, orderId: string): OrderFailure {
	const err = errorLike(thrown);
	const type = err.type ?? "";
	const refused = BUSINESS_REFUSALS.has(type);
	if (refused) {
		const data = {
			...(typeof err.data === "object" && err.data ? (err.data as Record<string, unknown>) : {}),
			orderId,
		};
		return {
			step,
			name: err.name ?? "MoleculerClientError",
			code: err.code ?? 409,
			type,
			message: err.message ?? type,
			data,
		};
	}
	if (step === "payment" || type === "PAYMENT_UNAVAILABLE") {
		const unavailable = new PaymentUnavailableError();
		return {
			step,
			name: "PaymentUnavailableError",
			code: 503,
			type: unavailable.type,
			message: unavailable.message,
			data: { orderId },
		};
	}
	return {
		step,
		name: "ServiceUnavailableError",
		code: 503,
		type: "SERVICE_UNAVAILABLE",
		message: "The order could not be completed, try again later",
		data: { orderId },
	};
}

/**
 * Why an order is refused before it starts when no payments node can take a charge (none up, or every breaker open):
 * it is stored FAILED in the same write, before it takes any stock, so there is nothing to undo.
 */
export function noPaymentNode(orderId: string): OrderFailure {
	const unavailable = new Errors.ServiceNotAvailableError({ action: "payments.charge" });
	return classifyFailure("payment", unavailable, orderId);
}

/** The error a client gets for a failed order, the first time and on every idempotent replay. */
export function failureError(failure: OrderFailure): Error {
	const { MoleculerClientError, MoleculerError } = Errors;
	const err =
		failure.code < 500
			? new MoleculerClientError(failure.message, failure.code, failure.type, failure.data)
			: new MoleculerError(failure.message, failure.code, failure.type, failure.data);
	err.name = failure.name;
	return err;
}
