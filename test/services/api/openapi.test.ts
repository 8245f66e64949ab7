import { describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { API_ALIASES, API_ROUTES, type ApiRoute } from "../../../services/api/routes";
import { buildOpenApi, operationOf, undeclaredActions, type ActionLookup } from "../../../services/api/openapi/openapi";
import type { JsonSchema } from "../../../services/api/openapi/json-schema";
import { RESPONSES } from "../../../services/api/openapi/responses";
import { SCHEMAS } from "../../../services/api/openapi/schemas";
import { ALL_SERVICES } from "../../support/shop";

/** The actions as their service schemas declare them: what the registry holds once they run. */
const fromSchemas: ActionLookup = name => {
	const [service, action] = name.split(".");
	const def = ALL_SERVICES[service]?.actions?.[action] as { params?: Record<string, unknown>; auth?: unknown };
	return def ? { params: def.params, auth: def.auth } : undefined;
};

type Operations = Record<string, Record<string, JsonSchema>>;
const operations = (doc: JsonSchema) => doc.paths as Operations;
const op = (doc: JsonSchema, alias: string) => {
	const { method, path } = operationOf(alias, "");
	return operations(doc)[path]?.[method.toLowerCase()];
};

describe("the OpenAPI document", () => {
	const doc = buildOpenApi(API_ROUTES, fromSchemas, "1.2.3");

	it("is a valid OpenAPI 3.1 document", async () => {
		const result = await new Validator().validate(doc);
		expect(result.errors).toBeUndefined();
		expect(result.valid).toBe(true);
		expect(doc.openapi).toBe("3.1.0");
		// The validator does refuse a broken document (a response without its description).
		const broken = structuredClone(doc);
		delete (operations(broken)["/api/products"].get.responses as Record<string, JsonSchema>)["200"].description;
		expect((await new Validator().validate(broken)).valid).toBe(false);
	});

	it("has exactly one operation per route, and every route's answer is declared", () => {
		const documented = Object.entries(operations(doc)).flatMap(([path, methods]) =>
			Object.keys(methods).map(method => `${method.toUpperCase()} ${path}`),
		);
		const routed = Object.keys(API_ALIASES).map(alias => {
			const { method, path } = operationOf(alias, "");
			return `${method} ${path}`;
		});
		expect(documented.sort()).toEqual([...new Set(routed)].sort());
		expect(undeclaredActions(API_ROUTES)).toEqual([]);
	});

	it("shows a new route at once, and a route without a declared answer as undeclared", () => {
		const extra: Record<string, ApiRoute> = {
			...API_ROUTES,
			extra: { bodyLimit: 1024, needsUser: true, personal: false, aliases: { "POST /things/:id/go": "things.go" } },
		};
		const lookup: ActionLookup = name =>
			name === "things.go" ? { params: { id: "string", speed: "number|optional" }, auth: "admin" } : fromSchemas(name);
		const thing = op(buildOpenApi(extra, lookup, "1"), "POST /things/:id/go");
		expect(thing.parameters).toEqual([{ name: "id", in: "path", required: true, schema: { type: "string" } }]);
		expect(thing.requestBody).toMatchObject({
			required: false,
			content: { "application/json": { schema: { properties: { speed: { type: "number" } } } } },
		});
		expect(thing.security).toEqual([{ bearerAuth: [] }]);
		expect(thing.description).toContain("Admin only.");
		expect(undeclaredActions(extra)).toEqual(["things.go"]);
	});

	it("documents path, query and body parameters from the actions' params", () => {
		const get = op(doc, "GET /products/:id");
		expect(get.parameters).toEqual([
			{ name: "id", in: "path", required: true, schema: { type: "string", minLength: 1, maxLength: 64 } },
		]);
		const list = op(doc, "GET /products");
		const query = (list.parameters as JsonSchema[]).map(p => [p.name, p.in, p.required]);
		expect(query).toContainEqual(["page", "query", false]);
		expect(list.requestBody).toBeUndefined();
		const create = op(doc, "POST /orders");
		const body = (create.requestBody as { content: { "application/json": { schema: JsonSchema } } }).content[
			"application/json"
		].schema;
		expect(body).toMatchObject({
			type: "object",
			required: ["items", "paymentToken"],
			additionalProperties: false,
			properties: { items: { type: "array", minItems: 1, maxItems: 50 } },
		});
		expect(create.parameters).toContainEqual(expect.objectContaining({ name: "Idempotency-Key", in: "header" }));
		// A POST whose only param is in the path has no body.
		expect(op(doc, "POST /orders/:id/cancel").requestBody).toBeUndefined();
	});

	it("marks who may call: bearer required, admin only, or a guest with an optional token", () => {
		expect(op(doc, "GET /products").security).toBeUndefined();
		expect(op(doc, "GET /orders").security).toEqual([{ bearerAuth: [] }]);
		const admin = op(doc, "POST /products");
		expect(admin.security).toEqual([{ bearerAuth: [] }]);
		expect(admin.description).toContain("Admin only.");
		expect(Object.keys(admin.responses as object)).toEqual(expect.arrayContaining(["201", "401", "403", "409"]));
		expect(op(doc, "GET /carts/:id").security).toEqual([{}, { bearerAuth: [] }]);
		expect(Object.keys(op(doc, "GET /orders").responses as object)).not.toContain("403");
	});

	it("lists the error types of every operation in the one error shape", () => {
		for (const [path, methods] of Object.entries(operations(doc)))
			for (const [method, operation] of Object.entries(methods)) {
				const responses = operation.responses as Record<string, JsonSchema>;
				expect(
					Object.keys(responses).some(s => s.startsWith("2")),
					`${method} ${path}`,
				).toBe(true);
				for (const status of ["429", "500", "503"])
					expect(responses[status], `${method} ${path} ${status}`).toBeDefined();
				for (const [status, response] of Object.entries(responses).filter(([s]) => Number(s) >= 400)) {
					const schema = (response.content as Record<string, { schema: { allOf: JsonSchema[] } }>)["application/json"]
						.schema;
					expect(schema.allOf[0]).toEqual({ $ref: "#/components/schemas/Error" });
					const types = (schema.allOf[1] as { properties: { type: { enum: string[] } } }).properties.type.enum;
					for (const type of types) expect(type, `${method} ${path} ${status}`).toMatch(/^[A-Z][A-Z_]+$/);
				}
			}
		const order = op(doc, "POST /orders").responses as Record<string, { description: string }>;
		expect(order["402"].description).toContain("PAYMENT_DECLINED");
		expect(order["409"].description).toContain("OUT_OF_STOCK");
		expect(order["422"].description).toContain("VALIDATION_ERROR");
		expect(order["413"].description).toContain("PAYLOAD_TOO_LARGE");
	});

	it("refers only to declared schemas", () => {
		const refs = [...JSON.stringify({ doc, RESPONSES }).matchAll(/"#\/components\/schemas\/(\w+)"/g)].map(m => m[1]);
		for (const name of new Set(refs)) expect(SCHEMAS, name).toHaveProperty(name);
	});
});
