import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEV_JWT_SECRET, dbUriFor, loadAuthConfig, loadConfig } from "../../../lib/config";
import { signToken, verifyToken } from "../../../lib/auth";
import { hashPassword, verifyPassword } from "../../../services/users/passwords";
import jwt from "jsonwebtoken";

describe("configuration", () => {
	it("runs in dev with defaults: dev secret, default admin, seeding on", () => {
		expect(loadAuthConfig({})).toEqual({ jwtSecret: DEV_JWT_SECRET, jwtExpiresIn: "1h" });
		expect(loadConfig({})).toMatchObject({
			production: false,
			port: 3000,
			admin: { email: "admin@example.com", password: "admin-password" },
			seed: true,
			lowStockThreshold: 5,
		});
	});

	it("refuses to start in production without a real JWT secret", () => {
		expect(() => loadAuthConfig({ NODE_ENV: "production" })).toThrow(/JWT_SECRET/);
		expect(() => loadAuthConfig({ NODE_ENV: "production", JWT_SECRET: DEV_JWT_SECRET })).toThrow(/JWT_SECRET/);
		expect(() => loadAuthConfig({ NODE_ENV: "production", JWT_SECRET: "short" })).toThrow(/JWT_SECRET/);
		// Actors that never touch tokens start without it.
		expect(loadConfig({ NODE_ENV: "production" }).production).toBe(true);
	});

	it("in production creates no default admin and seeds only on request", () => {
		const secret = "x".repeat(40);
		expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: secret })).toMatchObject({ admin: null, seed: false });
		expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: secret, ADMIN_EMAIL: "ops@shop.test" }).admin).toBeNull();
		expect(
			loadConfig({
				NODE_ENV: "production",
				JWT_SECRET: secret,
				ADMIN_EMAIL: "ops@shop.test",
				ADMIN_PASSWORD: "long-password",
				SEED: "true",
			}),
		).toMatchObject({ admin: { email: "ops@shop.test" }, seed: true });
		expect(loadConfig({ SEED: "false" }).seed).toBe(false);
	});

	it("reads secrets from *_FILE and per-service DB URIs", () => {
		const dir = mkdtempSync(path.join(tmpdir(), "emporium-"));
		writeFileSync(path.join(dir, "jwt"), `${"s".repeat(40)}\n`);
		writeFileSync(path.join(dir, "db"), "mysql://u:p@db/orders\n");
		expect(loadAuthConfig({ NODE_ENV: "production", JWT_SECRET_FILE: path.join(dir, "jwt") }).jwtSecret).toBe(
			"s".repeat(40),
		);
		expect(dbUriFor("orders", { DB_URI: "postgres://x/y", ORDERS_DB_URI_FILE: path.join(dir, "db") })).toBe(
			"mysql://u:p@db/orders",
		);
		expect(dbUriFor("users", { DB_URI: "postgres://x/y" })).toBe("postgres://x/y");
		expect(dbUriFor("users", {})).toBe("memory://");
	});
});

describe("tokens and passwords", () => {
	const secret = "t".repeat(40);

	it("accepts its own HS256 tokens and rejects tampered, unsigned and expired ones", () => {
		const token = signToken({ sub: "u1", role: "customer" }, secret, "1h");
		expect(verifyToken(token, secret)).toEqual({ sub: "u1", role: "customer" });
		expect(() => verifyToken(token, "another-secret-that-is-long-enough!!")).toThrow(
			expect.objectContaining({ code: 401 }),
		);
		const [header, payload] = token.split(".");
		const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
		expect(() => verifyToken(none, secret)).toThrow(expect.objectContaining({ code: 401 }));
		expect(() => verifyToken(`${header}.${payload}x.sig`, secret)).toThrow(expect.objectContaining({ code: 401 }));
		const expired = jwt.sign({ sub: "u1", role: "customer", exp: Math.floor(Date.now() / 1000) - 10 }, secret);
		expect(() => verifyToken(expired, secret)).toThrow(expect.objectContaining({ code: 401, type: "TOKEN_EXPIRED" }));
	});

	it("salts every hash and verifies only the right password", async () => {
		const [a, b] = await Promise.all([hashPassword("correct horse"), hashPassword("correct horse")]);
		expect(a).not.toBe(b);
		expect(a).toMatch(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{128}$/);
		expect(await verifyPassword("correct horse", a)).toBe(true);
		expect(await verifyPassword("wrong horse", a)).toBe(false);
	});
});
