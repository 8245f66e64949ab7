import { Errors } from "moleculer";
import { PaymentUnavailableError } from "../../lib/errors";

/** The saga step that failed decides what must be undone: stock always, the payment from "payment" on. */
export type SagaStep = "reserve" | "payment" | "commit";

export interface OrderFailure {
	step: SagaStep;
	name: string;
	code: number;
	type: string;
	message: string;
	data: Record<string, unknown>;
}

/** Moleculer reports these with 4xx codes, but they mean "a node could not serve the call", not a refusal. */
const INFRASTRUCTURE_TYPES = new Set(["SERVICE_NOT_AVAILABLE", "SERVICE_NOT_FOUND", "QUEUE_FULL", "MAX_CALL_LEVEL"]);

interface ErrorLike {
	name?: string;
	code?: number;
	type?: string;
	message?: string;
	data?: unknown;
}

/**
 * What a failed step means for the client. Business refusals (4xx) pass through; anything else on the way to
 * payments (unreachable node, open breaker, timeout) is PAYMENT_UNAVAILABLE, elsewhere SERVICE_UNAVAILABLE.
 */
export function classifyFailure(step: SagaStep, err: ErrorLike, orderId: string): OrderFailure {
	const data = { ...(typeof err.data === "object" && err.data ? (err.data as Record<string, unknown>) : {}), orderId };
	if (err.code && err.code >= 400 && err.code < 500 && err.type && !INFRASTRUCTURE_TYPES.has(err.type)) {
		return { step, name: err.name ?? "MoleculerClientError", code: err.code, type: err.type, message: err.message ?? err.type, data };
	}
	if (step === "payment" || err.type === "PAYMENT_UNAVAILABLE") {
		const unavailable = new PaymentUnavailableError();
		return { step, name: "PaymentUnavailableError", code: 503, type: unavailable.type, message: unavailable.message, data: { orderId } };
	}
	return { step, name: "ServiceUnavailableError", code: 503, type: "SERVICE_UNAVAILABLE", message: "The order could not be completed, try again later", data: { orderId } };
}

/** The error a client gets for a failed order, the first time and on every idempotent replay. */
export function failureError(failure: OrderFailure): Error {
	const { MoleculerClientError, MoleculerError } = Errors;
	const err = failure.code < 500
		? new MoleculerClientError(failure.message, failure.code, failure.type, failure.data)
		: new MoleculerError(failure.message, failure.code, failure.type, failure.data);
	err.name = failure.name;
	return err;
}
