import { randomBytes } from "node:crypto";
import type { ServiceBroker } from "moleculer";
import { auditShop } from "../../lib/audit";
import { measure, type LoadSpec } from "../load";
import { serverPids } from "../processes";
import { profileDuring } from "./env";
import type { GroupContext, GroupName, InvariantResult, ScenarioResult } from "../types";

/**
 * What every shop scenario group does over HTTP, the way clients would: the catalogue and customers it needs,
 * and the three measured paths. The same for one process and across nodes, so their figures compare.
 */

/** A full first page of the list (pageSize 20) and orders spread over many stock rows. */
export const PRODUCTS = 24;
/** Far more than a run can sell, so no order fails for want of stock. */
export const STOCK_PER_PRODUCT = 1_000_000;
/** Each order buys one unit of two different products: the saga prices, reserves and commits two lines. */
export const LINES_PER_ORDER = 2;

/** Fixed concurrency (connections) per path, the same in both groups; the limit runs with `CONNECTIONS.read`. */
export const CONNECTIONS = { read: 32, order: 16 } as const;

export interface SeededShop {
	baseUrl: string;
	productIds: string[];
	/** The exact body of `GET /api/products/:id`, for the limit server. */
	productBody: string;
	/** One customer per order connection. */
	tokens: string[];
}

/** One JSON request; `T` is the body the caller expects back. */
async function call<T = unknown>(
	baseUrl: string,
	method: string,
	path: string,
	body?: unknown,
	token?: string,
): Promise<T> {
	const headers: Record<string, string> = {};
	if (body !== undefined) headers["content-type"] = "application/json";
	if (token) headers.authorization = `Bearer ${token}`;
	const res = await fetch(baseUrl + path, {
		method,
		headers,
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
	return (text ? JSON.parse(text) : null) as T;
}

/** Waits until the gateway routes to products (autoAliases are off, but services register asynchronously). */
export async function waitForApi(baseUrl: string, timeoutMs = 60_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const ok = await fetch(`${baseUrl}/api/products?pageSize=1`).then(
			res => res.ok,
			() => false,
		);
		if (ok) return;
		if (Date.now() > deadline) throw new Error(`${baseUrl} did not answer within ${timeoutMs} ms`);
		await new Promise(resolve => setTimeout(resolve, 200));
	}
}

export async function seedShop(baseUrl: string, admin: { email: string; password: string }): Promise<SeededShop> {
	await waitForApi(baseUrl);
	const { token: adminToken } = await call<{ token: string }>(baseUrl, "POST", "/api/auth/login", admin);
	const run = randomBytes(3).toString("hex");
	const productIds: string[] = [];
	for (let i = 0; i < PRODUCTS; i++) {
		const product = await call<{ id: string }>(
			baseUrl,
			"POST",
			"/api/products",
			{
				name: `Benchmark product ${String(i).padStart(2, "0")}`,
				description: "A product of ordinary size: a name, a sentence of description, a price, a category and a SKU.",
				price: 1000 + i * 100,
				currency: "EUR",
				category: "benchmark",
				sku: `BENCH-${run}-${String(i).padStart(2, "0")}`,
			},
			adminToken,
		);
		await call(baseUrl, "PUT", `/api/inventory/${product.id}`, { available: STOCK_PER_PRODUCT }, adminToken);
		productIds.push(product.id);
	}
	const tokens = await Promise.all(
		Array.from({ length: CONNECTIONS.order }, async (_, i) => {
			const { token } = await call<{ token: string }>(baseUrl, "POST", "/api/auth/register", {
				email: `bench-${run}-${i}@example.com`,
				password: "benchmark-password",
				name: `Customer ${i}`,
			});
			return token;
		}),
	);
	const productBody = JSON.stringify(await call(baseUrl, "GET", `/api/products/${productIds[0]}`));
	return { baseUrl, productIds, productBody, tokens };
}

export interface PathSpec {
	key: "productById" | "productList" | "orderPlacement";
	label: string;
	load: LoadSpec;
}

/** The three measured paths; connection n reads product n and orders as customer n. */
export function shopPaths(shop: SeededShop): PathSpec[] {
	const ids = shop.productIds;
	return [
		{
			key: "productById",
			label: "GET /api/products/:id (cache hit)",
			load: {
				url: `${shop.baseUrl}/api/products/${ids[0]}`,
				connections: CONNECTIONS.read,
				perConnection: n => ({ path: `/api/products/${ids[n % ids.length]}` }),
			},
		},
		{
			key: "productList",
			label: "GET /api/products?page=1&pageSize=20",
			load: { url: `${shop.baseUrl}/api/products?page=1&pageSize=20`, connections: CONNECTIONS.read },
		},
		{
			key: "orderPlacement",
			label: `POST /api/orders (saga, ${LINES_PER_ORDER} lines)`,
			load: {
				url: `${shop.baseUrl}/api/orders`,
				method: "POST",
				connections: CONNECTIONS.order,
				perConnection: n => ({
					path: "/api/orders",
					headers: {
						"content-type": "application/json",
						authorization: `Bearer ${shop.tokens[n % shop.tokens.length]}`,
					},
					body: JSON.stringify({
						items: Array.from({ length: LINES_PER_ORDER }, (_, line) => ({
							productId: ids[(n * LINES_PER_ORDER + line) % ids.length],
							quantity: 1,
						})),
						paymentToken: "tok_visa",
						shippingAddress: { line1: "1 Benchmark Street", city: "Lyon", postalCode: "69001", country: "FR" },
					}),
				}),
			},
		},
	];
}

/**
 * Measures each path in turn: warm-up, then the measured run, with the CPU each process spends on it (and a CPU
 * profile of each shop process, `<group>-<process>-<path>.cpuprofile`, when asked).
 */
export async function runPaths(
	ctx: GroupContext,
	group: GroupName,
	shop: SeededShop,
	pids: Record<string, number>,
): Promise<ScenarioResult[]> {
	const results: ScenarioResult[] = [];
	// The loopback servers only serve the shop across nodes (in one process NATS carries nothing but the audit).
	const watched = { ...pids, "load generator": process.pid, ...(group === "across-nodes" ? serverPids() : {}) };
	const profiled = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [`${group}-${name}`, pid]));
	for (const path of shopPaths(shop).filter(p => !ctx.paths || ctx.paths.includes(p.key))) {
		ctx.log(
			`${group}: ${path.label}, ${path.load.connections} connections, ` +
				`${ctx.warmupSeconds} s warm-up + ${ctx.seconds} s`,
		);
		const around = <T>(run: () => Promise<T>) => profileDuring(ctx.cpuProfileDir, profiled, path.key, run);
		const measured = await measure(path.load, {
			warmupSeconds: ctx.warmupSeconds,
			seconds: ctx.seconds,
			cpuOf: watched,
			around,
		});
		results.push({ group, key: path.key, label: path.label, ratio: null, ...measured });
	}
	return results;
}

/**
 * The stock and money invariants after the load, from a broker that joins the shop. Every order is settled by the
 * time its request is answered, so the shop must be at rest; a few retries allow for a relay still running.
 */
export async function auditAfterLoad(broker: ServiceBroker, group: GroupName): Promise<InvariantResult> {
	let report = await auditShop(broker, { settled: true });
	for (let attempt = 0; !report.ok && attempt < 10; attempt++) {
		await new Promise(resolve => setTimeout(resolve, 500));
		report = await auditShop(broker, { settled: true });
	}
	return { group, ok: report.ok, violations: report.violations.slice(0, 20), counts: report.counts };
}
