export interface HttpError {
	status: number;
	body: { name: string; message: string; code: number; type: string; data?: unknown };
	headers: Record<string, string>;
}

interface ErrorLike {
	name?: string;
	message?: string;
	code?: unknown;
	status?: unknown;
	type?: unknown;
	data?: unknown;
}

const UNAVAILABLE = {
	name: "ServiceUnavailableError",
	message: "The service is temporarily unavailable, try again later",
	code: 503,
	type: "SERVICE_UNAVAILABLE",
};

/**
 * One JSON error shape for every failure. Moleculer's "no endpoint" (404) and timeouts become 503, body
 * parser failures keep their 400/413, and anything unexpected is a generic 500: details stay in the log.
 */
export function toHttpError(err: ErrorLike): HttpError {
	const code = typeof err.code === "number" ? err.code : typeof err.status === "number" ? err.status : 500;
	const type = typeof err.type === "string" ? err.type : "";
	const headers: Record<string, string> = {};

	if (
		["SERVICE_NOT_AVAILABLE", "SERVICE_NOT_FOUND", "REQUEST_TIMEOUT"].includes(type) ||
		err.name === "ServiceNotAvailableError"
	) {
		return { status: 503, body: { ...UNAVAILABLE }, headers: { "Retry-After": "1" } };
	}
	if (type === "entity.parse.failed")
		return {
			status: 400,
			body: { name: "BadRequestError", message: "Malformed JSON body", code: 400, type: "INVALID_JSON" },
			headers,
		};
	if (type === "entity.too.large")
		return {
			status: 413,
			body: {
				name: "PayloadTooLargeError",
				message: "Request body exceeds 1 MB",
				code: 413,
				type: "PAYLOAD_TOO_LARGE",
			},
			headers,
		};
	if (code >= 400 && code < 500) {
		let data = err.data;
		// Validation details without the submitted values: they may be passwords.
		if (type === "VALIDATION_ERROR" && Array.isArray(data))
			data = data.map(({ actual: _actual, ...rest }: Record<string, unknown>) => rest);
		if (code === 429) {
			const retryAfter = (data as { retryAfter?: number } | undefined)?.retryAfter;
			if (retryAfter) headers["Retry-After"] = String(retryAfter);
		}
		return {
			status: code,
			body: { name: err.name ?? "Error", message: err.message ?? "", code, type: type || "CLIENT_ERROR", data },
			headers,
		};
	}
	if (code === 503 && type) {
		return {
			status: 503,
			body: { name: err.name ?? "Error", message: err.message ?? "", code, type, data: err.data },
			headers: { "Retry-After": "1" },
		};
	}
	return {
		status: 500,
		body: { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" },
		headers,
	};
}
