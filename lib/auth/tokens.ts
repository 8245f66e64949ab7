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

export function signToken(claims: TokenClaims, secret: string, expiresIn: string): string {
	return jwt.sign(claims, keyOf(secret), { algorithm: "HS256", expiresIn: expiresIn as jwt.SignOptions["expiresIn"] });
}

/** Only HS256 is accepted: `alg: none` and key-confusion tokens fail like a bad signature. */
export function verifyToken(token: string, secret: string): TokenClaims {
	try {
		const claims: string | SignedPayload = jwt.verify(token, keyOf(secret), { algorithms: ["HS256"] });
		if (typeof claims !== "object" || typeof claims.sub !== "string") throw new Error("no subject");
		return { sub: claims.sub, role: claims.role! };
	} catch (err) {
		const expired = err instanceof jwt.TokenExpiredError;
		throw new UnauthorizedError(
			expired ? "Token expired" : "Invalid token",
			expired ? "TOKEN_EXPIRED" : "INVALID_TOKEN",
		);
	}
}
