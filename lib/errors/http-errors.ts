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
	/** body-parser's limit, on its `entity.too.large` error. */
	limit?: unknown;
}

const UNAVAILABLE = {
	name: "ServiceUnavailableError",
	message: "The service is temporarily unavailable, try again later",
	code: 503,
	type: "SERVICE_UNAVAILABLE",
};

/** body-parser's failures carry lower-case dotted types; these are the ones a client can cause, in our terms. */
const BODY_ERRORS = new Map<string, HttpError["body"]>([
	["entity.parse.failed", { name: "BadRequestError", message: "Malformed JSON body", code: 400, type: "INVALID_JSON" }],
	[
		"encoding.unsupported",
		{
			name: "UnsupportedMediaTypeError",
			message: "Unsupported Content-Encoding: send identity, gzip or deflate",
			code: 415,
			type: "UNSUPPORTED_ENCODING",
		},
	],
	[
		"charset.unsupported",
		{
			name: "UnsupportedMediaTypeError",
			message: "Unsupported charset: send UTF-8",
			code: 415,
			type: "UNSUPPORTED_CHARSET",
		},
	],
]);
/** Any other body-parser failure (aborted upload, wrong Content-Length...). */
const INVALID_BODY = {
	name: "BadRequestError",
	message: "The request body could not be read",
	code: 400,
	type: "INVALID_BODY",
};

/** What a client sees of one failing field. */
export interface ValidationIssue {
	field: string;
	type: string;
	message: string;
	/** The rule's bound or choices (`max: 200`, the values of an enum). */
	expected?: unknown;
}

const text = (value: unknown): string => (typeof value === "string" ? value : "");

function isPlain(value: unknown): boolean {
	return ["string", "number", "boolean"].includes(typeof value) || (Array.isArray(value) && value.every(isPlain));
}

/**
 * Fields of a validation failure a client may see, listed rather than filtered: never the node or action that
 * validated (`nodeID`, `action`), nor whatever else a validator or a remote node adds, nor `actual`: the submitted
 * value, or for a length rule its length (a password's, say), which the client knows and no log or proxy needs.
 */
export function validationDetails(data: unknown): ValidationIssue[] | undefined {
	if (!Array.isArray(data)) return undefined;
	return data
		.filter((issue): issue is Record<string, unknown> => typeof issue === "object" && issue !== null)
		.map(issue => ({
			field: text(issue.field),
			type: text(issue.type),
			message: text(issue.message),
			...(isPlain(issue.expected) ? { expected: issue.expected } : {}),
		}));
}

/**
 * One JSON error shape for every failure. Moleculer's "no endpoint" (404) and timeouts become 503, body
 * parser failures keep their 400/413/415 with an UPPER_SNAKE type, and anything unexpected is a generic 500:
 * details stay in the log.
 */
export function toHttpError(err: ErrorLike): HttpError {
	const code = typeof err.code === "number" ? err.code : typeof err.status === "number" ? err.status : 500;
	const type = typeof err.type === "string" ? err.type : "";
	const headers: Record<string, string> = {};

	if (
		["SERVICE_NOT_AVAILABLE", "SERVICE_NOT_FOUND", "REQUEST_TIMEOUT"].includes(type) ||
		err.name === "ServiceNotAvailableError" ||
		// moleculer-web's own, untyped, when the action behind a route has no node.
		(err.name === "ServiceUnavailableError" && code === 503 && !type)
	) {
		return { status: 503, body: { ...UNAVAILABLE }, headers: { "Retry-After": "1" } };
	}
	if (type === "entity.too.large") {
		const limit = typeof err.limit === "number" ? `${err.limit} bytes` : "this route's limit";
		return {
			status: 413,
			body: {
				name: "PayloadTooLargeError",
				message: `Request body exceeds ${limit}`,
				code: 413,
				type: "PAYLOAD_TOO_LARGE",
			},
			headers,
		};
	}
	const bodyError =
		BODY_ERRORS.get(type) ?? (/^[a-z]+(\.[a-z]+)+$/.test(type) && code < 500 ? INVALID_BODY : undefined);
	if (bodyError) return { status: bodyError.code, body: { ...bodyError }, headers };
	if (code >= 400 && code < 500) {
		const data = type === "VALIDATION_ERROR" ? validationDetails(err.data) : err.data;
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
		const retryAfter = (err.data as { retryAfter?: unknown } | undefined)?.retryAfter;
		return {
			status: 503,
			body: { name: err.name ?? "Error", message: err.message ?? "", code, type, data: err.data },
			headers: { "Retry-After": typeof retryAfter === "number" ? String(retryAfter) : "1" },
		};
	}
	return {
		status: 500,
		body: { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" },
		headers,
	};
}
