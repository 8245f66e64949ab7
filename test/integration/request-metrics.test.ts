import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Errors, type ServiceBroker } from "moleculer";
import { ROOT } from "../../scripts/nodes";
import { REQUEST_TIME_BUCKETS } from "../../lib/observability";
import { client, type Client } from "../support/http";
import { startShop, type Shop } from "../support/shop";
import { metricsAddress } from "../support/prometheus";
import type { Page, Product } from "../support/api";

/**
 * Issue 16, metrics that cost little: Moleculer's Metrics middleware is replaced by
 * lib/observability/request-metrics.ts, and only the series the dashboard and the alert rules read are collected,
 * without quantile windows or rate timers.
 */

const DASHBOARD = path.join(ROOT, "docker/grafana/dashboards/emporium.json");
const RULES = path.join(ROOT, "infra/prometheus/rules.yml");
const SERIES_NAME = /\b(?:moleculer|emporium)_[a-z0-9_]+/g;

interface Panel {
	targets?: { expr?: string }[];
	panels?: Panel[];
}

/** Every `moleculer_*` and `emporium_*` series name in the dashboard's queries and the alert rules. */
function queriedSeries(): string[] {
	const exprs: string[] = [];
	const walk = (panels: Panel[]) => {
		for (const panel of panels) {
			for (const target of panel.targets ?? []) if (target.expr) exprs.push(target.expr);
			walk(panel.panels ?? []);
		}
	};
	walk((JSON.parse(readFileSync(DASHBOARD, "utf8")) as { panels: Panel[] }).panels);
	exprs.push(readFileSync(RULES, "utf8"));
	return [...new Set(exprs.flatMap(expr => [...expr.matchAll(SERIES_NAME)].map(m => m[0])))].sort();
}

async function scrape(broker: ServiceBroker): Promise<string> {
	const res = await fetch(`${(await metricsAddress(broker)).base}/metrics`);
	expect(res.status).toBe(200);
	return res.text();
}

/** The sample lines of `name` (exactly that name) whose labels include every pair of `labels`. */
function samples(text: string, name: string, labels: Record<string, string> = {}): { labels: string; value: number }[] {
	return text
		.split("\n")
		.filter(line => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
		.map(line => {
			const at = line.lastIndexOf(" ");
			return { labels: line.slice(name.length, at), value: Number(line.slice(at + 1)) };
		})
		.filter(s => Object.entries(labels).every(([k, v]) => s.labels.includes(`${k}="${v}"`)));
}
const sum = (text: string, name: string, labels: Record<string, string> = {}) =>
	samples(text, name, labels).reduce((total, s) => total + s.value, 0);

describe("cheap metrics: only the series the dashboard and alerts read, counted right", () => {
	let shop: Shop;
	let api: Client;
	let product: Product;

	beforeAll(async () => {
		shop = await startShop({
			env: {
				METRICS: "true",
				METRICS_PORT: "0",
				SEED: "true",
				// The process and OS collector is off even where Moleculer would start it.
				NODE_ENV: "development",
				NAMESPACE: `cheap${randomBytes(3).toString("hex")}`,
			},
			// Moleculer's defaults for the rest; a breaker that opens after 5 calls and half-opens after 300 ms.
			broker: { circuitBreaker: { enabled: true, minRequestCount: 5, halfOpenTime: 300 } },
		});
		shop.broker.createService({
			name: "flaky",
			actions: {
				fail() {
					throw new Errors.MoleculerError("broken", 500);
				},
			},
		});
		await shop.broker.waitForServices("flaky");
		api = client(shop.url);
		product = (await api.get<Page<Product>>("/api/products?pageSize=1")).body.rows[0];
	});

	afterAll(async () => {
		await shop?.stop();
	});

	it("counts each local call once and times it in the fixed buckets", async () => {
		const labels = { action: "products.get", type: "local" };
		const before = await scrape(shop.broker);
		const n = 7;
		for (let i = 0; i < n; i++) expect((await api.get(`/api/products/${product.id}`)).status).toBe(200);
		const missing = await api.get("/api/products/00000000-0000-4000-8000-000000000000");
		expect(missing.status).toBe(404);
		const after = await scrape(shop.broker);

		const delta = (name: string, extra: Record<string, string> = {}) =>
			sum(after, name, { ...labels, ...extra }) - sum(before, name, { ...labels, ...extra });
		expect(delta("moleculer_request_total")).toBe(n + 1);
		expect(delta("moleculer_request_time_count")).toBe(n + 1);
		expect(delta("moleculer_request_time_bucket", { le: "+Inf" })).toBe(n + 1);
		expect(delta("moleculer_request_error_total", { errorCode: "404", errorType: "NOT_FOUND" })).toBe(1);
		expect(samples(after, "moleculer_request_total", labels)[0].labels).toContain('service="products"');

		// One series per action, labelled service, action and type; buckets are the fixed list, cumulative.
		const buckets = samples(after, "moleculer_request_time_bucket", labels);
		expect(buckets.map(b => /le="([^"]+)"/.exec(b.labels)![1])).toEqual([...REQUEST_TIME_BUCKETS.map(String), "+Inf"]);
		const counts = buckets.map(b => b.value);
		expect(counts).toEqual([...counts].sort((a, b) => a - b));
		expect(samples(after, "moleculer_request_total", labels)[0].labels).not.toContain("caller=");
	});

	it("exposes every series the dashboard and the alert rules query", async () => {
		const customer = await api.register(`cheap-${randomBytes(3).toString("hex")}@example.com`, "cheap-password");
		for (const paymentToken of ["tok_visa", "tok_declined"])
			await api.post(
				"/api/orders",
				{ items: [{ productId: product.id, quantity: 1 }], paymentToken },
				{ token: customer.token },
			);
		const admin = (await api.login("admin@example.com", "admin-password")).token;
		const scarce = (await api.get<Page<Product>>("/api/products?pageSize=2")).body.rows[1];
		expect((await api.put(`/api/inventory/${scarce.id}`, { available: 0 }, { token: admin })).status).toBe(200);
		expect(
			(
				await api.post(
					"/api/orders",
					{ items: [{ productId: scarce.id, quantity: 1 }], paymentToken: "tok_visa" },
					{ token: customer.token },
				)
			).status,
		).toBe(409);
		// A poison event: the notifications handler refuses it until it is dead-lettered.
		await shop.broker.sendToChannel("order.confirmed", { type: "order.confirmed", data: {} });
		// 5xx failures open the breaker (opened_active), which half-opens 300 ms later (half_opened_active).
		for (let i = 0; i < 6; i++) await shop.broker.call("flaky.fail").catch(() => undefined);
		const opened = await scrape(shop.broker);
		expect(sum(opened, "moleculer_circuit_breaker_opened_active", { action: "flaky.fail" })).toBe(1);
		await new Promise(resolve => setTimeout(resolve, 500));

		const text = await scrape(shop.broker);
		const queried = queriedSeries();
		expect(queried.length).toBeGreaterThan(10);
		expect(queried.filter(name => samples(text, name).length === 0)).toEqual([]);
		expect(sum(text, "moleculer_circuit_breaker_half_opened_active", { action: "flaky.fail" })).toBe(1);
		// maxRetries (5) counts deliveries: each failed one is counted (kafka.test.ts reads this series).
		expect(sum(text, "moleculer_channels_messages_errors_total", { group: "notifications" })).toBe(5);
		// The sixth call found no available endpoint (its breaker was open): it never ran, so it is not counted.
		expect(sum(text, "moleculer_request_error_total", { action: "flaky.fail", errorCode: "500" })).toBe(5);
	});

	it("collects nothing else: no quantiles, rates, statistics, cacher, event, transit or process series", async () => {
		const text = await scrape(shop.broker);
		const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(m => ({ name: m[1], type: m[2] }));
		expect(families.filter(f => f.type === "summary")).toEqual([]);
		expect(families.map(f => f.name).filter(name => /_(rate|min|mean|max|variance|stddev)$/.test(name))).toEqual([]);
		const moleculer = families.map(f => f.name).filter(name => !name.startsWith("emporium_"));
		expect([...new Set(moleculer)].sort()).toEqual([
			"moleculer_channels_messages_deadLettering_total",
			"moleculer_channels_messages_errors_total",
			"moleculer_circuit_breaker_half_opened_active",
			"moleculer_circuit_breaker_opened_active",
			"moleculer_registry_nodes_online_total",
			"moleculer_request_error_total",
			"moleculer_request_time",
			"moleculer_request_total",
		]);
		expect(text).not.toMatch(/^(process|os|moleculer_cacher|moleculer_event|moleculer_transit)_/m);

		// And no metric in the registry keeps a quantile window or a rate timer for later.
		for (const metric of shop.broker.metrics.store.values()) {
			const kept = metric as unknown as { quantiles?: unknown; rate?: unknown; values: Map<string, unknown> };
			expect(kept.quantiles, metric.name).toBeFalsy();
			expect(kept.rate, metric.name).toBeFalsy();
		}
	});
});

describe("cheap metrics when moleculer-runner's METRICS=true replaces the metrics options", () => {
	it("still drops the process and OS series Moleculer then collects, and keeps the request series", async () => {
		const shop = await startShop({
			env: { METRICS: "true", METRICS_PORT: "0", NODE_ENV: "development" },
			services: ["products"],
			broker: { metrics: true },
		});
		try {
			await shop.broker.call("products.list", {});
			const text = await scrape(shop.broker);
			expect(text).not.toMatch(/^(process|os)_/m);
			expect(sum(text, "moleculer_request_total", { action: "products.list", type: "local" })).toBe(1);
		} finally {
			await shop.stop();
		}
	});
});
