import crypto from "node:crypto";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client } from "../support/http";
import { startReceiver, type Receiver } from "../support/webhook-receiver";
import type { Page, Product } from "../support/api";
import { auditShop } from "../../lib/audit";
import { postWebhook } from "../../services/webhooks/sender";

/** The README's receiver recipe ("Webhooks: verifying a delivery"), line for line. */
function verify(secret: string, header: string, rawBody: string, toleranceSeconds = 300): boolean {
	const parts: Record<string, string> = Object.fromEntries(header.split(",").map(p => p.split("=")));
	const t = Number(parts.t);
	if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
	const expected = crypto.createHmac("sha256", secret).update(`${t}.${rawBody}`).digest();
	const given = Buffer.from(parts.v1 ?? "", "hex");
	return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

interface Hook {
	id: string;
	secret: string;
	url: string;
	events: string[];
	active: boolean;
}
interface DeliveryRow {
	id: string;
	eventId: string;
	eventType: string;
	status: string;
	attempts: number;
	lastStatusCode: number | null;
	lastError: string | null;
}

/** Fast retries (200 ms doubling-ish, capped at 1 s) and a 12 s timeout: a 10 s receiver still succeeds. */
const FAST = {
	WEBHOOK_RETRY_BASE_MS: "200",
	WEBHOOK_RETRY_MAX_MS: "1000",
	WEBHOOK_MAX_ATTEMPTS: "100",
	WEBHOOK_TIMEOUT_MS: "12000",
	WEBHOOK_POLL_MS: "100",
};

describe("webhooks: signed, retried, never blocking an order", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;
	let customer: string;
	let productId: string;
	const receivers: Receiver[] = [];

	const order = () =>
		api.post<{ id: string; status: string }>(
			"/api/orders",
			{ items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
			{ token: customer },
		);
	const subscribe = async (url: string, events: string[]) => {
		const res = await api.post<Hook>("/api/webhooks", { url, events }, { token: admin });
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return res.body;
	};
	const deliveries = async (hookId: string) =>
		(await api.get<Page<DeliveryRow>>(`/api/webhooks/${hookId}/deliveries?pageSize=100`, { token: admin })).body;

	beforeAll(async () => {
		shop = await startShop({ env: { ...FAST, CACHER: undefined } });
		api = client(shop.url);
		admin = (await api.login("admin@example.com", "admin-password")).token;
		customer = (await api.register(`hooks-${Date.now()}@example.com`, "customer-password")).token;
		const product = await api.post<Product>(
			"/api/products",
			{ name: "Hooked", price: 500, category: "hooks", sku: `HOOK-${Date.now()}` },
			{ token: admin },
		);
		productId = product.body.id;
		await api.put(`/api/inventory/${productId}`, { available: 100_000 }, { token: admin });
	});

	afterAll(async () => {
		await shop?.stop();
		for (const r of receivers) await r.stop();
	});

	it("signs each delivery so the README recipe verifies it; a tampered body or an old timestamp does not", async () => {
		const receiver = await startReceiver();
		receivers.push(receiver);
		const hook = await subscribe(receiver.url, ["order.created", "order.confirmed"]);
		expect(Buffer.from(hook.secret, "base64url")).toHaveLength(32);
		expect((await api.get<Hook>(`/api/webhooks/${hook.id}`, { token: admin })).body).not.toHaveProperty("secret");

		const placed = await order();
		expect(placed.status).toBe(201);
		await eventually(() => Promise.resolve(receiver.received.length >= 2), 10_000);
		await new Promise(r => setTimeout(r, 500));
		const types = receiver.received.map(r => r.headers["emporium-event-type"]).sort();
		expect(types).toEqual(["order.confirmed", "order.created"]);
		expect([...receiver.counts().values()]).toEqual([1, 1]);
		for (const r of receiver.received) {
			const header = String(r.headers["emporium-signature"]);
			expect(r.headers["content-type"]).toBe("application/json");
			expect(r.headers["emporium-delivery-id"]).toMatch(/^[0-9a-f]{32}$/);
			expect(JSON.parse(r.body)).toMatchObject({
				id: r.headers["emporium-event-id"],
				data: { orderId: placed.body.id },
			});
			expect(verify(hook.secret, header, r.body)).toBe(true);
			expect(verify(hook.secret, header, r.body.replace(placed.body.id, "someone-else"))).toBe(false);
			const t = Math.floor(Date.now() / 1000) - 600;
			const old = `t=${t},v1=${crypto.createHmac("sha256", hook.secret).update(`${t}.${r.body}`).digest("hex")}`;
			expect(verify(hook.secret, old, r.body)).toBe(false);
		}
		const log = await deliveries(hook.id);
		expect(log.rows).toHaveLength(2);
		expect(log.rows.every(d => d.status === "SUCCEEDED" && d.attempts === 1 && d.lastStatusCode === 200)).toBe(true);
		expect((await api.delete(`/api/webhooks/${hook.id}`, { token: admin })).status).toBe(200);
	});

	it("receiver down 10 s, 50 orders placed: each event once after it returns, attempts recorded", async () => {
		const receiver = await startReceiver();
		receivers.push(receiver);
		const hook = await subscribe(receiver.url, ["order.created", "order.confirmed"]);
		await receiver.down();
		const downAt = Date.now();
		const placed = await Promise.all(Array.from({ length: 50 }, () => order()));
		expect(placed.every(p => p.status === 201)).toBe(true);
		await new Promise(r => setTimeout(r, Math.max(0, 10_000 - (Date.now() - downAt))));
		expect(receiver.received).toHaveLength(0);
		await receiver.up();
		await eventually(() => Promise.resolve(receiver.received.length >= 100), 20_000, 100);
		await new Promise(r => setTimeout(r, 1500));
		const counts = receiver.counts();
		expect(counts.size).toBe(100);
		expect([...counts.values()].every(n => n === 1)).toBe(true);
		const log = await deliveries(hook.id);
		expect(log.total).toBe(100);
		expect(log.rows.every(d => d.status === "SUCCEEDED")).toBe(true);
		const attempts = log.rows.map(d => d.attempts);
		console.log(
			`[webhooks] after a 10 s outage: 100 once each, attempts ${Math.min(...attempts)}..${Math.max(...attempts)}`,
		);
		expect(Math.max(...attempts)).toBeGreaterThan(1);
		// One at a time, oldest event first: the order.created of each order arrives before its order.confirmed.
		const seen = receiver.received.map(r => JSON.parse(r.body) as { occurredAt: string });
		expect(seen.map(e => e.occurredAt)).toEqual(seen.map(e => e.occurredAt).sort());
		await api.delete(`/api/webhooks/${hook.id}`, { token: admin });
	}, 60_000);

	it("a receiver answering after 10 s does not change order placement latency", async () => {
		const p99 = async (n: number) => {
			const times: number[] = [];
			for (let i = 0; i < n; i++) {
				const start = performance.now();
				expect((await order()).status).toBe(201);
				times.push(performance.now() - start);
			}
			times.sort((a, b) => a - b);
			return times[Math.ceil(n * 0.99) - 1];
		};
		await p99(10);
		const without = await p99(60);
		const receiver = await startReceiver({ delayMs: 10_000 });
		receivers.push(receiver);
		const hook = await subscribe(receiver.url, ["*"]);
		const withSlow = await p99(60);
		console.log(
			`[webhooks] order p99 without a webhook ${without.toFixed(1)} ms, with a 10 s receiver ${withSlow.toFixed(1)} ms`,
		);
		expect(receiver.received.length).toBeGreaterThan(0);
		expect(withSlow).toBeLessThan(Math.max(3 * without, without + 250));
		await api.patch(`/api/webhooks/${hook.id}`, { active: false }, { token: admin });
	}, 60_000);

	it("retries a failing delivery, lets an admin redeliver it, and audits clean", async () => {
		const receiver = await startReceiver({ status: 500 });
		receivers.push(receiver);
		const hook = await subscribe(receiver.url, ["order.confirmed"]);
		await order();
		await eventually(() => Promise.resolve(receiver.received.length >= 3), 10_000);
		receiver.settings.status = 204;
		await eventually(async () => (await deliveries(hook.id)).rows[0]?.status === "SUCCEEDED", 10_000);
		const [d] = (await deliveries(hook.id)).rows;
		expect(d.attempts).toBeGreaterThanOrEqual(4);
		const again = await api.post<DeliveryRow>(`/api/webhooks/${hook.id}/deliveries/${d.id}/redeliver`, undefined, {
			token: admin,
		});
		expect(again.body).toMatchObject({ status: "PENDING" });
		await eventually(async () => (await deliveries(hook.id)).rows[0]?.status === "SUCCEEDED", 10_000);
		const rotated = await api.post<Hook>(`/api/webhooks/${hook.id}/rotate-secret`, undefined, { token: admin });
		expect(rotated.body.secret).not.toBe(hook.secret);
		const bad = await api.post("/api/webhooks", { url: receiver.url, events: ["order.nope"] }, { token: admin });
		expect(bad.status).toBe(422);
		expect((await auditShop(shop.broker)).violations).toEqual([]);
	}, 30_000);
});

describe("webhook URLs in production", () => {
	let shop: Shop;
	const adminMeta = { meta: { user: { id: "admin", role: "admin" } } };

	beforeAll(async () => {
		shop = await startShop({ env: { NODE_ENV: "production", ...FAST }, services: ["webhooks"] });
	});
	afterAll(async () => {
		await shop?.stop();
	});

	it.each([
		"http://127.0.0.1:8080/",
		"http://localhost/",
		"http://10.0.0.5/",
		"http://192.168.1.10/",
		"http://172.20.0.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[::1]/",
		"http://metadata.google.internal/",
	])("refuses %s with 422 INVALID_WEBHOOK_URL", async url => {
		await expect(shop.broker.call("webhooks.create", { url, events: ["*"] }, adminMeta)).rejects.toMatchObject({
			code: 422,
			type: "INVALID_WEBHOOK_URL",
		});
	});

	it("refuses at delivery time a host name that resolves to a private or loopback address", async () => {
		const receiver = await startReceiver();
		try {
			const url = `http://${os.hostname()}:${receiver.port}/hook`;
			const outcome = await postWebhook({ url, headers: {}, body: "{}", timeoutMs: 2000, allowPrivate: false });
			expect(outcome).toMatchObject({ error: expect.stringMatching(/refused address|ENOTFOUND|EAI_AGAIN/) });
			expect(receiver.received).toHaveLength(0);
		} finally {
			await receiver.stop();
		}
	});
});
