import { describe, expect, it } from "vitest";
import Validator from "fastest-validator";
import Ajv2020 from "ajv/dist/2020";
import { isOptional, paramsToSchema, parseShorthand, ruleToSchema } from "../../../../services/api/openapi/json-schema";
import { currency, id, money, page, params, plainText } from "../../../../lib/actor";
import { SHIPPING_ADDRESS } from "../../../../services/orders/contract";

describe("fastest-validator rules as JSON Schema 2020-12", () => {
	it.each<[string, unknown, Record<string, unknown>]>([
		[
			"string with lengths",
			{ type: "string", min: 1, max: 64, trim: true },
			{ type: "string", minLength: 1, maxLength: 64 },
		],
		["string length", { type: "string", length: 2 }, { type: "string", minLength: 2, maxLength: 2 }],
		["string not empty", { type: "string", empty: false }, { type: "string", minLength: 1 }],
		["RegExp pattern", { type: "string", pattern: /^[A-Z]{3}$/ }, { type: "string", pattern: "^[A-Z]{3}$" }],
		["string pattern", { type: "string", pattern: "^a+$" }, { type: "string", pattern: "^a+$" }],
		["serialized RegExp dropped", { type: "string", pattern: {} }, { type: "string" }],
		["string enum", { type: "string", enum: ["a", "b"] }, { type: "string", enum: ["a", "b"] }],
		["enum", { type: "enum", values: ["customer", "admin"] }, { enum: ["customer", "admin"] }],
		["number", { type: "number", min: 0.5, max: 9 }, { type: "number", minimum: 0.5, maximum: 9 }],
		["integer", money, { type: "integer", minimum: 0, maximum: 100_000_000 }],
		["positive", { type: "number", positive: true }, { type: "number", exclusiveMinimum: 0 }],
		["boolean", { type: "boolean" }, { type: "boolean" }],
		["email", { type: "email", max: 254 }, { type: "string", format: "email", maxLength: 254 }],
		["url", { type: "url" }, { type: "string", format: "uri" }],
		["uuid", { type: "uuid" }, { type: "string", format: "uuid" }],
		["date", { type: "date" }, { type: "string", format: "date-time" }],
		["any", { type: "any" }, {}],
		["equal", { type: "equal", value: 3 }, { const: 3 }],
		[
			"array with items and bounds",
			{ type: "array", items: "string", min: 1, max: 64, unique: true },
			{ type: "array", items: { type: "string" }, minItems: 1, maxItems: 64, uniqueItems: true },
		],
		[
			"array of enum",
			{ type: "array", items: { type: "enum", values: ["*", "order.created"] } },
			{ type: "array", items: { enum: ["*", "order.created"] } },
		],
		[
			"object with props, optional and strict",
			{ type: "object", strict: "remove", props: { a: "string", b: { type: "number", optional: true } } },
			{
				type: "object",
				properties: { a: { type: "string" }, b: { type: "number" } },
				required: ["a"],
				additionalProperties: false,
			},
		],
		[
			"object strict: true",
			{ type: "object", strict: true, props: { a: "boolean|optional" } },
			{ type: "object", properties: { a: { type: "boolean" } }, additionalProperties: false },
		],
		["loose object", { type: "object" }, { type: "object" }],
		[
			"record",
			{ type: "record", key: { type: "string", max: 50 }, value: { type: "string", max: 50 } },
			{
				type: "object",
				propertyNames: { type: "string", maxLength: 50 },
				additionalProperties: { type: "string", maxLength: 50 },
			},
		],
		["nullable string", { type: "string", nullable: true }, { type: ["string", "null"] }],
		["nullable enum", { type: "enum", values: ["A"], nullable: true }, { anyOf: [{ enum: ["A"] }, { type: "null" }] }],
		[
			"nullable string enum",
			{ type: "string", enum: ["A"], nullable: true },
			{ type: ["string", "null"], enum: ["A", null] },
		],
		["default", { type: "number", default: 5 }, { type: "number", default: 5 }],
		[
			"custom check annotated",
			plainText({ type: "string", max: 10 }),
			{ type: "string", maxLength: 10, description: "Further checked by the server." },
		],
		[
			"plain text annotated after crossing the registry as JSON (its custom function left behind)",
			JSON.parse(JSON.stringify(plainText({ type: "string", max: 10 }))),
			{ type: "string", maxLength: 10, description: "Further checked by the server." },
		],
		["shorthand", "string|max:200|optional", { type: "string", maxLength: 200 }],
		["shorthand integer", "number|integer:true|min:1", { type: "integer", minimum: 1 }],
		["shorthand array", "string[]", { type: "array", items: { type: "string" } }],
		["alternatives", ["string", "number"], { anyOf: [{ type: "string" }, { type: "number" }] }],
		[
			"$$type object",
			{ $$type: "object|optional", a: "string" },
			{ type: "object", properties: { a: { type: "string" } }, required: ["a"] },
		],
		[
			"unknown rule type",
			{ type: "objectID" },
			{ description: 'fastest-validator rule "objectID". Further checked by the server.' },
		],
	])("%s", (_name, rule, schema) => {
		expect(ruleToSchema(rule)).toEqual(schema);
	});

	it.each<[unknown, boolean]>([
		["string", false],
		["string|optional", true],
		[{ type: "number", optional: true }, true],
		[{ type: "number", default: 1 }, true],
		[page, true],
		[id, false],
		[["string|optional", "number"], false],
		[["string|optional", "number|optional"], true],
	])("optional: %j → %s", (rule, optional) => {
		expect(isOptional(rule)).toBe(optional);
	});

	it("parses shorthand flags as numbers, booleans and text", () => {
		expect(parseShorthand("string|min:3|max:20|trim|pattern:abc")).toEqual({
			type: "string",
			min: 3,
			max: 20,
			trim: true,
			pattern: "abc",
		});
		expect(parseShorthand("number|integer:false")).toEqual({ type: "number", integer: false });
	});

	it("makes an action's params an object schema without the $$ options", () => {
		expect(paramsToSchema(params({ id, currency, shippingAddress: { ...SHIPPING_ADDRESS, optional: true } }))).toEqual({
			type: "object",
			properties: {
				id: { type: "string", minLength: 1, maxLength: 64 },
				currency: { type: "string", pattern: "^[A-Z]{3}$" },
				shippingAddress: {
					type: "object",
					properties: {
						line1: { type: "string", maxLength: 200 },
						line2: { type: "string", maxLength: 200 },
						city: { type: "string", maxLength: 100 },
						postalCode: { type: "string", maxLength: 20 },
						country: { type: "string", minLength: 1, maxLength: 56, description: "Further checked by the server." },
					},
					required: ["line1", "city", "postalCode", "country"],
					additionalProperties: false,
				},
			},
			required: ["id"],
			additionalProperties: false,
		});
	});

	// The schema and the validator agree on what they accept: a check that the conversion reads the rules right.
	it.each<[string, unknown, unknown[], unknown[]]>([
		["bounded string", { type: "string", min: 2, max: 3 }, ["ab", "abc"], ["a", "abcd", 3]],
		["integer range", "number|integer:true|min:1|max:3", [1, 3], [0, 4, 1.5, "2"]],
		["enum", { type: "enum", values: ["A", "B"] }, ["A"], ["C"]],
		["pattern", { type: "string", pattern: /^[A-Z]{3}$/ }, ["EUR"], ["eur", "EURO"]],
		["array bounds", { type: "array", items: "number", min: 1, max: 2 }, [[1], [1, 2]], [[], [1, 2, 3], ["x"]]],
	])("accepts and refuses like fastest-validator: %s", (_name, rule, good, bad) => {
		const check = new Validator().compile({ value: rule as never });
		const validate = new Ajv2020({ strict: true }).compile(ruleToSchema(rule));
		for (const value of good) {
			expect(check({ value }), JSON.stringify(value)).toBe(true);
			expect(validate(value), JSON.stringify(value)).toBe(true);
		}
		for (const value of bad) {
			expect(check({ value }), JSON.stringify(value)).not.toBe(true);
			expect(validate(value), JSON.stringify(value)).toBe(false);
		}
	});
});
