import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { client, type Client, type Response } from "../support/http";
import { createTestDatabase } from "../support/databases";
import { describeWithServers, SERVERS } from "../support/servers";
import type { ApiError } from "../support/api";

/**
 * Login throttling: after 10 failed logins for one email from one client address within 15 minutes, further
 * attempts answer 429 with Retry-After, even with the right password. With a Redis cacher the count is shared
 * by every gateway.
 */

const MAX_FAILURES = 10;
const WINDOW_SECONDS = 15 * 60;

function expectThrottled(res: Response) {
	expect(res.status, JSON.stringify(res.body)).toBe(429);
	expect(res.body).toMatchObject({
		name: expect.any(String),
		message: expect.any(String),
		code: 429,
		type: "TOO_MANY_REQUESTS",
	});
	const retryAfter = res.headers.get("retry-after");
	expect(retryAfter).toMatch(/^\d+$/);
	expect(Number(retryAfter)).toBeGreaterThan(0);
	expect(Number(retryAfter)).toBeLessThanOrEqual(WINDOW_SECONDS);
	expect((res.body as ApiError<{ retryAfter: number }>).data.retryAfter).toBe(Number(retryAfter));
	return Number(retryAfter);
}

const login = (api: Client, email: string, password: string, headers?: Record<string, string>) =>
	api.request("POST", "/api/auth/login", { body: { email, password }, headers });

describe("login throttling (one gateway, memory count)", () => {
	const run = randomBytes(4).toString("hex");
	let shop: Shop;
	let api: Client;

	beforeAll(async () => {
		// TRUST_PROXY lets the test speak from other client addresses through X-Forwarded-For.
		shop = await startShop({ env: { TRUST_PROXY: "true", CACHER: undefined } });
		api = client(shop.url);
	});

	afterAll(async () => {
		await shop?.stop();
	});

	it(
		"blocks an email after 10 failures from one address, also for the right password, " + "and tells when to retry",
		async () => {
			const email = `victim-${run}@example.com`;
			await api.register(email, "the-right-password");
			const from = { "x-forwarded-for": "198.51.100.7" };
			for (let i = 1; i <= MAX_FAILURES; i++)
				expect((await login(api, email, `guess-${i}`, from)).status, `failure ${i}`).toBe(401);

			const retryAfter = expectThrottled(await login(api, email, "guess-11", from));
			console.info(`blocked after ${MAX_FAILURES} failures, Retry-After: ${retryAfter} s`);
			expectThrottled(await login(api, email, "the-right-password", from));
			// The normalised email is the key: changing its case is not a way around the block.
			expectThrottled(await login(api, email.toUpperCase(), "the-right-password", from));

			// The key is email + client address: the owner logging in from elsewhere and other accounts are not blocked.
			expect((await login(api, email, "the-right-password", { "x-forwarded-for": "203.0.113.20" })).status).toBe(200);
			const other = `bystander-${run}@example.com`;
			await api.register(other, "bystander-password");
			expect((await login(api, other, "bystander-password", from)).status).toBe(200);
			expect((await login(api, other, "wrong-password", from)).status).toBe(401);
		},
	);

	it("counts attempts made in parallel: 30 simultaneous guesses get at most 10 password checks", async () => {
		const email = `burst-${run}@example.com`;
		await api.register(email, "the-right-password");
		const from = { "x-forwarded-for": "198.51.100.8" };
		const statuses = (
			await Promise.all(Array.from({ length: 30 }, (_, i) => login(api, email, `parallel-guess-${i}`, from)))
		).map(r => r.status);
		const histogram = statuses.reduce<Record<number, number>>((h, s) => ({ ...h, [s]: (h[s] ?? 0) + 1 }), {});
		console.info(`30 parallel wrong logins: ${JSON.stringify(histogram)}`);
		expect(histogram[401]).toBe(MAX_FAILURES);
		expect(histogram[429]).toBe(30 - MAX_FAILURES);
		expectThrottled(await login(api, email, "the-right-password", from));
	});

	it("forgets the failures after a successful login", async () => {
		const email = `forgetful-${run}@example.com`;
		await api.register(email, "the-right-password");
		const from = { "x-forwarded-for": "198.51.100.9" };
		for (let i = 1; i < MAX_FAILURES; i++) expect((await login(api, email, `typo-${i}`, from)).status).toBe(401);
		expect((await login(api, email, "the-right-password", from)).status).toBe(200);
		for (let i = 1; i < MAX_FAILURES; i++) expect((await login(api, email, `typo-again-${i}`, from)).status).toBe(401);
		expect((await login(api, email, "the-right-password", from)).status).toBe(200);
	});
});

describe("login throttling (short window)", () => {
	let shop: Shop;

	afterAll(async () => {
		await shop?.stop();
	});

	it("lets the owner in again once the window has passed", async () => {
		shop = await startShop({ env: { LOGIN_MAX_FAILURES: "3", LOGIN_WINDOW_SECONDS: "1", CACHER: undefined } });
		const api = client(shop.url);
		const email = `patient-${randomBytes(4).toString("hex")}@example.com`;
		await api.register(email, "the-right-password");
		for (let i = 1; i <= 3; i++) expect((await login(api, email, `guess-${i}`)).status).toBe(401);
		expect(expectThrottled(await login(api, email, "the-right-password"))).toBe(1);
		await new Promise(resolve => setTimeout(resolve, 1100));
		expect((await login(api, email, "the-right-password")).status).toBe(200);
	});
});

// An async suite: whether the servers are up is known only after a connection attempt (no top-level await in CommonJS).
describe("login throttling with Redis", async () => {
	await describeWithServers(
		["redis", "nats", "postgres"],
		"shared by two gateways (Redis count, NATS, PostgreSQL users)",
		() => {
			const run = randomBytes(4).toString("hex");
			const email = `shared-${run}@example.com`;
			const namespace = `throttle-${run}`;
			let redis: Redis;
			let database: { uri: string; drop: () => Promise<void> };
			let gatewayA: Shop;
			let gatewayB: Shop;

			beforeAll(async () => {
				redis = new Redis(SERVERS.redis.url);
				database = await createTestDatabase("postgres");
				// Two nodes, each a gateway with its own users actor (preferLocal keeps each gateway on its own),
				// over one users database: only Redis can carry the count from one to the other.
				const env = {
					TRANSPORTER: SERVERS.nats.url,
					// Nothing here consumes the users' events: each node keeps its own in-process bus.
					EVENTS_IN_PROCESS: "true",
					NAMESPACE: namespace,
					CACHER: SERVERS.redis.url,
					USERS_DB_URI: database.uri,
				};
				gatewayA = await startShop({ env: { ...env, NODEID: `gateway-a-${run}` }, services: ["api", "users"] });
				gatewayB = await startShop({ env: { ...env, NODEID: `gateway-b-${run}` }, services: ["api", "users"] });
				await gatewayA.broker.waitForServices(["users"]);
			});

			afterAll(async () => {
				await Promise.all([gatewayA?.stop(), gatewayB?.stop()]);
				const keys = redis ? await redis.keys(`emporium:*:login-failures:*-${run}@example.com|*`) : [];
				if (keys.length) await redis.del(...keys);
				redis?.disconnect();
				await database?.drop();
			});

			it("counts failures made on gateway A when the next attempt arrives on gateway B", async () => {
				const a = client(gatewayA.url);
				const b = client(gatewayB.url);
				await a.register(email, "the-right-password");
				expect((await login(b, email, "the-right-password")).status).toBe(200);

				for (let i = 1; i <= MAX_FAILURES - 1; i++) expect((await login(a, email, `guess-${i}`)).status).toBe(401);
				// The tenth failure lands on B: the count is one for both gateways.
				expect((await login(b, email, "guess-10")).status).toBe(401);
				const retryAfter = expectThrottled(await login(a, email, "the-right-password"));
				expectThrottled(await login(b, email, "the-right-password"));
				console.info(
					`shared count: blocked on both gateways after ${MAX_FAILURES} failures split A/B, ` +
						`Retry-After: ${retryAfter} s`,
				);

				const [key] = await redis.keys(`emporium:*:login-failures:${email}|*`);
				expect(key).toBeDefined();
				expect(await redis.pttl(key)).toBeGreaterThan(0);
				expect(Number(await redis.get(key))).toBeGreaterThanOrEqual(MAX_FAILURES);
			});

			it(
				"counts parallel attempts on both gateways atomically: " + "30 simultaneous guesses get 10 password checks",
				async () => {
					const burst = `burst-${run}@example.com`;
					const gateways = [client(gatewayA.url), client(gatewayB.url)];
					await gateways[0].register(burst, "the-right-password");
					const statuses = (
						await Promise.all(
							Array.from({ length: 30 }, (_, i) => login(gateways[i % 2], burst, `parallel-guess-${i}`)),
						)
					).map(r => r.status);
					const histogram = statuses.reduce<Record<number, number>>((h, s) => ({ ...h, [s]: (h[s] ?? 0) + 1 }), {});
					console.info(`30 parallel wrong logins over two gateways: ${JSON.stringify(histogram)}`);
					expect(histogram).toEqual({ 401: MAX_FAILURES, 429: 30 - MAX_FAILURES });
				},
			);
		},
	);
});
