import type { IncomingMessage } from "node:http";
import type { Context } from "moleculer";
import ApiGateway, { type GatewayRoute, type IncomingRequest } from "moleculer-web";
import type { AuthUser } from "../../lib/auth";
import { NotFoundError } from "../../lib/errors";
import { bodyGuard, type Middleware } from "./body-guard";
import { rateLimit, type RateLimitHost } from "./rate-limit";
import { convertQueryNumbers, dropProtoKeys, idempotencyKeyFrom } from "./request";
import { API_ROUTES, type ApiRoute } from "./routes";

/** What the gateway puts in `ctx.meta` for the actions it calls (the user comes from `authenticate`). */
export interface GatewayMeta {
	user?: AuthUser;
	clientIp?: string;
	idempotencyKey?: string;
}

/** What the route hooks need of the gateway service (their `this`, and `req.$service`). */
export interface RouteHost extends RateLimitHost {
	/** Throws a 401 unless the header carries a valid token (with `required`, also when there is none). */
	verifyBearer(header: string | undefined, required: boolean): unknown;
}

type JsonParserFactory = (options: { limit: number; strict: boolean; reviver: typeof dropProtoKeys }) => Middleware;
/** moleculer-web exports the body-parser module it runs on (`ApiGateway.bodyParser`) without typing it. */
const jsonParser = (ApiGateway as unknown as { bodyParser: { json: JsonParserFactory } }).bodyParser.json;

/** The token check the body guard runs before a body is read (no user lookup: `authenticate` does that next). */
function checkToken(req: IncomingMessage): void {
	((req as IncomingRequest).$service as unknown as RouteHost).verifyBearer(req.headers.authorization, true);
}

/** CORS for exactly the listed origins (moleculer-web's own check is a substring match); none without origins. */
function corsFor(origins: string[]) {
	if (origins.length === 0) return undefined;
	return {
		origin: (origin: string) => origins.includes(origin),
		methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
		exposedHeaders: ["X-Request-ID", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"],
		maxAge: 600,
	};
}

const HEALTH: ApiRoute = { bodyLimit: 0, needsUser: false, personal: false, aliases: {} };

/** The API's own description: the OpenAPI document and the reference page with its files (services/api/openapi). */
export const DOCS_ALIASES = {
	"GET /openapi.json": "api.openapi",
	"GET /docs": "api.docs",
	"GET /docs/:file": "api.docsAsset",
};

/**
 * The gateway's routes: the probes, then one route per group of API routes (routes.ts), each with its body limit.
 * moleculer-web parses bodies before anything else a route does; here no route has a body parser of its own, and
 * each one's first middleware (`bodyGuard`) decides whether and when its body is read.
 */
export function gatewayRoutes<This extends RouteHost>(corsOrigins: string[]): GatewayRoute<This>[] {
	const cors = corsFor(corsOrigins);
	const apiRoute = ([name, route]: [string, ApiRoute]): GatewayRoute<This> => {
		const parse = route.bodyLimit
			? jsonParser({ limit: route.bodyLimit, strict: true, reviver: dropProtoKeys })
			: undefined;
		return {
			// Routes on one path need names, or moleculer-web keeps only the last.
			name,
			path: "/api",
			mappingPolicy: "restrict",
			autoAliases: false,
			aliases: route.aliases,
			authentication: true,
			authorization: true,
			bodyParsers: false,
			use: [rateLimit(), bodyGuard({ route, parse, cors: cors !== undefined, checkToken })],
			cors,
			onBeforeCall(this: This, ctx: Context<unknown, GatewayMeta>, _route, req) {
				// The guard answers OPTIONS first; this keeps any other path to an action closed as well.
				if (req.method === "OPTIONS") throw new NotFoundError("Route");
				convertQueryNumbers(req.$params as Record<string, unknown>, req.query, req.$action?.params);
				ctx.meta.clientIp = this.clientIp(req);
				const key = idempotencyKeyFrom(req.headers["idempotency-key"]);
				if (key) ctx.meta.idempotencyKey = key;
			},
		};
	};
	return [
		{
			name: "health",
			path: "/health",
			mappingPolicy: "restrict",
			aliases: { "GET live": "api.live", "GET ready": "api.ready" },
			bodyParsers: false,
			use: [bodyGuard({ route: HEALTH, cors: false, checkToken })],
			logging: false,
		},
		...Object.entries(API_ROUTES).map(apiRoute),
		{
			name: "docs",
			path: "/api",
			mappingPolicy: "restrict",
			autoAliases: false,
			aliases: DOCS_ALIASES,
			bodyParsers: false,
			use: [rateLimit(), bodyGuard({ route: HEALTH, cors: cors !== undefined, checkToken })],
			cors,
		},
	];
}
