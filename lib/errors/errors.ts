import { Errors } from "moleculer";

const { MoleculerError, MoleculerClientError, MoleculerRetryableError } = Errors;

/** Business errors: every one carries an HTTP code and an UPPER_SNAKE `type` clients can branch on. */
export class NotFoundError extends MoleculerClientError {
	constructor(what: string, data?: unknown) {
		super(`${what} not found`, 404, "NOT_FOUND", data);
	}
}

export class ConflictError extends MoleculerClientError {
	constructor(message: string, type = "CONFLICT", data?: unknown) {
		super(message, 409, type, data);
	}
}

export class UnprocessableError extends MoleculerClientError {
	constructor(message: string, type: string, data?: unknown) {
		super(message, 422, type, data);
	}
}

export class UnauthorizedError extends MoleculerClientError {
	constructor(message = "Authentication required", type = "UNAUTHORIZED") {
		super(message, 401, type);
	}
}

export class ForbiddenError extends MoleculerClientError {
	constructor(message = "Not allowed") {
		super(message, 403, "FORBIDDEN");
	}
}

/** 413: a body over the route's limit (the gateway stops reading it there). */
export class PayloadTooLargeError extends MoleculerClientError {
	constructor(limitBytes: number) {
		super(`Request body exceeds ${limitBytes} bytes`, 413, "PAYLOAD_TOO_LARGE");
	}
}

export class TooManyRequestsError extends MoleculerClientError {
	constructor(message: string, retryAfterSeconds: number) {
		super(message, 429, "TOO_MANY_REQUESTS", { retryAfter: retryAfterSeconds });
	}
}

export class OutOfStockError extends MoleculerClientError {
	constructor(data: { orderId?: string; lines: { productId: string; requested: number; available?: number }[] }) {
		super("Not enough stock for some items", 409, "OUT_OF_STOCK", data);
	}
}

export class PaymentDeclinedError extends MoleculerClientError {
	constructor(data?: { orderId?: string }) {
		super("The payment was declined", 402, "PAYMENT_DECLINED", data);
	}
}

/** 503: the provider (or the payments actor) could not be reached; the client may try again. */
export class PaymentUnavailableError extends MoleculerError {
	constructor(data?: { orderId?: string }) {
		super("The payment provider is unavailable, try again later", 503, "PAYMENT_UNAVAILABLE", data);
	}
}

/** 503: this node has more of some bounded work queued than it takes; the client may retry after `retryAfter` s. */
export class OverloadedError extends MoleculerRetryableError {
	constructor(message: string, retryAfterSeconds = 1) {
		super(message, 503, "OVERLOADED", { retryAfter: retryAfterSeconds });
	}
}

/** A store is down or timed out: transient, reported as 503. */
export class StorageUnavailableError extends MoleculerError {
	constructor(message = "Storage is unavailable, try again later") {
		super(message, 503, "STORAGE_UNAVAILABLE");
	}
}

/** A unique key already exists in a store; services turn it into the conflict their API promises. */
export class DuplicateKeyError extends Error {
	constructor(readonly collection: string) {
		super(`Duplicate key in ${collection}`);
		this.name = "DuplicateKeyError";
	}
}
