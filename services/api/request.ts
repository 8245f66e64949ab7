// What the gateway takes from an HTTP request besides its body and params: pure rules, no broker.

/** Client-supplied request ids are kept only when they are safe to log and to derive trace ids from. */
const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

type Header = string | string[] | undefined;

/** The client's `X-Request-ID` when it is safe to keep; otherwise Moleculer generates one. */
export function requestIdFrom(header: Header): string | undefined {
	return typeof header === "string" && REQUEST_ID.test(header) ? header : undefined;
}

/** The `Idempotency-Key` header, when present; orders refuses one that is too long (422), never the gateway silently. */
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
