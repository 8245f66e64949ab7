/**
 * fastest-validator rules (the actions' `params`) as JSON Schema 2020-12, the dialect of OpenAPI 3.1. Pure. No npm
 * library does this for Moleculer 0.14 and OpenAPI 3.1 (moleculer-auto-openapi documents moleculer-web's own alias
 * list in OpenAPI 3.0; its 3.1 fork is not published), and the rules used here are few.
 *
 * Rules may come from another node through the registry, serialized as JSON: a RegExp `pattern` then arrives as `{}`
 * and a `custom` function not at all, so patterns given as strings are kept as they are and anything else is dropped
 * (`plainText` rules say so with a flag that does arrive).
 */

export type JsonSchema = { [key: string]: unknown };
type Rule = Record<string, unknown>;

const CHECKED_BY_SERVER = "Further checked by the server.";

/** `"string|max:200|optional"` → `{ type: "string", max: 200, optional: true }`; `"string[]"` → an array of them. */
export function parseShorthand(text: string): Rule {
	const [type, ...flags] = text.split("|");
	const rule: Rule = {};
	for (const flag of flags) {
		const [key, value] = flag.split(":");
		rule[key] = value === undefined ? true : shorthandValue(value);
	}
	if (type.endsWith("[]")) return { ...rule, type: "array", items: type.slice(0, -2) };
	return { ...rule, type };
}

function shorthandValue(value: string): unknown {
	if (value === "true" || value === "false") return value === "true";
	return value !== "" && Number.isFinite(Number(value)) ? Number(value) : value;
}

/** A rule in any of its forms (shorthand, object, or several alternatives) as an object rule or alternatives. */
function normalize(input: unknown): Rule | Rule[] {
	if (typeof input === "string") return parseShorthand(input);
	if (Array.isArray(input)) return input.map(alternative => normalize(alternative) as Rule);
	if (typeof input !== "object" || input === null) return { type: "any" };
	const rule = input as Rule;
	// `{ $$type: "object|optional", a: "string" }`: an object whose other keys are its props.
	if (typeof rule.$$type === "string") {
		const { $$type, ...props } = rule;
		return { ...parseShorthand($$type), props };
	}
	return rule;
}

/** Whether a field may be left out: a non-optional alternative makes it required. */
export function isOptional(input: unknown): boolean {
	const rule = normalize(input);
	return Array.isArray(rule) ? rule.every(r => r.optional === true) : rule.optional === true || "default" in rule;
}

/** One rule as a JSON Schema (its optionality is its parent's `required`). */
export function ruleToSchema(input: unknown): JsonSchema {
	const rule = normalize(input);
	if (Array.isArray(rule)) return { anyOf: rule.map(alternative => ruleToSchema(alternative)) };
	let schema = byType(rule);
	if (rule.nullable === true) schema = nullable(schema);
	if ("default" in rule && isJson(rule.default)) schema.default = rule.default;
	if (rule.custom !== undefined || rule.plainText === true) schema.description = CHECKED_BY_SERVER;
	return schema;
}

/** The top-level `params` of an action: an object schema (`$$strict` and other `$$` keys are options). */
export function paramsToSchema(params: Record<string, unknown>): JsonSchema {
	const props = Object.fromEntries(Object.entries(params).filter(([key]) => !key.startsWith("$$")));
	const strict = params.$$strict;
	return objectSchema({ type: "object", props, strict });
}

function byType(rule: Rule): JsonSchema {
	switch (rule.type) {
		case "string":
			return stringSchema(rule, {});
		case "email":
			return stringSchema(rule, { format: "email" });
		case "url":
			return stringSchema(rule, { format: "uri" });
		case "uuid":
			return stringSchema(rule, { format: "uuid" });
		case "date":
			return { type: "string", format: "date-time" };
		case "number":
			return numberSchema(rule);
		case "boolean":
			return { type: "boolean" };
		case "array":
			return arraySchema(rule);
		case "object":
			return objectSchema(rule);
		case "record":
			return {
				type: "object",
				propertyNames: ruleToSchema(rule.key ?? "string"),
				additionalProperties: ruleToSchema(rule.value ?? "any"),
			};
		case "enum":
			return { enum: Array.isArray(rule.values) ? rule.values : [] };
		case "equal":
			return { const: rule.value };
		case "any":
			return {};
		default:
			// A rule type this converter does not know: documented as anything, with its name.
			return { description: `fastest-validator rule "${String(rule.type)}". ${CHECKED_BY_SERVER}` };
	}
}

function stringSchema(rule: Rule, extra: JsonSchema): JsonSchema {
	const schema: JsonSchema = { type: "string", ...extra };
	const length = num(rule.length);
	const min = length ?? num(rule.min) ?? (rule.empty === false ? 1 : undefined);
	const max = length ?? num(rule.max);
	if (min !== undefined) schema.minLength = min;
	if (max !== undefined) schema.maxLength = max;
	if (rule.pattern instanceof RegExp) schema.pattern = rule.pattern.source;
	else if (typeof rule.pattern === "string") schema.pattern = rule.pattern;
	if (Array.isArray(rule.enum)) schema.enum = rule.enum;
	return schema;
}

function numberSchema(rule: Rule): JsonSchema {
	const schema: JsonSchema = { type: rule.integer === true ? "integer" : "number" };
	const min = num(rule.min);
	const max = num(rule.max);
	if (min !== undefined) schema.minimum = min;
	if (max !== undefined) schema.maximum = max;
	if (rule.positive === true) schema.exclusiveMinimum = 0;
	if (rule.negative === true) schema.exclusiveMaximum = 0;
	if (num(rule.equal) !== undefined) schema.const = rule.equal;
	return schema;
}

function arraySchema(rule: Rule): JsonSchema {
	const schema: JsonSchema = { type: "array" };
	if (rule.items !== undefined) schema.items = ruleToSchema(rule.items);
	if (Array.isArray(rule.enum)) schema.items = { ...(schema.items as JsonSchema | undefined), enum: rule.enum };
	const length = num(rule.length);
	const min = length ?? num(rule.min) ?? (rule.empty === false ? 1 : undefined);
	const max = length ?? num(rule.max);
	if (min !== undefined) schema.minItems = min;
	if (max !== undefined) schema.maxItems = max;
	if (rule.unique === true) schema.uniqueItems = true;
	return schema;
}

/** `strict: true` refuses unknown fields and `"remove"` drops them: either way a client sends none. */
function objectSchema(rule: Rule): JsonSchema {
	const schema: JsonSchema = { type: "object" };
	const props = (rule.props ?? rule.properties) as Record<string, unknown> | undefined;
	if (props && typeof props === "object") {
		schema.properties = Object.fromEntries(Object.entries(props).map(([key, value]) => [key, ruleToSchema(value)]));
		const required = Object.entries(props)
			.filter(([, value]) => !isOptional(value))
			.map(([key]) => key);
		if (required.length) schema.required = required;
	}
	if (rule.strict === true || rule.strict === "remove") schema.additionalProperties = false;
	const minProps = num(rule.minProps);
	const maxProps = num(rule.maxProps);
	if (minProps !== undefined) schema.minProperties = minProps;
	if (maxProps !== undefined) schema.maxProperties = maxProps;
	return schema;
}

/** OpenAPI 3.1 has no `nullable`: a type list when there is one type, else an alternative. */
function nullable(schema: JsonSchema): JsonSchema {
	if (typeof schema.type === "string") {
		const enumerated = Array.isArray(schema.enum) ? { enum: [...(schema.enum as unknown[]), null] } : {};
		return { ...schema, type: [schema.type, "null"], ...enumerated };
	}
	return { anyOf: [schema, { type: "null" }] };
}

function num(value: unknown): number | undefined {
	return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function isJson(value: unknown): boolean {
	return value === null || ["string", "number", "boolean"].includes(typeof value) || typeof value === "object";
}
