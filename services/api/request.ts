// What the gateway takes from an HTTP request besides its body and params: pure rules, no broker.
import { UnauthorizedError } from "../../lib/errors";

/** Client-supplied request ids are kept only when they are safe to log and to derive trace ids from. */
const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

type Header = string | string[] | undefined;

/** The client's `X-Request-ID` when it is safe to keep; otherwise Moleculer generates one. */
export function requestIdFrom(header: Header): string | undefined {
	return typeof header === "string" && REQUEST_ID.test(header) ? header : undefined;
}

/** The `Idempotency-Key` header, when present; orders refuses one that is too long (422), not the gateway silently. */
export function idempotencyKeyFrom(header: Header): string | undefined {
	return typeof header === "string" && header.length > 0 ? header : undefined;
}

/**
 * The client's address. X-Forwarded-For is client-controlled unless a trusted proxy in front of us sets it; our proxy
 * appends the address it saw, so only the last entry is not the client's own claim.
 */
export function clientAddress(forwardedFor: Header, remoteAddress: string | undefined, trustProxy: boolean): string {
	if (trustProxy && typeof forwardedFor === "string")
		return forwardedFor.slice(forwardedFor.lastIndexOf(",") + 1).trim();
	return remoteAddress ?? "";
}

/**
 * JSON.parse keeps a `__proto__` key as an own property; moleculer-web then merges the body into the params with
 * Object.assign, whose `__proto__` setter would make the client's object the params' prototype (inherited fields
 * pass validation and survive `$$strict: "remove"`). Dropping the key while parsing closes that.
 */
export function dropProtoKeys(key: string, value: unknown): unknown {
	return key === "__proto__" ? undefined : value;
}

/** The token of an `Authorization: Bearer <token>` header; null without a header, 401 when it is malformed. */
export function bearerToken(header: Header): string | null {
	if (header === undefined) return null;
	const match = typeof header === "string" ? /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header) : null;
	if (!match) throw new UnauthorizedError("Malformed Authorization header", "INVALID_TOKEN");
	return match[1];
}

/** Digits only, short enough to be exact as a JavaScript number. */
const PLAIN_INTEGER = /^[0-9]{1,15}$/;

function isNumberRule(rule: unknown): boolean {
	if (typeof rule === "string") return rule === "number" || rule.startsWith("number|");
	return typeof rule === "object" && rule !== null && "type" in rule && rule.type === "number";
}

/**
 * Query strings are text, and actions take JSON numbers (no `convert`, see lib/actor/params.ts). For each query
 * value that is still the param's value, a plain decimal integer (`^[0-9]{1,15}$`) becomes a number where the
 * action's schema declares a number; any other spelling ("0x10", "1e1", " 2", "") stays text for the validator
 * to refuse. Body fields are never converted.
 */
export function convertQueryNumbers(
	params: Record<string, unknown>,
	query: Record<string, unknown>,
	schema: Record<string, unknown> | undefined,
): void {
	if (!schema) return;
	for (const [key, text] of Object.entries(query)) {
		if (typeof text !== "string" || params[key] !== text || !PLAIN_INTEGER.test(text)) continue;
		if (Object.hasOwn(schema, key) && isNumberRule(schema[key])) params[key] = Number(text);
	}
}
