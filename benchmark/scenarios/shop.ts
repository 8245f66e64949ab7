import { randomBytes } from "node:crypto";
import type { ServiceBroker } from "moleculer";
import { auditShop } from "../../lib/audit";
import { LOAD_GENERATOR, measure, type LoadSpec } from "../load";
import { postgresWaitsDuring } from "../postgres-waits";
import type { Watched } from "../processes";
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

/** Customers registered at once while seeding. */
const REGISTRATIONS_AT_ONCE = 4;

/** Products sold in sizes and colours: 3 × 2 options, so 6 variants each, every variant stocked like a product. */
export const VARIANT_PRODUCTS = 8;
export const SIZES = ["S", "M", "L"];
export const COLOURS = ["Red", "Blue"];

/** Fixed concurrency (connections) per path, the same in both groups; the limit runs with `CONNECTIONS.read`. */
export const CONNECTIONS = { read: 32, order: 16 } as const;

/** The measured paths; `--paths` takes these keys. */
export const PATH_KEYS = [
	"productById",
	"variantProductById",
	"productList",
	"orderPlacement",
	"cartCheckout",
] as const;
export type PathKey = (typeof PATH_KEYS)[number];
/** The actors a path needs beyond the gateway, users, products, inventory, payments and orders. */
export const EXTRA_ACTORS: Partial<Record<PathKey, string[]>> = { cartCheckout: ["carts"] };

const SHIPPING = { line1: "1 Benchmark Street", city: "Lyon", postalCode: "69001", country: "FR" };

export interface SeededShop {
	baseUrl: string;
	productIds: string[];
	/** Products with 6 variants each, and their variant ids (product by product). */
	variantProductIds: string[];
	variantIds: string[][];
	/** The exact body of `GET /api/products/:id`, for the limit server. */
	productBody: string;
	/** One customer per order connection. */
	tokens: string[];
	/**
	 * As many other customers, whose carts the warm-up of checkout from a cart uses: autocannon ends the warm-up
	 * without waiting for the checkouts in flight, and a customer's current cart still being checked out is what
	 * `POST /api/carts` answers (200), refusing items (409 CHECKOUT_IN_PROGRESS, then CART_COMPLETED).
	 */
	warmupTokens: string[];
	/** What every order is priced with (issue 13): a shipping method to France, France's tax, a 10 % code. */
	shippingMethodId: string;
	discountCode: string;
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
	const variantProductIds: string[] = [];
	const variantIds: string[][] = [];
	for (let i = 0; i < VARIANT_PRODUCTS; i++) {
		const n = String(i).padStart(2, "0");
		const product = await call<{ id: string; variants: { id: string }[] }>(
			baseUrl,
			"POST",
			"/api/products",
			{
				name: `Benchmark shirt ${n}`,
				description: "A product sold in three sizes and two colours: six variants, each with its SKU and price.",
				category: "benchmark-variants",
				options: [
					{ name: "Size", values: SIZES },
					{ name: "Colour", values: COLOURS },
				],
				variants: SIZES.flatMap((size, s) =>
					COLOURS.map(colour => ({
						sku: `BENCH-${run}-V${n}-${size}-${colour}`,
						options: { Size: size, Colour: colour },
						price: 2000 + i * 100 + s * 50,
						currency: "EUR",
					})),
				),
			},
			adminToken,
		);
		for (const variant of product.variants)
			await call(baseUrl, "PUT", `/api/inventory/${variant.id}`, { available: STOCK_PER_PRODUCT }, adminToken);
		variantProductIds.push(product.id);
		variantIds.push(product.variants.map(v => v.id));
	}
	// The final order path: a code whose use the saga reserves, a shipping method, and the destination's tax.
	const method = await call<{ id: string }>(
		baseUrl,
		"POST",
		"/api/shipping-methods",
		{ name: `Benchmark ${run}`, price: 590, currency: "EUR", countries: ["FR"], active: true },
		adminToken,
	);
	await call(baseUrl, "PUT", "/api/tax-rates/FR", { rate: 2000, shippingTaxable: true }, adminToken);
	const discountCode = `BENCH${run}`.toUpperCase();
	await call(
		baseUrl,
		"POST",
		"/api/promotions",
		{ code: discountCode, type: "PERCENTAGE", value: 10, active: true },
		adminToken,
	);
	const register = async (i: number) => {
		const { token } = await call<{ token: string }>(baseUrl, "POST", "/api/auth/register", {
			email: `bench-${run}-${i}@example.com`,
			password: "benchmark-password",
			name: `Customer ${i}`,
		});
		return token;
	};
	// A users node hashes two passwords at a time: 32 registrations at once wait past the call timeout on a busy
	// machine (then the circuit breaker answers 503), a few at a time take as long in all.
	const customers: string[] = [];
	for (let i = 0; i < 2 * CONNECTIONS.order; i += REGISTRATIONS_AT_ONCE) {
		const batch = Array.from({ length: REGISTRATIONS_AT_ONCE }, (_, j) => register(i + j));
		customers.push(...(await Promise.all(batch)));
	}
	const [tokens, warmupTokens] = [customers.slice(0, CONNECTIONS.order), customers.slice(CONNECTIONS.order)];
	const productBody = JSON.stringify(await call(baseUrl, "GET", `/api/products/${productIds[0]}`));
	return {
		...{ baseUrl, productIds, variantProductIds, variantIds, productBody, tokens, warmupTokens },
		...{ shippingMethodId: method.id, discountCode },
	};
}

export interface PathSpec {
	key: PathKey;
	label: string;
	load: LoadSpec;
}

/**
 * Checkout from a cart, as a client does it, per connection (customer n): create the cart (a new one once the last
 * is checked out) with an address, add two sizes of one shirt, choose the shipping method, apply a code, check out.
 * One unit is one checkout: 6 requests, of which the
 * checkout's answer is what the latency percentiles are over (`measuredStep`). The warm-up checks out as other
 * customers (`SeededShop.warmupTokens`): the carts it leaves mid-checkout are none of the measured run's.
 */
function cartCheckout(shop: SeededShop): NonNullable<LoadSpec["sequence"]> {
	return (n, run) => {
		const customers = run === "warmup" ? shop.warmupTokens : shop.tokens;
		const headers = {
			"content-type": "application/json",
			authorization: `Bearer ${customers[n % customers.length]}`,
		};
		const variants = shop.variantIds[n % shop.variantIds.length];
		const sizes = [(2 * n) % variants.length, (2 * n + 3) % variants.length].map(i => variants[i]);
		const cartId = (context: Record<string, unknown>) => context.cartId as string | undefined;
		const inCart = (path: string, body: unknown, method: "POST" | "PATCH" = "POST") => ({
			method,
			headers,
			body: JSON.stringify(body),
			// No cart (its creation failed): autocannon starts the sequence again.
			setupRequest: (req: { path?: string }, context: Record<string, unknown>) =>
				cartId(context) ? { ...req, path: `/api/carts/${cartId(context)}${path}` } : null,
		});
		return {
			measuredStep: 5,
			steps: [
				{
					method: "POST",
					path: "/api/carts",
					headers,
					body: JSON.stringify({ shippingAddress: SHIPPING }),
					onResponse: (status, body, context) => {
						context.cartId = status < 300 ? (JSON.parse(body) as { id: string }).id : undefined;
					},
				},
				inCart("/items", { variantId: sizes[0], quantity: 1 }),
				inCart("/items", { variantId: sizes[1], quantity: 1 }),
				// A method is chosen for the cart's currency, known once it holds a line (an empty cart is in USD).
				inCart("", { shippingMethodId: shop.shippingMethodId }, "PATCH"),
				inCart("/discounts", { code: shop.discountCode }),
				inCart("/checkout", { paymentToken: "tok_visa" }),
			],
		};
	};
}

/**
 * The measured paths; connection n reads product n, orders as customer n, and checks out customer n's cart of two
 * variants of one shirt.
 */
export function shopPaths(shop: SeededShop): PathSpec[] {
	const ids = shop.productIds;
	const shirts = shop.variantProductIds;
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
			key: "variantProductById",
			label: `GET /api/products/:id, ${SIZES.length * COLOURS.length} variants (cache hit)`,
			load: {
				url: `${shop.baseUrl}/api/products/${shirts[0]}`,
				connections: CONNECTIONS.read,
				perConnection: n => ({ path: `/api/products/${shirts[n % shirts.length]}` }),
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
						shippingAddress: SHIPPING,
						shippingMethodId: shop.shippingMethodId,
						discountCode: shop.discountCode,
					}),
				}),
			},
		},
		{
			key: "cartCheckout",
			label: "checkout from a cart: create, 2 sizes, shipping, a code, POST /api/carts/:id/checkout (per checkout)",
			load: {
				url: `${shop.baseUrl}/api/carts`,
				method: "POST",
				connections: CONNECTIONS.order,
				sequence: cartCheckout(shop),
			},
		},
	];
}

/** What a group measures beside its shop processes. */
export interface PathsOptions {
	/** Servers the shop uses, whose CPU counts too (MariaDB, NATS, Redis, Kafka, PostgreSQL). */
	servers?: Record<string, Watched>;
	/** Only these paths (else the run's). */
	paths?: string[];
	/** The shop's PostgreSQL database: what its sessions wait on is sampled during each measured run. */
	postgres?: string;
}

/**
 * Measures each path in turn: warm-up, then the measured run, with the CPU each shop process (`pids`), server and the
 * load generator spends on it, what PostgreSQL's sessions waited on (`postgres`), and a CPU profile of each shop
 * process, `<group>-<process>-<path>.cpuprofile`, when asked.
 */
export async function runPaths(
	ctx: GroupContext,
	group: GroupName,
	shop: SeededShop,
	pids: Record<string, number>,
	{ servers = {}, paths = ctx.paths, postgres }: PathsOptions = {},
): Promise<ScenarioResult[]> {
	const results: ScenarioResult[] = [];
	const watched = { ...pids, [LOAD_GENERATOR]: process.pid, ...servers };
	const profiled = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [`${group}-${name}`, pid]));
	for (const path of shopPaths(shop).filter(p => !paths || paths.includes(p.key))) {
		ctx.log(
			`${group}: ${path.label}, ${path.load.connections} connections, ` +
				`${ctx.warmupSeconds} s warm-up + ${ctx.seconds} s`,
		);
		let postgresWaits: Record<string, number> | undefined;
		const profiledRun = <T>(run: () => Promise<T>) => profileDuring(ctx.cpuProfileDir, profiled, path.key, run);
		const around = <T>(run: () => Promise<T>) =>
			postgres
				? postgresWaitsDuring(postgres, () => profiledRun(run)).then(({ result, waits }) => {
						postgresWaits = waits;
						return result;
					})
				: profiledRun(run);
		const measured = await measure(path.load, {
			warmupSeconds: ctx.warmupSeconds,
			seconds: ctx.seconds,
			cpuOf: watched,
			around,
		});
		results.push({ group, key: path.key, label: path.label, ratio: null, ...measured, postgresWaits });
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
