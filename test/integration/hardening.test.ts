import { randomBytes } from "node:crypto";
import http, { type IncomingHttpHeaders } from "node:http";
import net from "node:net";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { metricsAddress } from "../support/prometheus";
import { client, type Client, type Response } from "../support/http";

/**
 * Issue 18: the findings of an adversarial test of the gateway and the production defaults, each reproduced over
 * HTTP (or on the sockets) against a running shop. Shop A is the one-process dev shop with small, configured limits
 * and a trusted proxy, so each test speaks from client addresses of its own.
 */

interface RawResponse {
	status: number;
	headers: IncomingHttpHeaders;
	body: string;
}

/** A request fetch cannot make (a GET with a body, any header). */
function rawRequest(base: string, method: string, path: string, headers: Record<string, string>, body?: string) {
	return new Promise<RawResponse>((resolve, reject) => {
		// Node sends a GET body without Content-Length unless told: the server would read it as the next request.
		const length = body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) };
		const req = http.request(`${base}${path}`, { method, headers: { ...headers, ...length }, agent: false }, res => {
			let text = "";
			res.setEncoding("utf8");
			res.on("data", chunk => (text += chunk));
			res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
		});
		req.on("error", reject);
		req.end(body);
	});
}

/** Resolves true when the server closes the socket within `ms`, false when it is still open then. */
function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
	return new Promise(resolve => {
		if (socket.destroyed) return resolve(true);
		const timer = setTimeout(() => resolve(false), ms);
		socket.once("close", () => {
			clearTimeout(timer);
			resolve(true);
		});
	});
}

function connect(base: string): Promise<net.Socket> {
	const { hostname, port } = new URL(base);
	return new Promise((resolve, reject) => {
		// Read what the server sends (a 408, then its end), or the socket never sees its close.
		const socket = net.connect(Number(port), hostname, () => resolve(socket.resume()));
		socket.on("error", () => undefined);
		socket.once("error", reject);
	});
}

/** The shapes this file reads of the gateway's answers. */
interface ErrorBody {
	code: number;
	type: string;
	data?: unknown;
}
interface SignedIn {
	token: string;
	user: { id: string; name: string };
}
interface Rows<T> {
	rows: T[];
	page: number;
	pageSize: number;
}

let addressCounter = 0;
/** A client address of its own for each use (TRUST_PROXY=true): per-address limits of one test do not touch another. */
const fresh = () => {
	addressCounter++;
	return { "x-forwarded-for": `198.18.${addressCounter >> 8}.${addressCounter & 255}` };
};

describe("hardening (issue 18), 1. production refuses placeholder secrets", () => {
	/** The error a production start fails with, or null when the node started (it is stopped again). */
	async function startError(env: Record<string, string>, services: string[]): Promise<Error | null> {
		const started = await startShop({ env: { NODE_ENV: "production", ...env }, services }).catch((err: Error) => err);
		if (started instanceof Error) return started;
		await started.stop();
		return null;
	}

	it.each([
		["the Compose placeholder", "change-me-this-is-a-placeholder-jwt-secret-0123456789"],
		["the Kubernetes placeholder", "CHANGE-ME"],
		["40 spaces", " ".repeat(40)],
		["32 × a", "a".repeat(32)],
	])("a gateway with JWT_SECRET = %s does not start", async (_what, secret) => {
		expect(String(await startError({ JWT_SECRET: secret }, ["api"]))).toMatch(/JWT_SECRET/);
	});

	it.each([
		["the Kubernetes placeholder", "CHANGE-ME"],
		["the Compose placeholder", "change-me-admin-password"],
		["the development default", "admin-password"],
		["a short password", "Sh0rt-pass"],
	])("a users node with ADMIN_PASSWORD = %s does not start", async (_what, password) => {
		const env = { JWT_SECRET: randomBytes(32).toString("hex"), ADMIN_EMAIL: "ops@shop.test", ADMIN_PASSWORD: password };
		expect(String(await startError(env, ["users"]))).toMatch(/ADMIN_PASSWORD/);
	});
});

describe("hardening (issue 18), one-process shop with small limits", () => {
	const run = randomBytes(3).toString("hex");
	let shop: Shop;
	let api: Client;
	let admin: string;
	let productIds: string[];

	async function register(label: string) {
		const res = await api.request<SignedIn>("POST", "/api/auth/register", {
			body: { email: `${label}-${run}@example.com`, password: `${label}-password`, name: label },
			headers: fresh(),
		});
		expect(res.status, JSON.stringify(res.body)).toBe(201);
		return res.body;
	}

	beforeAll(async () => {
		shop = await startShop({
			env: {
				SEED: "true",
				CACHER: undefined,
				TRUST_PROXY: "true",
				LOGIN_MAX_PER_ADDRESS: "5",
				REGISTER_MAX_PER_ADDRESS: "3",
				PASSWORD_HASH_CONCURRENCY: "1",
				PASSWORD_HASH_QUEUE: "4",
				CACHE_MAX: "50",
			},
		});
		api = client(shop.url);
		const login = await api.request<SignedIn>("POST", "/api/auth/login", {
			body: { email: "admin@example.com", password: "admin-password" },
			headers: fresh(),
		});
		expect(login.status).toBe(200);
		admin = login.body.token;
		productIds = (await api.get<Rows<{ id: string }>>("/api/products?pageSize=10")).body.rows.map(p => p.id);
		expect(productIds.length).toBeGreaterThan(3);
	});

	afterAll(async () => {
		await shop?.stop();
	});

	describe("2. logins and registrations cannot be flooded", () => {
		it("limits logins per client address across emails: 429, Retry-After once the address used its 5", async () => {
			const from = fresh();
			for (let i = 0; i < 5; i++) {
				const res = await api.request("POST", "/api/auth/login", {
					body: { email: `nobody-${i}-${run}@example.com`, password: "whatever-password" },
					headers: from,
				});
				expect(res.status, `attempt ${i + 1}`).toBe(401);
			}
			const blocked = await api.request<ErrorBody>("POST", "/api/auth/login", {
				body: { email: `nobody-6-${run}@example.com`, password: "whatever-password" },
				headers: from,
			});
			expect(blocked.status, JSON.stringify(blocked.body)).toBe(429);
			expect(blocked.body.type).toBe("TOO_MANY_REQUESTS");
			expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
			// Another address is not affected.
			expect(
				(
					await api.request("POST", "/api/auth/login", {
						body: { email: `nobody-6-${run}@example.com`, password: "whatever-password" },
						headers: fresh(),
					})
				).status,
			).toBe(401);
		});

		it("limits registrations per client address: the 4th from one is 429, another address registers", async () => {
			const from = fresh();
			const statuses: number[] = [];
			for (let i = 0; i < 4; i++) {
				const res = await api.request("POST", "/api/auth/register", {
					body: { email: `flood-${i}-${run}@example.com`, password: "flood-password", name: "Flood" },
					headers: from,
				});
				statuses.push(res.status);
				if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
			}
			expect(statuses).toEqual([201, 201, 201, 429]);
			await register("after-flood");
		});

		it("bounds password hashing: a burst beyond the queue is refused at once with 503 and Retry-After", async () => {
			// Concurrency 1 and a queue of 4: of 40 simultaneous logins (each from its own address), most cannot wait.
			const burst = await Promise.all(
				Array.from({ length: 40 }, (_, i) =>
					api.request("POST", "/api/auth/login", {
						body: { email: `burst-${i}-${run}@example.com`, password: "burst-password" },
						headers: fresh(),
					}),
				),
			);
			const refused = burst.filter(r => r.status === 503);
			const checked = burst.filter(r => r.status === 401);
			console.info(`burst of 40 logins: ${checked.length} checked (401), ${refused.length} refused (503)`);
			expect(refused.length + checked.length).toBe(40);
			expect(refused.length).toBeGreaterThanOrEqual(20);
			for (const res of refused) {
				expect(res.body).toMatchObject({ code: 503, type: "OVERLOADED" });
				expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
			}
			// The real user is served once the burst is gone.
			const me = await register("after-burst");
			const login = await api.request<SignedIn>("POST", "/api/auth/login", {
				body: { email: `after-burst-${run}@example.com`, password: "after-burst-password" },
				headers: fresh(),
			});
			expect(login.status).toBe(200);
			expect(login.body.user.id).toBe(me.user.id);
		});
	});

	describe("3. the memory cache is bounded and keyed on validated params", () => {
		const cacheKeys = async () =>
			(await (shop.broker.cacher as unknown as { getCacheKeys(): Promise<{ key: string }[]> }).getCacheKeys()).map(
				k => k.key,
			);
		const listKeys = async () => (await cacheKeys()).filter(k => k.startsWith("products.list:"));

		it("makes one entry for many spellings of one query, and none for invalid params", async () => {
			await shop.broker.cacher!.clean();
			for (const query of ["page=1", "page=01", "page=001", "page=0001", "page=00001"])
				expect((await api.get(`/api/products?${query}&category=books`)).status, query).toBe(200);
			for (const category of ["Books", "BOOKS", " books ", "books "])
				expect((await api.get(`/api/products?page=1&category=${encodeURIComponent(category)}`)).status).toBe(200);
			expect(await listKeys()).toHaveLength(1);
			for (const query of ["page=0x10", "page=abc", "page=-1", "page=1.5", "pageSize=1e1", "sort=password"])
				expect((await api.get(`/api/products?${query}`)).status, query).toBe(422);
			expect(await listKeys()).toHaveLength(1);
		});

		it("caps the memory cache at CACHE_MAX entries (an LRU)", async () => {
			await shop.broker.cacher!.clean();
			for (let i = 0; i < 120; i++)
				await shop.broker.call("products.getMany", { ids: [`unknown-${i}-${randomBytes(4).toString("hex")}`] });
			const keys = await cacheKeys();
			expect(keys.filter(k => k.startsWith("products.getMany:")).length).toBeGreaterThan(0);
			expect(keys.length).toBeLessThanOrEqual(50);
		});
	});

	describe("4. bodies are read only when the route can use them", () => {
		it("refuses an anonymous body on a route that needs a user before parsing it", async () => {
			const malformed = await api.request("POST", "/api/orders", { rawBody: `{"items":[${"x".repeat(50_000)}` });
			expect(malformed.status, JSON.stringify(malformed.body)).toBe(401);
			const huge = await api.request("POST", "/api/orders", {
				rawBody: JSON.stringify({ pad: "x".repeat(2_000_000) }),
			});
			expect(huge.status, JSON.stringify(huge.body).slice(0, 200)).toBe(401);
			const badToken = await api.request("PATCH", "/api/users/me", {
				rawBody: "{",
				headers: { authorization: "Bearer not.a.token" },
			});
			expect(badToken.status).toBe(401);
		});

		it("never parses a body on a public read", async () => {
			const res = await rawRequest(shop.url, "GET", "/api/products", { "content-type": "application/json" }, "{");
			expect(res.status, res.body.slice(0, 200)).toBe(200);
		});

		it("gives each route a body limit that fits it: a login is a few KB, an order a few tens", async () => {
			const login = await api.request<ErrorBody>("POST", "/api/auth/login", {
				body: { email: "a@example.com", password: "x".repeat(100), pad: "p".repeat(8_000) },
				headers: fresh(),
			});
			expect(login.status, JSON.stringify(login.body)).toBe(413);
			expect(login.body.type).toBe("PAYLOAD_TOO_LARGE");
			const ann = await register("limits");
			const order = await api.post(
				"/api/orders",
				{ items: [{ productId: productIds[0], quantity: 1 }], paymentToken: "tok_visa", pad: "p".repeat(100_000) },
				{ token: ann.token },
			);
			expect(order.status, JSON.stringify(order.body)).toBe(413);
			const me = await api.patch("/api/users/me", { name: "Ann", pad: "p".repeat(20_000) }, { token: ann.token });
			expect(me.status).toBe(413);
			// What fits the route still works.
			expect((await api.patch("/api/users/me", { name: "Ann" }, { token: ann.token })).status).toBe(200);
		});
	});

	describe("5. OPTIONS never runs an action (CORS_ORIGINS unset)", () => {
		it("OPTIONS with Access-Control-Request-Method: DELETE and an admin token deletes nothing", async () => {
			const id = productIds[1];
			const res = await api.request("OPTIONS", `/api/products/${id}`, {
				token: admin,
				headers: { "access-control-request-method": "DELETE" },
			});
			expect(res.status).not.toBe(200);
			expect((await api.get(`/api/products/${id}`)).status).toBe(200);
		});

		it("OPTIONS with a body does not change the user", async () => {
			const ann = await register("options");
			const res = await api.request("OPTIONS", "/api/users/me", {
				token: ann.token,
				body: { name: "Changed by OPTIONS" },
				headers: { "access-control-request-method": "PATCH" },
			});
			expect(res.status).not.toBe(200);
			expect((await api.get<SignedIn["user"]>("/api/users/me", { token: ann.token })).body.name).toBe("options");
		});
	});

	describe("6. numbers in bodies are JSON numbers, query strings convert only plain decimal integers", () => {
		it("refuses non-numbers for stock and leaves the stock as it was", async () => {
			const id = productIds[2];
			type Stock = { available: number };
			const before = (await api.get<Stock>(`/api/inventory/${id}`)).body.available;
			for (const available of ["", [], false, true, "\t\n", "0x10", "5", null, [5], {}]) {
				const res = await api.put(`/api/inventory/${id}`, { available }, { token: admin });
				expect(res.status, `available: ${JSON.stringify(available)} -> ${JSON.stringify(res.body)}`).toBe(422);
			}
			expect((await api.post(`/api/inventory/${id}/restock`, { quantity: "3" }, { token: admin })).status).toBe(422);
			expect((await api.get<Stock>(`/api/inventory/${id}`)).body.available).toBe(before);
			expect((await api.put(`/api/inventory/${id}`, { available: before }, { token: admin })).status).toBe(200);
		});

		it("refuses order quantities that are not JSON integers", async () => {
			const ann = await register("numbers");
			for (const quantity of [true, "0x3", [2], "2", " 2", 1.5]) {
				const res = await api.post(
					"/api/orders",
					{ items: [{ productId: productIds[0], quantity }], paymentToken: "tok_visa" },
					{ token: ann.token },
				);
				expect(res.status, `quantity: ${JSON.stringify(quantity)} -> ${JSON.stringify(res.body)}`).toBe(422);
			}
		});

		it("keeps page=2 in query strings working and refuses other spellings of numbers", async () => {
			const page = await api.get("/api/products?page=2&pageSize=2");
			expect(page.status).toBe(200);
			expect(page.body).toMatchObject({ page: 2, pageSize: 2 });
			for (const query of ["page=0x2", "page=1e1", "page=%202", "page=2%20", "page=+2", "pageSize=", "page=2&page=3"])
				expect((await api.get(`/api/products?${query}`)).status, query).toBe(422);
		});
	});

	describe("9. headers and small leaks", () => {
		it("sends X-Content-Type-Options: nosniff on every answer", async () => {
			for (const res of [
				await api.get("/api/products"),
				await api.get("/api/nothing-here"),
				await api.get("/api/users/me"),
				await api.get("/health/live"),
				await api.post("/api/auth/login", { email: "x" }),
			])
				expect(res.headers.get("x-content-type-options"), String(res.status)).toBe("nosniff");
		});

		it("sends Cache-Control: no-store on answers with tokens or personal data", async () => {
			const ann = await register("nostore");
			const order = await api.post<{ id: string }>(
				"/api/orders",
				{ items: [{ productId: productIds[0], quantity: 1 }], paymentToken: "tok_visa" },
				{ token: ann.token },
			);
			expect(order.status).toBe(201);
			const answers: [string, Response<unknown>][] = [
				[
					"login",
					await api.request("POST", "/api/auth/login", {
						body: { email: `nostore-${run}@example.com`, password: "nostore-password" },
						headers: fresh(),
					}),
				],
				[
					"failed login",
					await api.request("POST", "/api/auth/login", {
						body: { email: `nostore-${run}@example.com`, password: "wrong-password" },
						headers: fresh(),
					}),
				],
				[
					"register",
					await api.request("POST", "/api/auth/register", {
						body: { email: `nostore2-${run}@example.com`, password: "nostore-password", name: "N" },
						headers: fresh(),
					}),
				],
				["me", await api.get("/api/users/me", { token: ann.token })],
				["users", await api.get("/api/users", { token: admin })],
				["order", order],
				["orders", await api.get("/api/orders", { token: ann.token })],
				["payments", await api.get(`/api/payments?orderId=${order.body.id}`, { token: ann.token })],
				["notifications", await api.get("/api/notifications", { token: ann.token })],
			];
			for (const [what, res] of answers) expect(res.headers.get("cache-control"), what).toBe("no-store");
		});

		it("keeps nodeID and action names out of validation errors", async () => {
			const res = await api.request<ErrorBody & { data: unknown[] }>("POST", "/api/auth/register", {
				body: { email: "not-an-email", password: "x", name: "" },
				headers: fresh(),
			});
			expect(res.status).toBe(422);
			expect(res.body.type).toBe("VALIDATION_ERROR");
			const text = JSON.stringify(res.body);
			expect(text).not.toContain(shop.broker.nodeID);
			expect(text).not.toMatch(/nodeID|users\.register|"action"/);
			for (const item of res.body.data) {
				expect(item).toHaveProperty("field");
				for (const leak of ["nodeID", "action", "actual"]) expect(item).not.toHaveProperty(leak);
			}
		});

		it("refuses NUL and other control characters in emails and names", async () => {
			for (const body of [
				{ email: `nul\u0000-${run}@example.com`, password: "control-password", name: "Nul" },
				{ email: `ctl-${run}@exa\u0007mple.com`, password: "control-password", name: "Bell" },
				{ email: `name-${run}@example.com`, password: "control-password", name: "Ann\u0000" },
				{ email: `name2-${run}@example.com`, password: "control-password", name: "Ann\u001b[31m" },
			]) {
				const res = await api.request("POST", "/api/auth/register", { body, headers: fresh() });
				expect(res.status, JSON.stringify(body)).toBe(422);
			}
			const ann = await register("control");
			expect((await api.patch("/api/users/me", { name: "Ann\u0000" }, { token: ann.token })).status).toBe(422);
			expect(
				(
					await api.patch(
						"/api/users/me",
						{ address: { line1: "1 Road\u0000", city: "C", postalCode: "1", country: "US" } },
						{ token: ann.token },
					)
				).status,
			).toBe(422);
		});

		it("answers body decoding failures in the one error shape with an UPPER_SNAKE type", async () => {
			const encoding = await rawRequest(
				shop.url,
				"POST",
				"/api/auth/login",
				{ "content-type": "application/json", "content-encoding": "br", ...fresh() },
				"{}",
			);
			expect(encoding.status, encoding.body).toBe(415);
			expect(JSON.parse(encoding.body)).toMatchObject({ code: 415, type: "UNSUPPORTED_ENCODING" });
			const charset = await rawRequest(
				shop.url,
				"POST",
				"/api/auth/login",
				{ "content-type": "application/json; charset=latin1", ...fresh() },
				"{}",
			);
			expect(charset.status, charset.body).toBe(415);
			expect(JSON.parse(charset.body)).toMatchObject({ code: 415, type: "UNSUPPORTED_CHARSET" });
		});
	});
});

describe("hardening (issue 18), CORS configured and metrics on, HOST=127.0.0.1", () => {
	let shop: Shop;
	let api: Client;
	let admin: string;

	beforeAll(async () => {
		shop = await startShop({
			env: {
				SEED: "true",
				// Moleculer would collect the process and OS metrics unless NODE_ENV is "test" (as vitest sets it).
				NODE_ENV: "development",
				CORS_ORIGINS: "https://shop.example.com",
				METRICS: "true",
				METRICS_PORT: "0",
				METRICS_HOST: undefined,
				HOST: "127.0.0.1",
				NODEID: "hardening-node",
			},
		});
		api = client(shop.url);
		admin = (await api.login("admin@example.com", "admin-password")).token;
	});

	afterAll(async () => {
		await shop?.stop();
	});

	it("5. answers a preflight without running the action", async () => {
		const id = (await api.get<Rows<{ id: string }>>("/api/products?pageSize=1")).body.rows[0].id;
		const res = await api.request("OPTIONS", `/api/products/${id}`, {
			token: admin,
			headers: { origin: "https://shop.example.com", "access-control-request-method": "DELETE" },
		});
		expect(res.status).toBe(204);
		expect((await api.get(`/api/products/${id}`)).status).toBe(200);
	});

	it("7. binds the metrics port to HOST when METRICS_HOST is unset", async () => {
		expect((await metricsAddress(shop.broker)).address.address).toBe("127.0.0.1");
	});

	it("7. keeps host-identifying series out of /metrics", async () => {
		// Moleculer would collect them from its start on; the shop collects no process or OS series at all
		// (lib/observability/request-metrics.ts).
		const text = await (await fetch(`${(await metricsAddress(shop.broker)).base}/metrics`)).text();
		expect(text).toContain("moleculer_request_total");
		expect(text).not.toMatch(/^(process|os)_/m);
		for (const series of [
			"os_hostname",
			"os_user_",
			"os_network_",
			"os_type",
			"os_release",
			"process_arguments",
			"process_pid",
			"process_ppid",
		])
			expect(text, series).not.toMatch(new RegExp(`^${series}`, "m"));
		expect(text).not.toContain(`"${os.hostname()}"`);
		expect(text).not.toContain(`"${os.homedir()}"`);
		expect(text).not.toContain(`"${process.pid}"`);
		const macs = Object.values(os.networkInterfaces())
			.flat()
			.filter(i => i && !i.internal && i.mac !== "00:00:00:00:00:00")
			.map(i => i!.mac);
		for (const mac of macs) expect(text).not.toContain(mac);
	});
});

describe("hardening (issue 18), connection limits of the gateway and the metrics server", () => {
	let shop: Shop;

	beforeAll(async () => {
		shop = await startShop({
			services: ["api"],
			env: {
				HTTP_HEADERS_TIMEOUT_MS: "1000",
				HTTP_REQUEST_TIMEOUT_MS: "2000",
				HTTP_KEEP_ALIVE_TIMEOUT_MS: "1000",
				HTTP_MAX_CONNECTIONS: "5",
				METRICS: "true",
				METRICS_PORT: "0",
				HOST: "127.0.0.1",
			},
		});
	});

	afterAll(async () => {
		await shop?.stop();
	});

	it("8. closes a connection whose headers never finish", async () => {
		const socket = await connect(shop.url);
		try {
			socket.write("GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ");
			expect(await closedWithin(socket, 5000)).toBe(true);
		} finally {
			socket.destroy();
		}
	});

	it("8. closes a connection whose body trickles", async () => {
		const socket = await connect(shop.url);
		socket.write(
			"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
		);
		const trickle = setInterval(() => socket.writable && socket.write(" "), 200);
		try {
			expect(await closedWithin(socket, 6000)).toBe(true);
		} finally {
			clearInterval(trickle);
			socket.destroy();
		}
	});

	it("8. closes a metrics connection whose headers never finish", async () => {
		const socket = await connect((await metricsAddress(shop.broker)).base);
		try {
			socket.write("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ");
			expect(await closedWithin(socket, 5000)).toBe(true);
		} finally {
			socket.destroy();
		}
	});

	it("8. accepts at most HTTP_MAX_CONNECTIONS connections at once", async () => {
		const sockets = await Promise.all(Array.from({ length: 12 }, () => connect(shop.url)));
		try {
			const closed = await Promise.all(sockets.map(s => closedWithin(s, 1000)));
			expect(closed.filter(c => !c).length).toBeLessThanOrEqual(5);
		} finally {
			for (const s of sockets) s.destroy();
		}
	});
});
