import { readFileSync } from "node:fs";
import { ServiceBroker } from "moleculer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Ajv2020 from "ajv/dist/2020";
import { Validator } from "@seriousme/openapi-schema-validator";
import type { paths } from "../../clients/emporium-api";
import { API_ALIASES, API_ROUTES } from "../../services/api/routes";
import { buildOpenApi, operationOf } from "../../services/api/openapi/openapi";
import { registryActions } from "../../services/api/openapi/docs";
import { CREATE_ORDER_PARAMS } from "../../services/orders/contract";
import type { JsonSchema } from "../../services/api/openapi/json-schema";
import { TYPES_FILE, typesOf } from "../../scripts/openapi-types";
import { client, type Client } from "../support/http";
import { startShop, type Shop } from "../support/shop";

type Operations = Record<
	string,
	Record<string, { responses: Record<string, { content?: Record<string, JsonSchema> }> }>
>;
/** A product list answer, typed from the generated client types. */
type ProductPage = paths["/api/products"]["get"]["responses"]["200"]["content"]["application/json"];

let shop: Shop;
let api: Client;
let doc: JsonSchema;

beforeAll(async () => {
	shop = await startShop({ env: { SEED: "true" } });
	api = client(shop.url);
	const res = await api.get<JsonSchema>("/api/openapi.json");
	expect(res.status).toBe(200);
	expect(res.headers.get("content-type")).toMatch(/^application\/json/);
	doc = res.body;
}, 60_000);
afterAll(() => shop?.stop());

/** Checks an answer against the schema the document declares for its operation and status. */
function expectConforms(alias: string, status: number, body: unknown): void {
	const { method, path } = operationOf(alias, "");
	const response = (doc.paths as Operations)[path][method.toLowerCase()].responses[String(status)];
	expect(response, `${alias} ${status} is documented`).toBeDefined();
	const ajv = new Ajv2020({ strict: false, validateFormats: false });
	ajv.addSchema({ $id: "openapi", components: doc.components }, "openapi");
	const schema = JSON.parse(
		JSON.stringify(response.content!["application/json"].schema).replaceAll('"#/components', '"openapi#/components'),
	) as JsonSchema;
	const validate = ajv.compile(schema);
	expect(validate(body), `${alias} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true);
}

describe("GET /api/openapi.json on a running shop", () => {
	it("is a valid OpenAPI 3.1 document with one operation per route, both ways", async () => {
		const result = await new Validator().validate(doc);
		expect(result.errors).toBeUndefined();
		const documented = Object.entries(doc.paths as Operations).flatMap(([path, methods]) =>
			Object.keys(methods).map(method => `${method.toUpperCase()} ${path}`),
		);
		const routed = Object.keys(API_ALIASES).map(alias => {
			const { method, path } = operationOf(alias, "");
			return `${method} ${path}`;
		});
		expect(documented.sort()).toEqual(routed.sort());
		// Every route's actor was found in the registry: no operation says its parameters are unknown.
		expect(JSON.stringify(doc)).not.toContain("parameters unknown");
	});

	it("describes what the shop really answers", async () => {
		const products = await api.get<ProductPage>("/api/products?pageSize=2");
		expect(products.status).toBe(200);
		expect(products.body.rows.length).toBeGreaterThan(0);
		expectConforms("GET /products", 200, products.body);
		expectConforms("GET /products/:id", 200, (await api.get(`/api/products/${products.body.rows[0].id}`)).body);

		const session = await api.register(`openapi-${Date.now()}@example.com`);
		expectConforms("POST /auth/register", 201, session);
		expectConforms("GET /users/me", 200, (await api.get("/api/users/me", { token: session.token })).body);

		const cart = await api.post("/api/carts", {});
		expect(cart.status).toBe(201);
		expectConforms("POST /carts", 201, cart.body);
		expectConforms("GET /orders", 200, (await api.get("/api/orders", { token: session.token })).body);

		const productId = products.body.rows[0].id;
		const line = await api.post(`/api/carts/${(cart.body as { id: string }).id}/items`, { productId, quantity: 1 });
		expect(line.status).toBe(200);
		expectConforms("POST /carts/:id/items", 200, line.body);

		const order = { items: [{ productId, quantity: 1 }], paymentToken: "tok_visa" };
		const placed = await api.post<{ id: string }>("/api/orders", order, { token: session.token });
		expect(placed.status).toBe(201);
		expectConforms("POST /orders", 201, placed.body);
		expectConforms(
			"GET /orders/:id",
			200,
			(await api.get(`/api/orders/${placed.body.id}`, { token: session.token })).body,
		);
		const declined = await api.post(
			"/api/orders",
			{ ...order, paymentToken: "tok_declined" },
			{ token: session.token },
		);
		expect(declined.status).toBe(402);
		expectConforms("POST /orders", 402, declined.body);
		const notifications = await api.get("/api/notifications", { token: session.token });
		expectConforms("GET /notifications", 200, notifications.body);

		const missing = await api.get("/api/products/no-such-product");
		expect(missing.status).toBe(404);
		expectConforms("GET /products/:id", 404, missing.body);
	});

	it("answers validation errors with field, type, message and expected values only", async () => {
		const res = await api.post<{ type: string; data: Record<string, unknown>[] }>("/api/auth/register", {
			email: "not-an-email",
			password: "x",
			name: "N",
		});
		expect(res.status).toBe(422);
		expectConforms("POST /auth/register", 422, res.body);
		expect(res.body.type).toBe("VALIDATION_ERROR");
		expect(res.body.data.length).toBeGreaterThan(0);
		for (const issue of res.body.data)
			for (const key of Object.keys(issue)) expect(["field", "type", "message", "expected"]).toContain(key);
		const text = JSON.stringify(res.body);
		expect(text).not.toContain(shop.broker.nodeID);
		expect(text).not.toContain("users.register");
		expect(text).not.toContain("not-an-email");
	});

	it("matches the committed client types (npm run openapi:types)", async () => {
		expect(await typesOf(doc), "clients/emporium-api.d.ts is stale: run npm run openapi:types").toBe(
			readFileSync(TYPES_FILE, "utf8"),
		);
	}, 30_000);
});

describe("GET /api/docs", () => {
	it("serves the reference page and its files from the gateway, under a strict CSP", async () => {
		const page = await fetch(`${shop.url}/api/docs`);
		expect(page.status).toBe(200);
		expect(page.headers.get("content-type")).toMatch(/^text\/html/);
		const csp = page.headers.get("content-security-policy") ?? "";
		expect(csp).toContain("script-src 'self'");
		expect(csp).not.toContain("unsafe-eval");
		const html = await page.text();
		const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map(m => m[1]);
		expect(refs.length).toBeGreaterThanOrEqual(3);
		for (const ref of refs) {
			expect(ref, "nothing from another origin").not.toMatch(/^(https?:)?\/\//);
			const file = await fetch(new URL(ref, `${shop.url}/api/docs`));
			expect(file.status, ref).toBe(200);
			expect((await file.arrayBuffer()).byteLength, ref).toBeGreaterThan(0);
		}
		expect(html).not.toMatch(/<script>[^<]/);
		const init = await (await fetch(`${shop.url}/api/docs/init.js`)).text();
		expect(new URL(init.match(/url: "([^"]+)"/)![1], `${shop.url}/api/docs`).pathname).toBe("/api/openapi.json");
	});

	it("serves only the listed files", async () => {
		for (const path of ["/api/docs/package.json", "/api/docs/..%2F..%2Fpackage.json", "/api/docs/index.html"])
			expect((await fetch(shop.url + path)).status, path).toBe(404);
		expect((await fetch(`${shop.url}/api/openapi.json`, { method: "POST" })).status).toBe(404);
	});
});

describe("the document on a gateway whose actors run on other nodes", () => {
	it("is the same as on the actors' node: params (patterns included) and auth come through the registry", async () => {
		const actors = new ServiceBroker({ nodeID: "actors", transporter: "Fake", logger: false });
		const gateway = new ServiceBroker({ nodeID: "gateway", transporter: "Fake", logger: false });
		actors.createService({
			name: "orders",
			actions: { create: { auth: "user", params: CREATE_ORDER_PARAMS, handler: () => null } },
		});
		await actors.start();
		await gateway.start();
		try {
			await gateway.waitForServices("orders", 5000);
			const routes = { ordering: API_ROUTES.ordering };
			const remote = buildOpenApi(routes, registryActions(gateway), "1");
			expect(remote).toEqual(buildOpenApi(routes, registryActions(actors), "1"));
			expect(JSON.stringify(remote)).toContain('"pattern":"^[A-Za-z0-9_-]{3,32}$"');
			expect(JSON.stringify(remote)).not.toContain("parameters unknown");
		} finally {
			await gateway.stop();
			await actors.stop();
		}
	});
});
