import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** A new webhook secret: 32 random bytes, base64url (43 characters). Shown once, on create and on rotate. */
export function newSecret(): string {
	return randomBytes(32).toString("base64url");
}

/** Hex HMAC-SHA256 of `"<t>.<raw body>"`, keyed with the secret string's UTF-8 bytes. */
export function sign(secret: string, timestamp: number, body: string): string {
	return createHmac("sha256", Buffer.from(secret, "utf8")).update(`${timestamp}.${body}`).digest("hex");
}

/** The `Emporium-Signature` header: `t=<unix seconds>,v1=<hex>`. */
export function signatureHeader(secret: string, body: string, nowMs: number): string {
	const t = Math.floor(nowMs / 1000);
	return `t=${t},v1=${sign(secret, t, body)}`;
}

/**
 * What a receiver does (README "Webhooks"): the header parses, its timestamp is within `toleranceSeconds` of now
 * (an old, replayed request is refused) and one of its `v1` signatures matches the raw body, compared in constant time.
 */
export function verifySignature(
	header: string | undefined,
	body: string,
	secret: string,
	nowMs: number,
	toleranceSeconds = 300,
): boolean {
	if (!header) return false;
	const parts = header.split(",").map(p => p.trim().split("="));
	const t = Number(parts.find(([k]) => k === "t")?.[1]);
	if (!Number.isInteger(t) || Math.abs(nowMs / 1000 - t) > toleranceSeconds) return false;
	const expected = Buffer.from(sign(secret, t, body), "hex");
	return parts
		.filter(([k, v]) => k === "v1" && /^[0-9a-f]{64}$/.test(v ?? ""))
		.some(([, v]) => timingSafeEqual(Buffer.from(v, "hex"), expected));
}
