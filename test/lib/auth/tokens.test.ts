import jwt from "jsonwebtoken";
import { afterEach, describe, expect, it, vi } from "vitest";
import { signToken, verifyToken } from "../../../lib/auth";

/** Issue 18, finding 1 and 9: which correctly signed tokens are still refused. */
describe("token claims", () => {
	const secret = "t".repeat(40);
	const now = () => Math.floor(Date.now() / 1000);
	/** A string payload is signed as it is, so claims jsonwebtoken would refuse to sign (a text `exp`) can be made. */
	const sign = (claims: Record<string, unknown>) => jwt.sign(JSON.stringify(claims), secret, { algorithm: "HS256" });
	const LIFETIME = 3600;

	it("accepts the tokens signToken makes", () => {
		const token = signToken({ sub: "u1", role: "customer" }, secret, LIFETIME);
		expect(verifyToken(token, secret, LIFETIME)).toEqual({ sub: "u1", role: "customer" });
		const claims = jwt.decode(token) as { iat: number; exp: number };
		expect(claims.exp - claims.iat).toBe(LIFETIME);
	});

	it.each([
		["no exp", { sub: "u1", role: "customer" }],
		["exp beyond the lifetime and the skew", { sub: "u1", role: "customer", exp: now() + LIFETIME + 120 }],
		["exp a year ahead", { sub: "u1", role: "customer", exp: now() + 365 * 86400 }],
		["iat in the future", { sub: "u1", role: "customer", iat: now() + 300, exp: now() + 600 }],
		["a non-numeric exp", { sub: "u1", role: "customer", exp: "tomorrow" }],
		["a subject over 64 characters", { sub: "u".repeat(65), role: "customer", exp: now() + 60 }],
		["an empty subject", { sub: "", role: "customer", exp: now() + 60 }],
	])("refuses a token with %s (401 INVALID_TOKEN)", (_what, claims) => {
		expect(() => verifyToken(sign(claims), secret, LIFETIME)).toThrow(
			expect.objectContaining({ code: 401, type: "INVALID_TOKEN" }),
		);
	});

	describe("a token accepted once (verified again only for its expiry)", () => {
		afterEach(() => {
			vi.useRealTimers();
		});

		it("is refused once it expires", () => {
			vi.useFakeTimers({ toFake: ["Date"] });
			const token = signToken({ sub: "u2", role: "customer" }, secret, 60);
			expect(verifyToken(token, secret, LIFETIME).sub).toBe("u2");
			vi.setSystemTime(Date.now() + 61_000);
			expect(() => verifyToken(token, secret, LIFETIME)).toThrow(
				expect.objectContaining({ code: 401, type: "TOKEN_EXPIRED" }),
			);
		});

		it("is refused under another secret", () => {
			const token = signToken({ sub: "u3", role: "customer" }, secret, 60);
			expect(verifyToken(token, secret, LIFETIME).sub).toBe("u3");
			expect(() => verifyToken(token, "o".repeat(40), LIFETIME)).toThrow(
				expect.objectContaining({ code: 401, type: "INVALID_TOKEN" }),
			);
		});
	});

	it("tolerates a small clock skew", () => {
		const token = sign({ sub: "u1", role: "customer", iat: now() + 10, exp: now() + LIFETIME + 10 });
		expect(verifyToken(token, secret, LIFETIME).sub).toBe("u1");
	});

	it("still reports an expired token as TOKEN_EXPIRED", () => {
		expect(() => verifyToken(sign({ sub: "u1", role: "customer", exp: now() - 10 }), secret, LIFETIME)).toThrow(
			expect.objectContaining({ code: 401, type: "TOKEN_EXPIRED" }),
		);
	});
});
