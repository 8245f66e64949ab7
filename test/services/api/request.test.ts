import { describe, expect, it } from "vitest";
import {
	clientAddress,
	convertQueryNumbers,
	dropProtoKeys,
	idempotencyKeyFrom,
	requestIdFrom,
} from "../../../services/api/request";
import { page, pageSize, params, quantity } from "../../../lib/actor";
import { API_ALIASES } from "../../../services/api/routes";
import { ACTORS } from "../../../lib/config";

describe("request ids", () => {
	it("keeps a client's X-Request-ID only when it is 8 to 64 of [A-Za-z0-9_-]", () => {
		for (const good of ["abcdefgh", "A1_b2-C3", "x".repeat(64), "0123456789abcdef0123456789abcdef"])
			expect(requestIdFrom(good)).toBe(good);
		for (const bad of [undefined, "", "short", "x".repeat(65), "has space", "semi;colon", "ünïcödé1", ["abcdefgh"]])
			expect(requestIdFrom(bad)).toBeUndefined();
	});
});

describe("idempotency keys", () => {
	it("passes one non-empty header on, whatever its length (orders refuses an over-long one with 422)", () => {
		expect(idempotencyKeyFrom("k")).toBe("k");
		expect(idempotencyKeyFrom("k".repeat(255))).toBe("k".repeat(255));
		expect(idempotencyKeyFrom("k".repeat(256))).toBe("k".repeat(256));
		for (const bad of [undefined, "", ["a", "b"]]) expect(idempotencyKeyFrom(bad)).toBeUndefined();
	});
});

describe("client address", () => {
	it("is the socket's address unless a trusted proxy forwards one", () => {
		expect(clientAddress("6.6.6.6", "10.0.0.1", false)).toBe("10.0.0.1");
		expect(clientAddress(undefined, "10.0.0.1", true)).toBe("10.0.0.1");
		expect(clientAddress(["1.1.1.1", "2.2.2.2"], "10.0.0.1", true)).toBe("10.0.0.1");
		expect(clientAddress(undefined, undefined, false)).toBe("");
	});

	it("behind a trusted proxy, takes the last X-Forwarded-For entry (the one the proxy appended)", () => {
		expect(clientAddress("6.6.6.6, 203.0.113.7", "10.0.0.1", true)).toBe("203.0.113.7");
		expect(clientAddress("203.0.113.7", "10.0.0.1", true)).toBe("203.0.113.7");
		expect(clientAddress(" 203.0.113.7 ", "10.0.0.1", true)).toBe("203.0.113.7");
		expect(clientAddress("6.6.6.6,", "10.0.0.1", true)).toBe("");
	});
});

describe("JSON bodies", () => {
	it("drop __proto__ keys at every depth and keep everything else", () => {
		const body: unknown = JSON.parse(
			'{"a":1,"__proto__":{"role":"admin"},"b":{"__proto__":{"x":1},"c":[1]}}',
			dropProtoKeys,
		);
		expect(body).toEqual({ a: 1, b: { c: [1] } });
		expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
		expect(Object.getOwnPropertyNames(body)).toEqual(["a", "b"]);
	});
});

describe("route table", () => {
	it("maps each route to an action of one of the actors", () => {
		for (const [route, action] of Object.entries(API_ALIASES)) {
			expect(route).toMatch(/^(GET|POST|PUT|PATCH|DELETE) \/[a-z/:A-Z-]+$/);
			expect(ACTORS as readonly string[]).toContain(action.split(".")[0]);
		}
	});
});

/**
 * Issue 18, finding 6: query strings are text; the gateway turns plain decimal integers into numbers where the
 * action wants one.
 */
describe("numbers in query strings", () => {
	const schema = params({ page, pageSize, search: { type: "string", optional: true }, size: "number|optional" });

	it("converts plain decimal integers of the query for number params, and nothing else", () => {
		const p: Record<string, unknown> = { page: "2", pageSize: "007", search: "42", size: "3", id: "5" };
		convertQueryNumbers(p, { page: "2", pageSize: "007", search: "42", size: "3" }, schema);
		expect(p).toEqual({ page: 2, pageSize: 7, search: "42", size: 3, id: "5" });
	});

	it("leaves every other spelling as text, for the validator to refuse", () => {
		for (const text of ["", " 2", "2 ", "+2", "-2", "0x10", "1e1", "1.0", "\t", "Infinity", "9".repeat(17)]) {
			const p: Record<string, unknown> = { page: text };
			convertQueryNumbers(p, { page: text }, schema);
			expect(p.page, JSON.stringify(text)).toBe(text);
		}
		const arrays: Record<string, unknown> = { page: ["1", "2"] };
		convertQueryNumbers(arrays, { page: ["1", "2"] }, schema);
		expect(arrays.page).toEqual(["1", "2"]);
	});

	it("never converts body fields: a value the query did not supply stays as sent", () => {
		const p: Record<string, unknown> = { quantity: "3" };
		convertQueryNumbers(p, {}, params({ quantity }));
		expect(p.quantity).toBe("3");
		// A path parameter with the name of a query one wins in the params; it is not converted either.
		const q: Record<string, unknown> = { page: "abc" };
		convertQueryNumbers(q, { page: "2" }, schema);
		expect(q.page).toBe("abc");
	});
});
