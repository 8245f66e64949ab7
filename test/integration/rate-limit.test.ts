import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { startShop, type Shop } from "../support/shop";
import { client } from "../support/http";
import { SERVERS, describeWithServers } from "../support/servers";

const LIMITS = { RATE_LIMIT: "true", RATE_LIMIT_PER_MINUTE: "6", RATE_LIMIT_TOKEN_PER_MINUTE: "3" };

describe("general rate limits, one gateway (memory)", () => {
	let shop: Shop;
	beforeAll(async () => {
		shop = await startShop({ env: { ...LIMITS, CACHER: undefined }, services: ["api", "products"] });
	});
	afterAll(async () => {
		await shop?.stop();
	});

	it("answers 429 with Retry-After past the per-address limit; every answer carries RateLimit-*", async () => {
		const api = client(shop.url);
		const remaining: string[] = [];
		for (let i = 0; i < 6; i++) {
			const res = await api.get("/api/products");
			expect(res.status).toBe(200);
			expect(res.headers.get("ratelimit-limit")).toBe("6");
			expect(Number(res.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
			remaining.push(res.headers.get("ratelimit-remaining")!);
		}
		expect(remaining).toEqual(["5", "4", "3", "2", "1", "0"]);
		const over = await api.get<{ type: string }>("/api/products");
		expect(over.status).toBe(429);
		expect(over.body.type).toBe("TOO_MANY_REQUESTS");
		expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
		expect(over.headers.get("ratelimit-remaining")).toBe("0");
	});

	it("never limits the health probes", async () => {
		for (let i = 0; i < 30; i++) {
			const res = await fetch(`${shop.url}/health/live`);
			expect(res.status).toBe(200);
			expect(res.headers.get("ratelimit-limit")).toBeNull();
		}
	});
});

await describeWithServers(["redis"], "general rate limits shared by two gateways (Redis)", () => {
	const namespace = `rl-${randomBytes(4).toString("hex")}`;
	let a: Shop;
	let b: Shop;
	beforeAll(async () => {
		const env = { ...LIMITS, CACHER: SERVERS.redis.url, NAMESPACE: namespace };
		a = await startShop({ env: { ...env, NODEID: `${namespace}-a` }, services: ["api", "users", "products"] });
		b = await startShop({ env: { ...env, NODEID: `${namespace}-b` }, services: ["api", "users", "products"] });
	});
	afterAll(async () => {
		await Promise.all([a?.stop(), b?.stop()]);
		const redis = new Redis(SERVERS.redis.url);
		const keys = await redis.keys(`emporium:${namespace}:*`);
		if (keys.length) await redis.del(...keys);
		redis.disconnect();
	});

	const send = (i: number, token?: string) =>
		client(i % 2 ? b.url : a.url)
			.get(token ? "/api/users/me" : "/api/products", { token })
			.then(r => r.status);

	it("counts a token on both gateways together", async () => {
		const token = `not-a-real-token-${namespace}`;
		const statuses = [await send(0, token), await send(1, token), await send(2, token), await send(3, token)];
		// The made-up token is refused (401) until its 3 requests are used up; then 429 on either gateway.
		expect(statuses).toEqual([401, 401, 401, 429]);
	});

	it("counts an address on both gateways together", async () => {
		// The 4 requests above counted for the address too: 2 of its 6 are left, whichever gateway is asked.
		const statuses = [await send(0), await send(1), await send(2), await send(3)];
		expect(statuses.slice(0, 2).every(s => s !== 429)).toBe(true);
		expect(statuses.slice(2)).toEqual([429, 429]);
	});
});
