import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Errors } from "moleculer";
import ApiGateway from "moleculer-web";
import { toHttpError } from "../../../lib/errors";
import { OutOfStockError, TooManyRequestsError } from "../../../lib/errors";

describe("HTTP error mapping", () => {
	it("turns Moleculer's missing-service and timeout errors into 503", () => {
		for (const err of [
			new Errors.ServiceNotAvailableError({ action: "orders.create" }),
			new Errors.ServiceNotFoundError({ action: "x.y" }),
			new Errors.RequestTimeoutError({ action: "a.b" }),
			new ApiGateway.Errors.ServiceUnavailableError("", undefined),
		]) {
			const mapped = toHttpError(err);
			expect(mapped.status).toBe(503);
			expect(mapped.body).toEqual({
				name: "ServiceUnavailableError",
				message: expect.any(String),
				code: 503,
				type: "SERVICE_UNAVAILABLE",
			});
		}
	});

	it("keeps business errors with their code, type and data", () => {
		const err = new OutOfStockError({ orderId: "o1", lines: [{ productId: "p", requested: 3, available: 1 }] });
		expect(toHttpError(err)).toEqual({
			status: 409,
			headers: {},
			body: {
				name: "OutOfStockError",
				message: err.message,
				code: 409,
				type: "OUT_OF_STOCK",
				data: err.data as unknown,
			},
		});
	});

	it("hides unexpected failures behind a generic 500", () => {
		const mapped = toHttpError(new TypeError("cannot read properties of undefined (reading 'secret')"));
		expect(mapped).toEqual({
			status: 500,
			headers: {},
			body: { name: "InternalServerError", message: "Internal server error", code: 500, type: "INTERNAL_ERROR" },
		});
		expect(toHttpError(new Errors.MoleculerError("db password wrong", 500, "X")).body.message).toBe(
			"Internal server error",
		);
	});

	it("maps body parser failures to 400 and 413", () => {
		expect(
			toHttpError(Object.assign(new Error("Unexpected token"), { status: 400, type: "entity.parse.failed" })).status,
		).toBe(400);
		expect(
			toHttpError(Object.assign(new Error("too large"), { status: 413, type: "entity.too.large" })).body.type,
		).toBe("PAYLOAD_TOO_LARGE");
	});

	it("drops submitted values from validation errors and sets Retry-After on 429", () => {
		const validation = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{ field: "password", type: "stringMin", actual: "hunter2", message: "too short" },
		]);
		expect(toHttpError(validation).body.data).toEqual([{ field: "password", type: "stringMin", message: "too short" }]);
		expect(toHttpError(new TooManyRequestsError("slow down", 42)).headers).toEqual({ "Retry-After": "42" });
	});

	it("answers field, type, message and expected only (issue 14)", () => {
		const validation = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{
				type: "stringMax",
				field: "name",
				message: "too long",
				expected: 200,
				actual: 201,
				nodeID: "gateway-1-4242",
				action: "users.updateMe",
				label: "internal",
			},
			{ type: "enumValue", field: "role", message: "bad", expected: ["customer", "admin"], actual: "root" },
			{ type: "object", field: "x", message: "m", expected: { nested: "users.register" } },
		]);
		const body = toHttpError(validation).body;
		expect(body.data).toEqual([
			{ field: "name", type: "stringMax", message: "too long", expected: 200 },
			{ field: "role", type: "enumValue", message: "bad", expected: ["customer", "admin"] },
			{ field: "x", type: "object", message: "m" },
		]);
		expect(JSON.stringify(body)).not.toMatch(/gateway-1|users\.|nodeID|action|actual|root|201/);
		// Validation data that is not a list of issues (an internal check's payload) is not shown at all.
		const internal = new Errors.ValidationError("bad event", "VALIDATION_ERROR", { nodeID: "n1", sku: "X" });
		expect(toHttpError(internal).body.data).toBeUndefined();
	});

	it("keeps nodeID and action names out of validation errors (issue 18, finding 9)", () => {
		const validation = new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
			{ field: "email", type: "email", actual: "x", message: "bad", nodeID: "host-123", action: "users.register" },
		]);
		expect(toHttpError(validation).body.data).toEqual([{ field: "email", type: "email", message: "bad" }]);
	});

	it("maps every body parser failure into the one shape with an UPPER_SNAKE type (issue 18, finding 9)", () => {
		const parserError = (status: number, type: string, extra: Record<string, unknown> = {}) =>
			toHttpError(Object.assign(new Error(`parser says ${type}`), { status, type, ...extra }));
		expect(parserError(415, "encoding.unsupported")).toMatchObject({
			status: 415,
			body: { code: 415, type: "UNSUPPORTED_ENCODING", name: "UnsupportedMediaTypeError" },
		});
		expect(parserError(415, "charset.unsupported").body).toMatchObject({ code: 415, type: "UNSUPPORTED_CHARSET" });
		expect(parserError(400, "request.aborted").body).toMatchObject({ code: 400, type: "INVALID_BODY" });
		expect(parserError(400, "request.size.invalid").body).toMatchObject({ code: 400, type: "INVALID_BODY" });
		expect(parserError(413, "entity.too.large", { limit: 4096 }).body).toEqual({
			name: "PayloadTooLargeError",
			message: "Request body exceeds 4096 bytes",
			code: 413,
			type: "PAYLOAD_TOO_LARGE",
		});
		for (const mapped of [parserError(415, "encoding.unsupported"), parserError(400, "request.aborted")])
			expect(mapped.body.type).toMatch(/^[A-Z][A-Z_]+$/);
	});
});

describe("the README's error table", () => {
	it("documents every type the gateway can answer with, those of moleculer-web included (issue 18, finding 9)", () => {
		const readme = readFileSync(path.join(__dirname, "../../../README.md"), "utf8");
		const table = readme.slice(readme.indexOf("### Errors"), readme.indexOf("### Domain events"));
		for (const type of [
			"INVALID_JSON",
			"INVALID_BODY",
			"UNABLE_DECODE_PARAM",
			"ORIGIN_NOT_ALLOWED",
			"PAYLOAD_TOO_LARGE",
			"UNSUPPORTED_ENCODING",
			"UNSUPPORTED_CHARSET",
			"QUANTITY_TOO_LARGE",
			"TOO_MANY_REQUESTS",
			"OVERLOADED",
			"VALIDATION_ERROR",
		])
			expect(table, type).toContain(`\`${type}\``);
	});
});
