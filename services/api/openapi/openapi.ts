/**
 * The OpenAPI 3.1 document of the REST API, built from the routes (routes.ts) and what the registry knows of the
 * actions behind them: their `params` (fastest-validator, converted by json-schema.ts) and `auth`. Answers come from
 * responses.ts. Pure: a route added to API_ROUTES appears here with nothing else to do but declare its answer.
 */
import type { ApiRoute } from "../routes";
import { isOptional, paramsToSchema, ruleToSchema, type JsonSchema } from "./json-schema";
import { RESPONSES, type ActionResponse } from "./responses";
import { ref, SCHEMAS } from "./schemas";

/** What the document reads of an action, wherever it runs. */
export interface ActionInfo {
	params?: Record<string, unknown>;
	auth?: unknown;
}
export type ActionLookup = (name: string) => ActionInfo | undefined;

export interface Operation {
	method: string;
	/** The OpenAPI path, `/api/products/{id}`. */
	path: string;
	action: string;
}

const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);
const STATUS_TEXT: Record<number, string> = {
	400: "Bad request",
	401: "Not signed in, or a bad or expired token",
	402: "Payment declined",
	403: "Not allowed",
	404: "Not found",
	409: "Conflict",
	413: "Body too large",
	415: "Unsupported body encoding",
	422: "Invalid input",
	429: "Too many requests (Retry-After)",
	500: "Unexpected failure",
	503: "Unavailable, try again (Retry-After)",
};

/** `"GET /products/:id"` of API_ROUTES as the document's operation. */
export function operationOf(alias: string, action: string): Operation {
	const [method, path] = alias.split(" ");
	return { method, path: `/api${path.replace(/:(\w+)/g, "{$1}")}`, action };
}

/** Every operation of the routes, in their order. */
export function operationsOf(routes: Record<string, ApiRoute>): (Operation & { route: ApiRoute })[] {
	return Object.values(routes).flatMap(route =>
		Object.entries(route.aliases).map(([alias, action]) => ({ ...operationOf(alias, action), route })),
	);
}

/** Actions behind a route that responses.ts does not declare. */
export function undeclaredActions(routes: Record<string, ApiRoute>): string[] {
	return operationsOf(routes)
		.map(op => op.action)
		.filter(action => !RESPONSES[action]);
}

export function buildOpenApi(routes: Record<string, ApiRoute>, actions: ActionLookup, version: string): JsonSchema {
	const paths: Record<string, Record<string, JsonSchema>> = {};
	for (const op of operationsOf(routes)) {
		paths[op.path] ??= {};
		paths[op.path][op.method.toLowerCase()] = operation(op, op.route, actions(op.action));
	}
	const tags = [...new Set(operationsOf(routes).map(op => op.action.split(".")[0]))].map(name => ({ name }));
	return {
		openapi: "3.1.0",
		info: {
			title: "Emporium API",
			version,
			description:
				"The shop's REST API. Money is in integer minor units (cents). Every error answers one JSON shape " +
				"(`Error`) whose `type` says what happened; each response lists the types it can carry.",
		},
		tags,
		paths,
		components: {
			schemas: SCHEMAS,
			securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
		},
	};
}

function operation(op: Operation, route: ApiRoute, info: ActionInfo | undefined): JsonSchema {
	const declared: ActionResponse | undefined = RESPONSES[op.action];
	const params = info?.params ?? {};
	const pathNames = [...op.path.matchAll(/\{(\w+)\}/g)].map(match => match[1]);
	const fields = Object.entries(params).filter(([key]) => !key.startsWith("$$") && !pathNames.includes(key));
	const hasBody = BODY_METHODS.has(op.method) && route.bodyLimit > 0 && fields.length > 0;
	const userRequired = route.needsUser || info?.auth === "user" || info?.auth === "admin";
	const notes = [
		info ? "" : "The actor behind this route was not running when this document was made: parameters unknown.",
		info?.auth === "admin" ? "Admin only." : "",
		!userRequired && declared?.optionalUser ? "A guest may call it; with a token it acts for that user." : "",
	].filter(Boolean);

	const parameters: JsonSchema[] = pathNames.map(name => ({
		name,
		in: "path",
		required: true,
		schema: params[name] === undefined ? { type: "string" } : ruleToSchema(params[name]),
	}));
	if (!hasBody)
		for (const [name, rule] of fields)
			parameters.push({ name, in: "query", required: !isOptional(rule), schema: ruleToSchema(rule) });
	if (declared?.idempotencyKey)
		parameters.push({
			name: "Idempotency-Key",
			in: "header",
			required: false,
			description: "Makes a retried request answer like the first one instead of acting twice.",
			schema: { type: "string", minLength: 1, maxLength: 255 },
		});

	const result: JsonSchema = {
		operationId: op.action.replace(".", "_"),
		summary: declared?.summary ?? op.action,
		tags: [op.action.split(".")[0]],
		...(notes.length ? { description: notes.join(" ") } : {}),
		...(parameters.length ? { parameters } : {}),
		responses: { ...success(declared), ...errorResponses(op, route, info, declared, hasBody, userRequired) },
	};
	if (hasBody) {
		const schema = paramsToSchema({ ...Object.fromEntries(fields), $$strict: params.$$strict });
		result.requestBody = {
			required: Array.isArray(schema.required) && schema.required.length > 0,
			content: { "application/json": { schema } },
		};
	}
	if (userRequired) result.security = [{ bearerAuth: [] }];
	else if (declared?.optionalUser) result.security = [{}, { bearerAuth: [] }];
	return result;
}

function success(declared: ActionResponse | undefined): Record<string, JsonSchema> {
	if (!declared) return { 200: { description: "Not declared yet (services/api/openapi/responses.ts)." } };
	const content = { "application/json": { schema: declared.schema } };
	const headers: Record<string, JsonSchema> = {};
	for (const [name, description] of Object.entries(declared.headers ?? {}))
		headers[name] = { description, schema: { type: "string" } };
	const common = { content, ...(declared.headers ? { headers } : {}) };
	const answers: Record<string, JsonSchema> = { [declared.status]: { description: declared.summary, ...common } };
	for (const [status, description] of Object.entries(declared.also ?? {})) answers[status] = { description, ...common };
	return answers;
}

/** The error types an operation can answer with, by status: those of its kind of route, and its own. */
function errorResponses(
	op: Operation,
	route: ApiRoute,
	info: ActionInfo | undefined,
	declared: ActionResponse | undefined,
	hasBody: boolean,
	userRequired: boolean,
): Record<string, JsonSchema> {
	const types = new Map<number, Set<string>>();
	const add = (status: number, ...names: string[]) => {
		const set = types.get(status) ?? new Set<string>();
		for (const name of names) set.add(name);
		types.set(status, set);
	};
	if (op.path.includes("{")) add(404, "NOT_FOUND");
	if (op.path.includes("{")) add(400, "UNABLE_DECODE_PARAM");
	if (hasBody) {
		add(400, "INVALID_JSON", "INVALID_BODY");
		add(413, "PAYLOAD_TOO_LARGE");
		add(415, "UNSUPPORTED_ENCODING", "UNSUPPORTED_CHARSET");
	}
	if (Object.keys(info?.params ?? {}).some(key => !key.startsWith("$$"))) add(422, "VALIDATION_ERROR");
	if (userRequired) add(401, "UNAUTHORIZED", "INVALID_TOKEN", "TOKEN_EXPIRED");
	else if (declared?.optionalUser) add(401, "INVALID_TOKEN", "TOKEN_EXPIRED");
	if (info?.auth === "admin") add(403, "FORBIDDEN");
	if (route.bodyLimit > 0 && !hasBody && BODY_METHODS.has(op.method)) add(413, "PAYLOAD_TOO_LARGE");
	add(429, "TOO_MANY_REQUESTS");
	add(500, "INTERNAL_ERROR");
	add(503, "SERVICE_UNAVAILABLE", "STORAGE_UNAVAILABLE");
	for (const [status, names] of Object.entries(declared?.errors ?? {})) add(Number(status), ...(names ?? []));

	return Object.fromEntries(
		[...types.entries()]
			.sort(([a], [b]) => a - b)
			.map(([status, names]) => [
				String(status),
				{
					description: `${STATUS_TEXT[status] ?? "Error"}: ${[...names].join(", ")}`,
					content: {
						"application/json": {
							schema: { allOf: [ref("Error"), { properties: { type: { enum: [...names] } } }] },
						},
					},
				},
			]),
	);
}
