import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import jwt from "jsonwebtoken";
import { Loggers, type LoggerBindings } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_ALIASES } from "../../services/api/routes";
import { DEV_JWT_SECRET } from "../../lib/config";
import type { AuthUser } from "../../lib/auth";
import { startShop, type Shop } from "../support/shop";
import { client, eventually, type Client, type Response } from "../support/http";
import type { ApiError, Notification, Order, Page, Payment, Product, User } from "../support/api";
import type { CartView } from "../../services/carts/contract";
import type { PromotionView } from "../../services/promotions/contract";
import type { ShippingMethod, ShippingOption, TaxRateView } from "../../services/shipping/contract";

/**
 * Who may do what over HTTP, which tokens are refused, where secrets come from and that they never reach the log.
 * The shop runs as in production (NODE_ENV=production): every secret comes from a file, logging is at debug level.
 */

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"];

/** Keeps every log line the broker writes, rendered deeply, so a secret nested in an object is found too. */
class CapturingLogger extends Loggers.Base {
	readonly lines: string[] = [];

	getLogHandler(bindings?: LoggerBindings): Loggers.LogHandler | null {
		const level = this.getLogLevel(bindings?.mod ?? "");
		if (!level) return null;
		const max = LEVELS.indexOf(level);
		return (type, args) => {
			if (LEVELS.indexOf(type) > max) return;
			const rendered = args.map(a => (typeof a === "string" ? a : inspect(a, { depth: 10, breakLength: Infinity })));
			this.lines.push(`[${type}] ${bindings?.mod}: ${rendered.join(" ")}`);
		};
	}
}

type Role = "anonymous" | "owner" | "other" | "admin";
const ROLES: Role[] = ["anonymous", "owner", "other", "admin"];

interface MatrixRow {
	/** Expected status for anonymous, the owning customer, another customer, an admin. */
	expected: [number, number, number, number];
	/**
	 * Path parameters and body for one call; may create what the call consumes (a product to delete, an order to
	 * cancel).
	 */
	request(role: Role): RequestParts | Promise<RequestParts>;
	/** Extra assertions on a successful response; each row declares the body its endpoint answers. */
	check?(role: Role, res: Response): void;
}

interface RequestParts {
	params?: Record<string, string>;
	query?: string;
	body?: unknown;
}

const b64url = (value: unknown) =>
	Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

describe("security", () => {
	const run = randomBytes(4).toString("hex");
	const dir = mkdtempSync(path.join(tmpdir(), "emporium-secrets-"));
	const jwtSecret = randomBytes(32).toString("hex");
	const envJwtSecret = `env-secret-that-the-file-overrides-${run}`;
	const adminEmail = `ops-${run}@shop.test`;
	const adminPassword = `admin-Pa55-${randomBytes(6).toString("hex")}`;
	const userDataDir = path.join(dir, "users-data");
	const logger = new CapturingLogger({ level: "debug" });
	/** Every password and token the test used: none may appear in the log. */
	const secrets = new Set<string>([jwtSecret, envJwtSecret, adminPassword]);

	let shop: Shop;
	let api: Client;
	let adminToken: string;
	let admin: AuthUser;
	let ann: { token: string; user: AuthUser };
	let bob: { token: string; user: AuthUser };
	let annOrderId: string;
	let productId: string;
	/** The method Ann's carts ship with (the shop starts unseeded: checkout needs one), and a 10% code. */
	let shippingMethodId: string;
	let promotion: PromotionView;
	const annName = `Ann Ownerson ${run}`;
	const annStreet = `1 Private Lane ${run}`;
	const loginUser = { email: `login-${run}@example.com`, password: `login-Pa55-${run}` };

	/** Every request of this file goes through here, so each token handed out is remembered as a secret. */
	async function call<T = unknown>(
		method: string,
		url: string,
		opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
	): Promise<Response<T>> {
		const res = await api.request<T>(method, url, opts);
		const token = (res.body as { token?: unknown } | null)?.token;
		if (typeof token === "string") secrets.add(token);
		return res;
	}

	async function register(label: string) {
		const email = `${label}-${run}@example.com`;
		const password = `${label}-Pa55word-${run}`;
		secrets.add(password);
		const res = await call<{ token: string; user: AuthUser }>("POST", "/api/auth/register", {
			body: { email, password, name: label === "ann" ? annName : `${label} ${run}` },
		});
		expect(res.status).toBe(201);
		return res.body;
	}

	async function newProduct(): Promise<string> {
		const res = await call<Product>("POST", "/api/products", {
			token: adminToken,
			body: {
				name: `Widget ${randomBytes(3).toString("hex")}`,
				price: 1200,
				category: "test",
				sku: `SEC-${randomBytes(5).toString("hex")}`,
			},
		});
		expect(res.status).toBe(201);
		await eventually(
			async () =>
				(await call("PUT", `/api/inventory/${res.body.id}`, { token: adminToken, body: { available: 1000 } }))
					.status === 200,
		);
		return res.body.id;
	}

	/** A product with a Size option and two variants (S, M). */
	async function newVariantProduct(): Promise<Product> {
		const sku = () => `SEC-${randomBytes(5).toString("hex")}`;
		const res = await call<Product>("POST", "/api/products", {
			token: adminToken,
			body: {
				name: `Shirt ${randomBytes(3).toString("hex")}`,
				category: "test",
				options: [{ name: "Size", values: ["S", "M", "L"] }],
				variants: [
					{ sku: sku(), options: { Size: "S" }, price: 1000 },
					{ sku: sku(), options: { Size: "M" }, price: 1100 },
				],
			},
		});
		expect(res.status).toBe(201);
		return res.body;
	}

	/** A webhook (to a public name: production refuses private addresses); its secret must never reach a log. */
	async function newWebhook(): Promise<string> {
		const res = await call<{ id: string; secret: string }>("POST", "/api/webhooks", {
			token: adminToken,
			body: { url: "https://hooks.example.com/in", events: ["order.confirmed"] },
		});
		expect(res.status).toBe(201);
		secrets.add(res.body.secret);
		return res.body.id;
	}

	/** A 10% code, active, without limits; its code is upper case. */
	async function newPromotion(): Promise<PromotionView> {
		const res = await call<PromotionView>("POST", "/api/promotions", {
			token: adminToken,
			body: { code: `sec-${randomBytes(4).toString("hex")}`, type: "PERCENTAGE", value: 10, active: true },
		});
		expect(res.status).toBe(201);
		return res.body;
	}

	/** A method to every country at 700 USD cents, never free. */
	async function newShippingMethod(): Promise<ShippingMethod> {
		const res = await call<ShippingMethod>("POST", "/api/shipping-methods", {
			token: adminToken,
			body: { name: `Courier ${randomBytes(3).toString("hex")}`, price: 700, currency: "USD", countries: ["*"] },
		});
		expect(res.status).toBe(201);
		return res.body;
	}

	/** A tax rate for `country`, for a row that reads or removes it. */
	async function putRate(country: string): Promise<void> {
		const res = await call("PUT", `/api/tax-rates/${country}`, { token: adminToken, body: { rate: 2100 } });
		expect(res.status).toBe(200);
	}

	async function annOrder(): Promise<string> {
		const res = await call<Order>("POST", "/api/orders", {
			token: ann.token,
			body: {
				items: [{ productId, quantity: 1 }],
				paymentToken: "tok_visa",
				shippingAddress: { line1: annStreet, city: "Springfield", postalCode: "12345", country: "US" },
			},
		});
		expect(res.status).toBe(201);
		return res.body.id;
	}

	/** A new order of Ann's, shipped: returnable. */
	async function annShippedOrder(): Promise<string> {
		const id = await annOrder();
		const shipped = await call("PATCH", `/api/orders/${id}/status`, { token: adminToken, body: { status: "SHIPPED" } });
		expect(shipped.status).toBe(200);
		return id;
	}

	/** A return of the one unit of a new order of Ann's. */
	async function annReturn(): Promise<{ id: string; orderId: string }> {
		const id = await annShippedOrder();
		const res = await call<{ id: string; orderId: string }>("POST", `/api/orders/${id}/returns`, {
			token: ann.token,
			body: { items: [{ variantId: productId, quantity: 1 }] },
		});
		expect(res.status).toBe(201);
		return res.body;
	}

	function expectErrorShape(res: Response) {
		expect(res.body).toEqual(
			expect.objectContaining({
				name: expect.any(String),
				message: expect.any(String),
				code: res.status,
				type: expect.any(String),
			}),
		);
		expect(JSON.stringify(res.body)).not.toMatch(/\bat .*\.(ts|js):\d+|"stack"/);
	}

	beforeAll(async () => {
		const file = (name: string, content: string) => {
			writeFileSync(path.join(dir, name), content, { mode: 0o600 });
			return path.join(dir, name);
		};
		shop = await startShop({
			env: {
				NODE_ENV: "production",
				LOGLEVEL: "debug",
				JWT_SECRET_FILE: file("jwt-secret", `${jwtSecret}\n`),
				JWT_SECRET: envJwtSecret,
				ADMIN_EMAIL: adminEmail,
				ADMIN_PASSWORD_FILE: file("admin-password", `${adminPassword}\n`),
				USERS_DB_URI_FILE: file("users-db-uri", `nedb://${userDataDir}\n`),
				// The general rate limits (on in production) have their own test: the matrix is many calls from one address.
				RATE_LIMIT: "false",
			},
			broker: { logger },
		});
		api = client(shop.url);
		const login = await call<{ token: string; user: AuthUser }>("POST", "/api/auth/login", {
			body: { email: adminEmail, password: adminPassword },
		});
		expect(login.status).toBe(200);
		adminToken = login.body.token;
		admin = login.body.user;
		ann = await register("ann");
		bob = await register("bob");
		secrets.add(loginUser.password);
		expect((await call("POST", "/api/auth/register", { body: { ...loginUser, name: "Login User" } })).status).toBe(201);
		productId = await newProduct();
		shippingMethodId = (await newShippingMethod()).id;
		promotion = await newPromotion();
		annOrderId = await annOrder();
		// The owner's notifications exist, so "another customer does not see them" means something.
		await eventually(async () =>
			(await call<Page<Notification>>("GET", "/api/notifications", { token: ann.token })).body.rows.some(
				n => n.data.orderId === annOrderId,
			),
		);
	});

	afterAll(async () => {
		await shop?.stop();
		rmSync(dir, { recursive: true, force: true });
	});

	/**
	 * Ann's current cart with a line, her address (the owner data no one else may see) and a shipping method (so it
	 * can check out); with `discounted`, holding the 10% code too.
	 */
	async function annCart(discounted = false): Promise<{ id: string; lineId: string }> {
		const cart = await call<CartView>("POST", "/api/carts", { token: ann.token, body: {} });
		const items = await call<CartView>("POST", `/api/carts/${cart.body.id}/items`, {
			token: ann.token,
			body: { productId, quantity: 1 },
		});
		expect(items.status).toBe(200);
		const shippingAddress = { line1: annStreet, city: "Springfield", postalCode: "12345", country: "US" };
		const shipping = await call<CartView>("PATCH", `/api/carts/${cart.body.id}`, {
			token: ann.token,
			body: { shippingAddress, shippingMethodId },
		});
		expect(shipping.status, JSON.stringify(shipping.body)).toBe(200);
		if (discounted) {
			const applied = await call<CartView>("POST", `/api/carts/${cart.body.id}/discounts`, {
				token: ann.token,
				body: { code: promotion.code },
			});
			expect(applied.status, JSON.stringify(applied.body)).toBe(200);
		}
		return { id: cart.body.id, lineId: items.body.items[0].id };
	}
	const cartOwner = (role: Role) =>
		({ owner: ann.user.id, other: bob.user.id, admin: admin.id, anonymous: null })[role];

	const tokenOf = (role: Role) =>
		({ anonymous: undefined, owner: ann.token, other: bob.token, admin: adminToken })[role];
	/** What identifies the owner and her order; none of it may reach anybody else. */
	const ownerData = () => [ann.user.id, ann.user.email, annName, annStreet];

	const MATRIX: Record<string, MatrixRow> = {
		"POST /auth/register": {
			expected: [201, 201, 201, 201],
			request() {
				const password = `new-Pa55-${randomBytes(4).toString("hex")}`;
				secrets.add(password);
				return { body: { email: `new-${randomBytes(4).toString("hex")}@example.com`, password, name: "New" } };
			},
			check: (_role, res: Response<{ user: User }>) => expect(res.body.user.role).toBe("customer"),
		},
		"POST /auth/login": {
			expected: [200, 200, 200, 200],
			request: () => ({ body: loginUser }),
			check: (_role, res: Response<{ user: User }>) => expect(res.body.user.email).toBe(loginUser.email),
		},
		"GET /users/me": {
			expected: [401, 200, 200, 200],
			request: () => ({}),
			check: (role, res: Response<User>) =>
				expect(res.body.id).toBe({ owner: ann.user.id, other: bob.user.id, admin: admin.id, anonymous: "" }[role]),
		},
		"PATCH /users/me": {
			expected: [401, 200, 200, 200],
			request: role => ({ body: { name: role === "owner" ? annName : `${role} ${run}`, role: "admin" } }),
			check: (role, res: Response<User>) => expect(res.body.role).toBe(role === "admin" ? "admin" : "customer"),
		},
		"GET /users": {
			expected: [401, 403, 403, 200],
			request: () => ({ query: "pageSize=100" }),
		},
		"GET /products": { expected: [200, 200, 200, 200], request: () => ({}) },
		"GET /products/:id": { expected: [200, 200, 200, 200], request: () => ({ params: { id: productId } }) },
		"POST /products": {
			expected: [401, 403, 403, 201],
			request: () => ({
				body: { name: "Matrix product", price: 100, category: "test", sku: `MX-${randomBytes(5).toString("hex")}` },
			}),
		},
		"PATCH /products/:id": {
			expected: [401, 403, 403, 200],
			request: () => ({ params: { id: productId }, body: { price: 1200 } }),
		},
		"DELETE /products/:id": {
			expected: [401, 403, 403, 200],
			request: async () => ({ params: { id: await newProduct() } }),
		},
		"POST /products/:id/variants": {
			expected: [401, 403, 403, 201],
			request: async () => ({
				params: { id: (await newVariantProduct()).id },
				body: { sku: `SEC-${randomBytes(5).toString("hex")}`, options: { Size: "L" }, price: 1200 },
			}),
		},
		"PATCH /products/:id/variants/:variantId": {
			expected: [401, 403, 403, 200],
			request: () => ({ params: { id: productId, variantId: productId }, body: { price: 1200 } }),
		},
		"DELETE /products/:id/variants/:variantId": {
			expected: [401, 403, 403, 200],
			request: async () => {
				const product = await newVariantProduct();
				return { params: { id: product.id, variantId: product.variants[1].id } };
			},
		},
		"GET /inventory/:productId": { expected: [200, 200, 200, 200], request: () => ({ params: { productId } }) },
		"PUT /inventory/:productId": {
			expected: [401, 403, 403, 200],
			request: () => ({ params: { productId }, body: { available: 1000 } }),
		},
		"POST /inventory/:productId/restock": {
			expected: [401, 403, 403, 200],
			request: () => ({ params: { productId }, body: { quantity: 1 } }),
		},
		"POST /orders": {
			expected: [401, 201, 201, 201],
			request: () => ({ body: { items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" } }),
			check: (role, res: Response<Order>) =>
				expect(res.body.userId).toBe({ owner: ann.user.id, other: bob.user.id, admin: admin.id, anonymous: "" }[role]),
		},
		"GET /orders": {
			expected: [401, 200, 200, 200],
			request: role => ({ query: role === "admin" ? `userId=${ann.user.id}&pageSize=100` : "pageSize=100" }),
			check: (role, res: Response<Page<Order>>) => {
				const ids = res.body.rows.map(o => o.id);
				if (role === "other") expect(ids).not.toContain(annOrderId);
				else expect(ids).toContain(annOrderId);
			},
		},
		"GET /orders/:id": {
			expected: [401, 200, 404, 200],
			request: () => ({ params: { id: annOrderId } }),
			check: (_role, res) =>
				expect(res.body).toMatchObject({ id: annOrderId, userId: ann.user.id, shippingAddress: { line1: annStreet } }),
		},
		"POST /orders/:id/cancel": {
			expected: [401, 200, 404, 200],
			request: async () => ({ params: { id: await annOrder() } }),
			check: (_role, res: Response<Order>) => expect(res.body.status).toBe("CANCELLED"),
		},
		"PATCH /orders/:id/status": {
			expected: [401, 403, 403, 200],
			request: async () => ({ params: { id: await annOrder() }, body: { status: "SHIPPED" } }),
			check: (_role, res: Response<Order>) => expect(res.body.status).toBe("SHIPPED"),
		},
		"POST /orders/:id/returns": {
			expected: [401, 201, 404, 201],
			request: async () => ({
				params: { id: await annShippedOrder() },
				body: { items: [{ variantId: productId, quantity: 1 }] },
			}),
			check: (_role, res: Response<{ userId: string; status: string }>) =>
				expect(res.body).toMatchObject({ userId: ann.user.id, status: "REQUESTED" }),
		},
		"GET /orders/:id/returns": {
			expected: [401, 200, 404, 200],
			request: async () => ({ params: { id: (await annReturn()).orderId } }),
			check: (_role, res: Response<Page<{ userId: string }>>) =>
				expect(res.body.rows).toMatchObject([{ userId: ann.user.id }]),
		},
		"GET /returns": { expected: [401, 403, 403, 200], request: () => ({ query: "pageSize=5" }) },
		"POST /returns/:id/receive": {
			expected: [401, 403, 403, 200],
			request: async () => ({ params: { id: (await annReturn()).id } }),
			check: (_role, res: Response<{ status: string }>) => expect(res.body.status).toBe("RECEIVED"),
		},
		"POST /returns/:id/reject": {
			expected: [401, 403, 403, 200],
			request: async () => ({ params: { id: (await annReturn()).id } }),
			check: (_role, res: Response<{ status: string }>) => expect(res.body.status).toBe("REJECTED"),
		},
		"POST /carts": {
			expected: [201, 201, 201, 201],
			request: () => ({ body: {} }),
			check: (role, res: Response<CartView>) => expect(res.body.userId).toBe(cartOwner(role)),
		},
		"GET /carts/mine": {
			expected: [401, 200, 200, 200],
			request: () => ({}),
			check: (role, res: Response<CartView>) => expect(res.body.userId).toBe(cartOwner(role)),
		},
		"GET /carts/:id": {
			expected: [404, 200, 404, 404],
			request: async () => ({ params: { id: (await annCart()).id } }),
			check: (_role, res: Response<CartView>) =>
				expect(res.body).toMatchObject({ userId: ann.user.id, shippingAddress: { line1: annStreet } }),
		},
		"PATCH /carts/:id": {
			expected: [404, 200, 404, 404],
			request: async () => ({ params: { id: (await annCart()).id }, body: { email: ann.user.email } }),
		},
		"POST /carts/:id/items": {
			expected: [404, 200, 404, 404],
			request: async () => ({ params: { id: (await annCart()).id }, body: { productId, quantity: 1 } }),
		},
		"PATCH /carts/:id/items/:lineId": {
			expected: [404, 200, 404, 404],
			request: async () => ({ params: await annCart(), body: { quantity: 2 } }),
		},
		"DELETE /carts/:id/items/:lineId": {
			expected: [404, 200, 404, 404],
			request: async () => ({ params: await annCart() }),
		},
		"POST /carts/:id/claim": {
			expected: [401, 200, 404, 404],
			request: async () => ({ params: { id: (await annCart()).id } }),
			check: (_role, res: Response<CartView>) => expect(res.body.userId).toBe(ann.user.id),
		},
		"POST /carts/:id/discounts": {
			expected: [404, 200, 404, 404],
			// Codes are case-insensitive: the cart shows the stored (upper case) one. Ann's current cart collects a
			// line per row, so its subtotal varies: 10% of whatever it is (multiples of 1200, no rounding).
			request: async () => ({ params: { id: (await annCart()).id }, body: { code: promotion.code.toLowerCase() } }),
			check: (_role, res: Response<CartView>) => {
				expect(res.body).toMatchObject({ userId: ann.user.id, discountCode: promotion.code });
				expect(res.body.totals.subtotal).toBeGreaterThanOrEqual(1200);
				expect(res.body.totals.discount).toBe(res.body.totals.subtotal / 10);
			},
		},
		"DELETE /carts/:id/discounts/:code": {
			expected: [404, 200, 404, 404],
			request: async () => ({ params: { id: (await annCart(true)).id, code: promotion.code } }),
			check: (_role, res: Response<CartView>) =>
				expect(res.body).toMatchObject({ userId: ann.user.id, discountCode: null, totals: { discount: 0 } }),
		},
		"GET /carts/:id/shipping-methods": {
			expected: [404, 200, 404, 404],
			request: async () => ({ params: { id: (await annCart()).id } }),
			check: (_role, res: Response<ShippingOption[]>) =>
				expect(res.body).toContainEqual(expect.objectContaining({ id: shippingMethodId, price: 700 })),
		},
		"POST /carts/:id/checkout": {
			expected: [401, 201, 404, 404],
			request: async () => ({ params: { id: (await annCart()).id }, body: { paymentToken: "tok_visa" } }),
			check: (_role, res: Response<Order & { shippingMethodId?: string; totals?: { shipping: number } }>) =>
				expect(res.body).toMatchObject({ userId: ann.user.id, totals: { shipping: 700 } }),
		},
		"GET /payments": {
			expected: [401, 200, 404, 200],
			request: () => ({ query: `orderId=${annOrderId}` }),
			check: (_role, res: Response<Page<Payment>>) =>
				expect(res.body.rows).toMatchObject([{ orderId: annOrderId, status: "SUCCEEDED" }]),
		},
		"GET /notifications": {
			expected: [401, 200, 200, 200],
			request: () => ({ query: "pageSize=100" }),
			check: (role, res: Response<Page<Notification>>) => {
				const caller = { owner: ann.user.id, other: bob.user.id, admin: admin.id, anonymous: "" }[role];
				expect(res.body.rows.every(n => n.userId === caller)).toBe(true);
				const aboutAnnsOrder = res.body.rows.some(n => n.data.orderId === annOrderId);
				expect(aboutAnnsOrder).toBe(role === "owner");
			},
		},
	};

	const webhookRows = (): Record<string, MatrixRow> => {
		const admin: [number, number, number, number] = [401, 403, 403, 200];
		const hook = async () => ({ params: { id: await newWebhook() } });
		type Hook = Response<{ secret?: string; url?: string }>;
		const shownOnce = (_role: Role, res: Hook) => {
			if (res.body.secret) secrets.add(res.body.secret);
			expect(res.body.secret).toHaveLength(43);
		};
		return {
			"POST /webhooks": {
				expected: [401, 403, 403, 201],
				request: () => ({ body: { url: "https://hooks.example.com/in", events: ["*"] } }),
				check: shownOnce,
			},
			"GET /webhooks": { expected: admin, request: () => ({ query: "pageSize=5" }) },
			"GET /webhooks/:id": {
				expected: admin,
				request: hook,
				check: (_role, res: Hook) => expect(res.body).not.toHaveProperty("secret"),
			},
			"PATCH /webhooks/:id": { expected: admin, request: async () => ({ ...(await hook()), body: { active: false } }) },
			"DELETE /webhooks/:id": { expected: admin, request: hook },
			"POST /webhooks/:id/rotate-secret": {
				expected: admin,
				request: hook,
				check: shownOnce,
			},
			"GET /webhooks/:id/deliveries": { expected: admin, request: hook },
			"POST /webhooks/:id/deliveries/:deliveryId/redeliver": {
				expected: [401, 403, 403, 404],
				request: async () => ({ params: { ...(await hook()).params, deliveryId: "no-such-delivery" } }),
			},
		};
	};
	Object.assign(MATRIX, webhookRows());

	/** Discount codes, shipping methods and tax rates: admins only; the rows that change one use their own. */
	const pricingRows = (): Record<string, MatrixRow> => {
		const admin: [number, number, number, number] = [401, 403, 403, 200];
		type Promo = Response<PromotionView>;
		type Method = Response<ShippingMethod>;
		type Rate = Response<TaxRateView>;
		return {
			"POST /promotions": {
				expected: [401, 403, 403, 201],
				request: () => ({
					body: {
						code: `new-${randomBytes(4).toString("hex")}`,
						type: "FIXED",
						value: 500,
						currency: "USD",
						active: true,
					},
				}),
				check: (_role, res: Promo) => {
					expect(res.body.code).toMatch(/^NEW-[0-9A-F]{8}$/);
					expect(res.body).toMatchObject({ type: "FIXED", value: 500, timesUsed: 0 });
				},
			},
			"GET /promotions": {
				expected: admin,
				request: () => ({ query: `code=${promotion.code.toLowerCase()}` }),
				check: (_role, res: Response<Page<PromotionView>>) =>
					expect(res.body.rows).toMatchObject([{ id: promotion.id, code: promotion.code }]),
			},
			"GET /promotions/:id": {
				expected: admin,
				request: () => ({ params: { id: promotion.id } }),
				check: (_role, res: Promo) => expect(res.body).toMatchObject({ id: promotion.id, code: promotion.code }),
			},
			"PATCH /promotions/:id": {
				expected: admin,
				request: async () => ({ params: { id: (await newPromotion()).id }, body: { active: false, usageLimit: 3 } }),
				check: (_role, res: Promo) => expect(res.body).toMatchObject({ active: false, usageLimit: 3, value: 10 }),
			},
			"DELETE /promotions/:id": {
				expected: admin,
				request: async () => ({ params: { id: (await newPromotion()).id } }),
				check: (_role, res: Promo) => expect(res.body.code).toMatch(/^SEC-/),
			},
			"POST /shipping-methods": {
				expected: [401, 403, 403, 201],
				request: () => ({
					body: { name: "Matrix post", price: 350, currency: "USD", countries: ["de", "FR"], freeOver: 9000 },
				}),
				check: (_role, res: Method) =>
					expect(res.body).toMatchObject({ name: "Matrix post", price: 350, countries: ["DE", "FR"], freeOver: 9000 }),
			},
			"GET /shipping-methods": {
				expected: admin,
				request: () => ({ query: "pageSize=100" }),
				check: (_role, res: Response<Page<ShippingMethod>>) =>
					expect(res.body.rows.map(m => m.id)).toContain(shippingMethodId),
			},
			"PATCH /shipping-methods/:id": {
				expected: admin,
				request: async () => ({ params: { id: (await newShippingMethod()).id }, body: { price: 799, active: false } }),
				check: (_role, res: Method) => expect(res.body).toMatchObject({ price: 799, active: false }),
			},
			"DELETE /shipping-methods/:id": {
				expected: admin,
				request: async () => ({ params: { id: (await newShippingMethod()).id } }),
				check: (_role, res: Method) => expect(res.body.price).toBe(700),
			},
			"GET /tax-rates": {
				expected: admin,
				request: async () => {
					await putRate("AT");
					return { query: "pageSize=100" };
				},
				check: (_role, res: Response<Page<TaxRateView>>) =>
					expect(res.body.rows).toContainEqual(expect.objectContaining({ country: "AT", rate: 2100 })),
			},
			"PUT /tax-rates/:country": {
				expected: admin,
				request: () => ({ params: { country: "fr" }, body: { rate: 2000, shippingTaxable: true } }),
				check: (_role, res: Rate) =>
					expect(res.body).toMatchObject({ country: "FR", rate: 2000, shippingTaxable: true }),
			},
			"DELETE /tax-rates/:country": {
				expected: admin,
				request: async () => {
					await putRate("NL");
					return { params: { country: "NL" } };
				},
				check: (_role, res: Rate) => expect(res.body).toMatchObject({ country: "NL", rate: 2100 }),
			},
		};
	};
	Object.assign(MATRIX, pricingRows());

	describe("authorisation matrix", () => {
		it("has a row for every endpoint of the API, and no row for an endpoint that does not exist", () => {
			expect(Object.keys(API_ALIASES).filter(alias => !MATRIX[alias])).toEqual([]);
			expect(Object.keys(MATRIX).filter(alias => !(alias in API_ALIASES))).toEqual([]);
		});

		it.each(Object.keys(API_ALIASES))("%s", async alias => {
			const row = MATRIX[alias];
			expect(row, `no matrix row for ${alias}`).toBeDefined();
			const [method, pattern] = alias.split(" ");
			const seen: string[] = [];
			for (const [i, role] of ROLES.entries()) {
				const { params = {}, query, body } = await row.request(role);
				const route = pattern.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name]));
				const url = `/api${route}${query ? `?${query}` : ""}`;
				const res = await call(method, url, { token: tokenOf(role), body });
				seen.push(`${role}=${res.status}`);
				expect(res.status, `${alias} as ${role}: ${JSON.stringify(res.body)}`).toBe(row.expected[i]);
				if (res.status >= 400) expectErrorShape(res);
				else row.check?.(role, res);
				if (role === "anonymous" || role === "other") {
					const text = JSON.stringify(res.body);
					for (const marker of ownerData())
						expect(text, `${alias} as ${role} shows the owner's data`).not.toContain(marker);
				}
				expect(JSON.stringify(res.body)).not.toMatch(/passwordHash|scrypt\$|paymentToken/);
			}
			console.info(`${alias}: ${seen.join(" ")}`);
		});
	});

	describe("tokens", () => {
		const now = () => Math.floor(Date.now() / 1000);

		async function expectRefused(authorization: string, url = "/api/users") {
			const res = await call<ApiError>("GET", url, { headers: { authorization } });
			expect(res.status, `${authorization.slice(0, 60)}: ${JSON.stringify(res.body)}`).toBe(401);
			expectErrorShape(res);
			expect(["INVALID_TOKEN", "TOKEN_EXPIRED"]).toContain(res.body.type);
			return res;
		}

		it("accepts a token signed with the secret from JWT_SECRET_FILE (the control case)", async () => {
			const token = jwt.sign({ sub: admin.id, role: "admin" }, jwtSecret, { algorithm: "HS256", expiresIn: "5m" });
			expect((await call("GET", "/api/users", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
		});

		it("refuses alg:none tokens, whatever the claims say", async () => {
			for (const alg of ["none", "None", "NONE"]) {
				const payload = b64url({ sub: admin.id, role: "admin", iat: now(), exp: now() + 300 });
				await expectRefused(`Bearer ${b64url({ alg, typ: "JWT" })}.${payload}.`);
				await expectRefused(`Bearer ${b64url({ alg, typ: "JWT" })}.${payload}.${ann.token.split(".")[2]}`);
			}
		});

		it("refuses a wrong signature, a tampered payload and another HMAC algorithm with the right secret", async () => {
			const otherSecret = `not-the-secret-${run}-padding-padding`;
			await expectRefused(`Bearer ${jwt.sign({ sub: admin.id, role: "admin" }, otherSecret, { algorithm: "HS256" })}`);
			await expectRefused(`Bearer ${jwt.sign({ sub: admin.id, role: "admin" }, envJwtSecret, { algorithm: "HS256" })}`);
			await expectRefused(
				`Bearer ${jwt.sign({ sub: admin.id, role: "admin" }, DEV_JWT_SECRET, { algorithm: "HS256" })}`,
			);
			const [header, payload, signature] = ann.token.split(".");
			const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
			const promoted = b64url({ ...claims, role: "admin" });
			await expectRefused(`Bearer ${header}.${promoted}.${signature}`);
			await expectRefused(`Bearer ${jwt.sign({ sub: admin.id, role: "admin" }, jwtSecret, { algorithm: "HS512" })}`);
			await expectRefused(`Bearer ${jwt.sign({ sub: admin.id, role: "admin" }, jwtSecret, { algorithm: "HS384" })}`);
		});

		it("refuses expired and not-yet-valid tokens", async () => {
			const hs256 = { algorithm: "HS256" } as const;
			const expired = await expectRefused(
				`Bearer ${jwt.sign({ sub: ann.user.id, role: "customer", exp: now() - 60 }, jwtSecret, hs256)}`,
				"/api/users/me",
			);
			expect(expired.body.type).toBe("TOKEN_EXPIRED");
			await expectRefused(
				`Bearer ${jwt.sign({ sub: ann.user.id, role: "customer", nbf: now() + 3600 }, jwtSecret, hs256)}`,
				"/api/users/me",
			);
		});

		it("refuses malformed tokens and headers, also on public routes (never downgraded to anonymous)", async () => {
			const valid = ann.token;
			const [header, , signature] = valid.split(".");
			const malformed = [
				"Bearer not.a.token",
				"Bearer abc",
				"Bearer a.b.c.d",
				"Bearer",
				"Bearer ",
				`Bearer ${valid} extra`,
				`Basic ${Buffer.from("admin:admin").toString("base64")}`,
				valid,
				`Bearer ${valid}!`,
				"Bearer eyJhbGciOiJIUzI1NiJ9.!!!.sig",
				`Bearer ${header}.${b64url("not json")}.${signature}`,
				`Bearer ${b64url("{")}.${b64url({ sub: admin.id })}.${signature}`,
				`Bearer ${"A".repeat(4000)}`,
			];
			for (const authorization of malformed) {
				await expectRefused(authorization, "/api/users/me");
				await expectRefused(authorization, "/api/products");
			}
		});

		it("refuses correctly signed tokens without a usable subject or for a user that never existed", async () => {
			await expectRefused(`Bearer ${jwt.sign({ role: "admin" }, jwtSecret, { algorithm: "HS256" })}`);
			await expectRefused(`Bearer ${jwt.sign({ sub: 42, role: "admin" }, jwtSecret, { algorithm: "HS256" })}`);
			const nobody = "00000000-0000-4000-8000-000000000000";
			await expectRefused(`Bearer ${jwt.sign({ sub: nobody, role: "admin" }, jwtSecret, { algorithm: "HS256" })}`);
			await expectRefused(`Bearer ${jwt.sign({ sub: { $gt: "" }, role: "admin" }, jwtSecret, { algorithm: "HS256" })}`);
		});

		it("refuses tokens without exp, with exp beyond the token lifetime (1h) or issued in the future", async () => {
			const sign = (claims: Record<string, number>) =>
				`Bearer ${jwt.sign({ sub: admin.id, role: "admin", ...claims }, jwtSecret, { algorithm: "HS256" })}`;
			await expectRefused(sign({}));
			await expectRefused(sign({ exp: now() + 3 * 3600 }));
			await expectRefused(sign({ exp: now() + 365 * 24 * 3600 }));
			await expectRefused(sign({ iat: now() + 600, exp: now() + 900 }));
			// The control case: within the lifetime.
			expect(
				(await call("GET", "/api/users", { headers: { authorization: sign({ exp: now() + 1800 }) } })).status,
			).toBe(200);
		});

		it("refuses a validly signed subject over 64 characters with 401, naming no internal action", async () => {
			const res = await expectRefused(
				"Bearer " +
					jwt.sign({ sub: "u".repeat(65), role: "admin", exp: now() + 300 }, jwtSecret, { algorithm: "HS256" }),
			);
			expect(JSON.stringify(res.body)).not.toMatch(/users\.principal|nodeID/);
		});

		it("takes the role from the user record, not from the token", async () => {
			const forged = jwt.sign({ sub: ann.user.id, role: "admin" }, jwtSecret, { algorithm: "HS256", expiresIn: "5m" });
			expect((await call("GET", "/api/users", { headers: { authorization: `Bearer ${forged}` } })).status).toBe(403);
		});

		it("refuses the tokens of a removed user on the very next request", async () => {
			const dan = await register("dan");
			expect((await call("GET", "/api/users/me", { token: dan.token })).status).toBe(200);
			// users.remove is an operator (REPL) action: it checks the caller like any other action.
			await expect(shop.broker.call("users.remove", { id: dan.user.id })).rejects.toMatchObject({ code: 401 });
			await expect(
				shop.broker.call("users.remove", { id: dan.user.id }, { meta: { user: bob.user } }),
			).rejects.toMatchObject({ code: 403 });
			expect((await call("GET", "/api/users/me", { token: dan.token })).status).toBe(200);
			await shop.broker.call("users.remove", { id: dan.user.id }, { meta: { user: admin } });
			await expectRefused(`Bearer ${dan.token}`, "/api/users/me");
			await expectRefused(`Bearer ${dan.token}`, "/api/products");
			expect(
				(
					await call("POST", "/api/orders", {
						token: dan.token,
						body: { items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
					})
				).status,
			).toBe(401);
		});
	});

	describe("secrets", () => {
		it("signs tokens with the secret from JWT_SECRET_FILE, which wins over JWT_SECRET", () => {
			expect(jwt.verify(ann.token, jwtSecret, { algorithms: ["HS256"] })).toMatchObject({
				sub: ann.user.id,
				role: "customer",
			});
			expect(() => jwt.verify(ann.token, envJwtSecret, { algorithms: ["HS256"] })).toThrow(/signature/);
		});

		it("creates the admin from ADMIN_EMAIL and ADMIN_PASSWORD_FILE, and no default admin in production", async () => {
			expect(admin).toMatchObject({ email: adminEmail, role: "admin" });
			expect(
				(await call("POST", "/api/auth/login", { body: { email: "admin@example.com", password: "admin-password" } }))
					.status,
			).toBe(401);
		});

		it("opens the users store named by USERS_DB_URI_FILE, with hashed passwords only", () => {
			const stored = path.join(userDataDir, "users.sqlite");
			expect(existsSync(stored)).toBe(true);
			// SQLite keeps text as it is; the latest writes may still be in the write-ahead log beside the file.
			const files = [stored, `${stored}-wal`].filter(f => existsSync(f));
			const content = files.map(f => readFileSync(f, "latin1")).join("\n");
			expect(content).toContain(ann.user.email);
			expect(content).toMatch(/scrypt\$/);
			for (const secret of secrets) expect(content).not.toContain(secret);
		});

		it("never logs a password, a token or the JWT secret (log level debug, after everything above)", async () => {
			// A last register, login and order, so the log covers them whatever ran before.
			const eve = await register("eve");
			const login = await call<{ token: string }>("POST", "/api/auth/login", {
				body: { email: eve.user.email, password: `eve-Pa55word-${run}` },
			});
			expect(login.status).toBe(200);
			expect(
				(
					await call("POST", "/api/orders", {
						token: login.body.token,
						body: { items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" },
					})
				).status,
			).toBe(201);
			expect(
				(await call("POST", "/api/auth/login", { body: { email: eve.user.email, password: `wrong-${run}-password` } }))
					.status,
			).toBe(401);
			secrets.add(`wrong-${run}-password`);

			const log = logger.lines.join("\n");
			// The capture works and is at debug level: request lines are there.
			expect(logger.lines.some(line => line.startsWith("[debug]"))).toBe(true);
			expect(log).toContain("POST /api/auth/login");
			// A token counts as leaked when its signature alone shows up.
			const leaks = (line: string) =>
				[...secrets].some(secret => line.includes(secret) || line.includes(secret.split(".")[2] ?? "\0"));
			const mask = (line: string) => [...secrets].reduce((out, secret) => out.replaceAll(secret, "«secret»"), line);
			expect(logger.lines.filter(leaks).map(mask).slice(0, 5)).toEqual([]);
			expect(log).not.toMatch(/scrypt\$[0-9a-f]/);
			console.info(`log lines captured at debug: ${logger.lines.length}, secrets checked: ${secrets.size}`);
		});
	});
});
