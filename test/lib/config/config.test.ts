import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import {
	DEV_JWT_SECRET,
	dbPoolMax,
	dbUriFor,
	httpServerLimits,
	jwtSecretProblem,
	loadAdminConfig,
	loadAuthConfig,
	loadConfig,
} from "../../../lib/config";
import { signToken, verifyToken } from "../../../lib/auth";
import { hashPassword, verifyPassword } from "../../../services/users/passwords";
import jwt from "jsonwebtoken";

describe("configuration", () => {
	it("runs in dev with defaults: dev secret, default admin, seeding on", () => {
		expect(loadAuthConfig({})).toEqual({ jwtSecret: DEV_JWT_SECRET, tokenTtlSeconds: 3600 });
		expect(loadAdminConfig({})).toEqual({ email: "admin@example.com", password: "admin-password" });
		expect(loadConfig({})).toMatchObject({ production: false, port: 3000, seed: true, lowStockThreshold: 5 });
	});

	it("refuses to start in production without a real JWT secret", () => {
		expect(() => loadAuthConfig({ NODE_ENV: "production" })).toThrow(/JWT_SECRET/);
		expect(() => loadAuthConfig({ NODE_ENV: "production", JWT_SECRET: DEV_JWT_SECRET })).toThrow(/JWT_SECRET/);
		expect(() => loadAuthConfig({ NODE_ENV: "production", JWT_SECRET: "short" })).toThrow(/JWT_SECRET/);
		// Actors that never touch tokens start without it.
		expect(loadConfig({ NODE_ENV: "production" }).production).toBe(true);
	});

	it("in production creates no default admin and seeds only on request", () => {
		const prod = { NODE_ENV: "production" };
		expect(loadConfig(prod).seed).toBe(false);
		expect(loadAdminConfig(prod)).toBeNull();
		expect(loadAdminConfig({ ...prod, ADMIN_EMAIL: "ops@shop.test" })).toBeNull();
		expect(loadAdminConfig({ ...prod, ADMIN_EMAIL: "ops@shop.test", ADMIN_PASSWORD: "a-long-Passw0rd" })).toEqual({
			email: "ops@shop.test",
			password: "a-long-Passw0rd",
		});
		expect(loadConfig({ ...prod, SEED: "true" }).seed).toBe(true);
		expect(loadConfig({ SEED: "false" }).seed).toBe(false);
	});

	it("reads secrets from *_FILE and per-service DB URIs", () => {
		const dir = mkdtempSync(path.join(tmpdir(), "emporium-"));
		const secret = randomBytes(32).toString("hex");
		writeFileSync(path.join(dir, "jwt"), `${secret}\n`);
		writeFileSync(path.join(dir, "db"), "mysql://u:p@db/orders\n");
		expect(loadAuthConfig({ NODE_ENV: "production", JWT_SECRET_FILE: path.join(dir, "jwt") }).jwtSecret).toBe(secret);
		expect(dbUriFor("orders", { DB_URI: "postgres://x/y", ORDERS_DB_URI_FILE: path.join(dir, "db") })).toBe(
			"mysql://u:p@db/orders",
		);
		expect(dbUriFor("users", { DB_URI: "postgres://x/y" })).toBe("postgres://x/y");
		expect(dbUriFor("users", {})).toBe("memory://");
	});

	it("sizes each actor's SQL pool from DB_POOL_MAX, 10 by default", () => {
		expect(dbPoolMax({})).toBe(10);
		expect(dbPoolMax({ DB_POOL_MAX: "4" })).toBe(4);
		expect(() => dbPoolMax({ DB_POOL_MAX: "0" })).toThrow(/DB_POOL_MAX/);
		expect(() => dbPoolMax({ DB_POOL_MAX: "many" })).toThrow(/DB_POOL_MAX/);
	});
});

describe("tokens and passwords", () => {
	const secret = "t".repeat(40);

	it("accepts its own HS256 tokens and rejects tampered, unsigned and expired ones", () => {
		const token = signToken({ sub: "u1", role: "customer" }, secret, 3600);
		expect(verifyToken(token, secret, 3600)).toEqual({ sub: "u1", role: "customer" });
		expect(() => verifyToken(token, "another-secret-that-is-long-enough!!", 3600)).toThrow(
			expect.objectContaining({ code: 401 }),
		);
		const [header, payload] = token.split(".");
		const none = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${payload}.`;
		expect(() => verifyToken(none, secret, 3600)).toThrow(expect.objectContaining({ code: 401 }));
		expect(() => verifyToken(`${header}.${payload}x.sig`, secret, 3600)).toThrow(
			expect.objectContaining({ code: 401 }),
		);
		const expired = jwt.sign({ sub: "u1", role: "customer", exp: Math.floor(Date.now() / 1000) - 10 }, secret);
		expect(() => verifyToken(expired, secret, 3600)).toThrow(
			expect.objectContaining({ code: 401, type: "TOKEN_EXPIRED" }),
		);
	});

	it("salts every hash and verifies only the right password", async () => {
		const [a, b] = await Promise.all([hashPassword("correct horse"), hashPassword("correct horse")]);
		expect(a).not.toBe(b);
		expect(a).toMatch(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{128}$/);
		expect(await verifyPassword("correct horse", a)).toBe(true);
		expect(await verifyPassword("wrong horse", a)).toBe(false);
	});
});

/** Issue 18, finding 1: production refuses placeholder and low-entropy secrets and weak admin passwords. */
describe("production secrets", () => {
	const prod = (env: Record<string, string>) => ({ NODE_ENV: "production", ...env });

	it("refuses the placeholders of docker/, k8s/ and the development default", () => {
		for (const secret of [
			"change-me-this-is-a-placeholder-jwt-secret-0123456789",
			"CHANGE-ME",
			DEV_JWT_SECRET,
			"CHANGE-ME-please-with-a-long-tail-0123456789abcdef",
			"my-placeholder-secret-0123456789-abcdefghijklmnop",
		])
			expect(() => loadAuthConfig(prod({ JWT_SECRET: secret })), secret).toThrow(/JWT_SECRET/);
	});

	it("refuses low-entropy secrets: fewer than 32 bytes or fewer than 10 distinct characters", () => {
		for (const secret of [
			" ".repeat(40),
			"a".repeat(32),
			"ab".repeat(30),
			"0123456780123456780123456780123456",
			"short",
		])
			expect(() => loadAuthConfig(prod({ JWT_SECRET: secret })), JSON.stringify(secret)).toThrow(/JWT_SECRET/);
	});

	it("accepts generated secrets (openssl rand -hex 32 / -base64 32)", () => {
		for (let i = 0; i < 200; i++) {
			const hex = randomBytes(32).toString("hex");
			expect(jwtSecretProblem(hex), hex).toBeUndefined();
			expect(jwtSecretProblem(randomBytes(32).toString("base64"))).toBeUndefined();
		}
		expect(loadAuthConfig(prod({ JWT_SECRET: "s".repeat(20) + "0123456789abcdef" })).jwtSecret).toBe(
			"s".repeat(20) + "0123456789abcdef",
		);
	});

	it("keeps development permissive: any secret, the default admin", () => {
		expect(loadAuthConfig({ JWT_SECRET: "short" }).jwtSecret).toBe("short");
		expect(loadAdminConfig({})).toEqual({ email: "admin@example.com", password: "admin-password" });
		expect(loadAdminConfig({ ADMIN_PASSWORD: "CHANGE-ME" })?.password).toBe("CHANGE-ME");
	});

	it("requires ADMIN_PASSWORD in production to be 12+ characters, not a placeholder or the dev default", () => {
		const admin = (password: string) => () =>
			loadAdminConfig(prod({ ADMIN_EMAIL: "ops@shop.test", ADMIN_PASSWORD: password }));
		for (const weak of [
			"CHANGE-ME",
			"change-me-admin-password",
			"admin-password",
			"Sh0rt-pass",
			"aaaaaaaaaaaaaaaa",
			"placeholder-password",
		])
			expect(admin(weak), weak).toThrow(/ADMIN_PASSWORD/);
		expect(admin("a-Strong-passw0rd")()).toEqual({ email: "ops@shop.test", password: "a-Strong-passw0rd" });
		// No admin account is configured: nothing to check, none is created.
		expect(loadAdminConfig(prod({}))).toBeNull();
		expect(loadAdminConfig(prod({ ADMIN_EMAIL: "ops@shop.test" }))).toBeNull();
	});

	it("reads the token lifetime as seconds, minutes, hours or days, and refuses anything else", () => {
		expect(loadAuthConfig({}).tokenTtlSeconds).toBe(3600);
		for (const [text, seconds] of [
			["900", 900],
			["90s", 90],
			["15m", 900],
			["2h", 7200],
			["7d", 604800],
		] as const)
			expect(loadAuthConfig({ JWT_EXPIRES_IN: text }).tokenTtlSeconds, text).toBe(seconds);
		for (const bad of ["1 hour", "-1h", "0", "1y", "1.5h"])
			expect(() => loadAuthConfig({ JWT_EXPIRES_IN: bad }), bad).toThrow(/JWT_EXPIRES_IN/);
	});
});

/** Issue 18, findings 2, 3 and 8: the limits, from the environment, with their defaults. */
describe("limits", () => {
	it("has defaults that fit an API", () => {
		expect(loadConfig({})).toMatchObject({
			loginMaxPerAddress: 100,
			registerMaxPerAddress: 20,
			passwordHashConcurrency: 2,
			passwordHashQueue: 32,
			cacheMax: 1000,
			kafkaPartitions: 3,
		});
		expect(httpServerLimits({})).toEqual({
			headersTimeoutMs: 10_000,
			requestTimeoutMs: 30_000,
			keepAliveTimeoutMs: 5_000,
			maxConnections: 1000,
		});
	});

	it("reads every limit from its variable and refuses nonsense", () => {
		expect(
			httpServerLimits({
				HTTP_HEADERS_TIMEOUT_MS: "1000",
				HTTP_REQUEST_TIMEOUT_MS: "2000",
				HTTP_KEEP_ALIVE_TIMEOUT_MS: "500",
				HTTP_MAX_CONNECTIONS: "5",
			}),
		).toEqual({ headersTimeoutMs: 1000, requestTimeoutMs: 2000, keepAliveTimeoutMs: 500, maxConnections: 5 });
		expect(() => httpServerLimits({ HTTP_MAX_CONNECTIONS: "0" })).toThrow(/HTTP_MAX_CONNECTIONS/);
		expect(() => httpServerLimits({ HTTP_HEADERS_TIMEOUT_MS: "5000", HTTP_REQUEST_TIMEOUT_MS: "1000" })).toThrow(
			/HTTP_REQUEST_TIMEOUT_MS/,
		);
		expect(() => loadConfig({ PASSWORD_HASH_CONCURRENCY: "0" })).toThrow(/PASSWORD_HASH_CONCURRENCY/);
		expect(() => loadConfig({ CACHE_MAX: "-1" })).toThrow(/CACHE_MAX/);
		expect(loadConfig({ KAFKA_PARTITIONS: "12" }).kafkaPartitions).toBe(12);
		expect(() => loadConfig({ KAFKA_PARTITIONS: "0" })).toThrow(/KAFKA_PARTITIONS/);
		expect(() => loadConfig({ KAFKA_PARTITIONS: "2.5" })).toThrow(/KAFKA_PARTITIONS/);
	});
});
