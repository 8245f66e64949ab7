import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import { UnauthorizedError } from "../errors";
import type { Role } from "./access";

export interface TokenClaims {
	sub: string;
	role: Role;
}

/** The payload of a token `signToken` made: its HS256 signature proves it carries our `sub` and `role`. */
interface SignedPayload extends jwt.JwtPayload {
	role?: Role;
}

/**
 * Given a string secret, jsonwebtoken first tries to parse it as a PEM public key, which throws: about 0.5 ms of
 * CPU on every request. A secret KeyObject, made once per secret, skips that.
 */
const keys = new Map<string, KeyObject>();
function keyOf(secret: string): KeyObject {
	let key = keys.get(secret);
	if (!key) keys.set(secret, (key = createSecretKey(Buffer.from(secret))));
	return key;
}

/** Clocks of the signing and the verifying node may differ by this much. */
const CLOCK_SKEW_SECONDS = 30;
/** Longest subject a token may name (the users actor's ids are at most 64 characters). */
const MAX_SUBJECT_LENGTH = 64;

export function signToken(claims: TokenClaims, secret: string, ttlSeconds: number): string {
	return jwt.sign(claims, keyOf(secret), { algorithm: "HS256", expiresIn: ttlSeconds });
}

const invalid = () => new UnauthorizedError("Invalid token", "INVALID_TOKEN");

/**
 * Tokens accepted lately: a client sends the same token with each request, and the gateway checks it twice (before
 * reading a body, then to authenticate), so the HMAC and JSON work is done once per token, not twice per request.
 */
const verified = new Map<string, { claims: TokenClaims; exp: number; secret: string; maxTtlSeconds: number }>();
const VERIFIED_MAX = 10_000;

/**
 * Only HS256 is accepted: `alg: none` and key-confusion tokens fail like a bad signature. A correctly signed token
 * is still refused without `exp`, with an `exp` further ahead than a token of ours can live (`maxTtlSeconds` plus
 * the clock skew), with an `iat` in the future, or with a subject that cannot be a user id.
 */
export function verifyToken(token: string, secret: string, maxTtlSeconds: number): TokenClaims {
	const known = verified.get(token);
	// Only time can change the verdict on a token already accepted: its expiry is checked again, nothing else.
	if (known && known.secret === secret && known.maxTtlSeconds === maxTtlSeconds && Date.now() / 1000 < known.exp)
		return { ...known.claims };
	const claims = verifySignedToken(token, secret, maxTtlSeconds);
	if (verified.size >= VERIFIED_MAX) verified.clear();
	verified.set(token, { ...claims, secret, maxTtlSeconds });
	return claims.claims;
}

function verifySignedToken(token: string, secret: string, maxTtlSeconds: number): { claims: TokenClaims; exp: number } {
	let claims: string | SignedPayload;
	try {
		claims = jwt.verify(token, keyOf(secret), { algorithms: ["HS256"] });
	} catch (err) {
		const expired = err instanceof jwt.TokenExpiredError;
		throw new UnauthorizedError(
			expired ? "Token expired" : "Invalid token",
			expired ? "TOKEN_EXPIRED" : "INVALID_TOKEN",
		);
	}
	if (typeof claims !== "object" || typeof claims.sub !== "string") throw invalid();
	if (claims.sub.length === 0 || claims.sub.length > MAX_SUBJECT_LENGTH) throw invalid();
	const now = Date.now() / 1000;
	if (typeof claims.exp !== "number" || claims.exp > now + maxTtlSeconds + CLOCK_SKEW_SECONDS) throw invalid();
	if (claims.iat !== undefined && (typeof claims.iat !== "number" || claims.iat > now + CLOCK_SKEW_SECONDS))
		throw invalid();
	return { claims: { sub: claims.sub, role: claims.role! }, exp: claims.exp };
}
