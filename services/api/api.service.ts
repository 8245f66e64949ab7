import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Context, Service, ServiceSchema } from "moleculer";
import ApiGateway, { type GatewaySettings, type GatewayThis, type IncomingRequest } from "moleculer-web";
import {
	ACTORS,
	createHttpServer,
	httpServerLimits,
	loadAuthConfig,
	loadConfig,
	loadRateLimitConfig,
} from "../../lib/config";
import type { AppConfig, AuthConfig } from "../../lib/config";
import { call, defineService, params } from "../../lib/actor";
import { checkAccess, verifyToken, type AuthUser, type TokenClaims } from "../../lib/auth";
import { UnauthorizedError, toHttpError } from "../../lib/errors";
import { gatewayRoutes, type GatewayMeta } from "./gateway-routes";
import { docsAsset, docsPage, openApiDocument, type FileMeta } from "./openapi/docs";
import { ApiRateLimiter } from "./rate-limit";
import { staticFiles } from "./static-files";
import { bearerToken, clientAddress, requestIdFrom } from "./request";

type Readiness = { status: "ready" | "not ready"; missing: string[]; cache: "ok" | "unreachable" };

interface ApiMethods {
	errorHandler(req: IncomingRequest, res: ServerResponse, err: Error): void;
	authenticate(ctx: Context, route: unknown, req: IncomingRequest): Promise<AuthUser | null>;
	authorize(ctx: Context<unknown, GatewayMeta>, route: unknown, req: IncomingRequest): void;
	/** The claims of the request's bearer token; null without one unless `required` (then 401). */
	verifyBearer(header: string | undefined, required: boolean): TokenClaims | null;
	clientIp(req: IncomingRequest): string;
	cacheReachable(): Promise<boolean>;
	/** moleculer-web's request handler, which our own server calls. */
	httpHandler(req: IncomingMessage, res: ServerResponse): Promise<void>;
}
interface ApiState {
	config: AppConfig;
	auth: AuthConfig;
	server: Server;
	isHTTPS: boolean;
	/** RATE_LIMIT on: the general limits every API route counts (not the probes). */
	rateLimiter?: ApiRateLimiter;
	/** Answers the web apps' files and client routes; false for everything else. */
	serveWeb: (req: IncomingMessage, res: ServerResponse) => boolean;
}
type ApiThis = Service & GatewayThis & ApiMethods & ApiState;

/** The port is fixed when the module loads; routes (CORS) and secrets are read per broker (`merged`, `created`). */
const config = loadConfig();

function hasPing(client: unknown): client is { ping(): Promise<unknown> } {
	return typeof client === "object" && client !== null && "ping" in client && typeof client.ping === "function";
}

/** moleculer-web calls each hook below with the service as `this`. */
const settings: GatewaySettings<ApiThis> = {
	port: config.port,
	ip: process.env.HOST ?? "0.0.0.0",
	logRequest: "debug",
	logResponse: "debug",
	// moleculer-web logs every request's params at debug by default: login and register bodies carry passwords.
	logRequestParams: null,
	rootCallOptions(options, req) {
		options.requestID = requestIdFrom(req.headers["x-request-id"]);
	},
	// Built per broker in `merged()`, from CORS_ORIGINS as it is then.
	routes: [],
	onError(req, res, err: Error & { code?: number; type?: string }) {
		const { status, body, headers } = toHttpError(err);
		if (status === 500)
			this.logger.error(`${req.method} ${req.url} failed`, {
				requestID: req.$ctx?.requestID,
				error: err.message,
				type: err.type,
				stack: err.stack,
			});
		const requestID = req.$ctx?.requestID;
		if (requestID) res.setHeader("X-Request-ID", requestID);
		// Headers an action set before it failed (a replayed failure's `Idempotent-Replayed`) belong to its answer too.
		const actionHeaders = (req.$ctx?.meta as { $responseHeaders?: Record<string, string> } | undefined)
			?.$responseHeaders;
		for (const [k, v] of Object.entries({ ...actionHeaders, ...headers })) res.setHeader(k, v);
		res.setHeader("Content-Type", "application/json; charset=utf-8");
		res.writeHead(status);
		res.end(JSON.stringify(body));
	},
};

const ApiService = defineService<ApiThis>({
	name: "api",
	mixins: [ApiGateway],

	settings,

	actions: {
		live: {
			params: {},
			handler() {
				return { status: "ok" };
			},
		},

		/** Ready once the broker runs and every actor the API routes to has an available node. */
		ready: {
			params: {},
			async handler(this: ApiThis, ctx: Context<unknown, { $statusCode?: number }>): Promise<Readiness> {
				const missing = ACTORS.filter(name => !this.broker.registry.hasService(name));
				const cacheOk = await this.cacheReachable();
				const ready = this.broker.started && missing.length === 0 && cacheOk;
				if (!ready) ctx.meta.$statusCode = 503;
				return { status: ready ? "ready" : "not ready", missing, cache: cacheOk ? "ok" : "unreachable" };
			},
		},

		/** `GET /api/openapi.json`: the REST API's OpenAPI 3.1 document (services/api/openapi/). */
		openapi: {
			params: {},
			handler(this: ApiThis) {
				return openApiDocument(this.broker);
			},
		},

		/** `GET /api/docs`: the API reference page, and its files. */
		docs: {
			params: {},
			handler(ctx: Context<unknown, FileMeta>) {
				return docsPage(ctx.meta);
			},
		},
		docsAsset: {
			params: params({ file: { type: "string", min: 1, max: 64 } }),
			handler(ctx: Context<{ file: string }, FileMeta>) {
				return docsAsset(ctx.params.file, ctx.meta);
			},
		},
	},

	methods: {
		/** moleculer-web's default logs every 5xx with its stack; onError above logs unexpected ones once. */
		errorHandler(this: ApiThis, req: IncomingRequest, res: ServerResponse, err: Error) {
			this.sendError(req, res, err);
		},

		/**
		 * Replaces moleculer-web's server: plain HTTP (TLS ends at the ingress) with the configured header, request and
		 * keep-alive timeouts and connection cap, and `X-Content-Type-Options: nosniff` on every answer.
		 */
		createServer(this: ApiThis) {
			this.server = createHttpServer(httpServerLimits(), (req, res) => {
				res.setHeader("X-Content-Type-Options", "nosniff");
				if (!this.serveWeb(req, res)) void this.httpHandler(req, res);
			});
			this.isHTTPS = false;
		},

		verifyBearer(this: ApiThis, header: string | undefined, required: boolean): TokenClaims | null {
			const token = bearerToken(header);
			if (!token) {
				if (required) throw new UnauthorizedError();
				return null;
			}
			return verifyToken(token, this.auth.jwtSecret, this.auth.tokenTtlSeconds);
		},

		async authenticate(this: ApiThis, ctx: Context, _route: unknown, req: IncomingRequest): Promise<AuthUser | null> {
			const claims = this.verifyBearer(req.headers.authorization, false);
			if (!claims) return null;
			// The token must still name an existing user (a removed user's tokens stop working).
			const user = await call(ctx, "users.principal", { id: claims.sub });
			if (!user) throw new UnauthorizedError("Invalid token", "INVALID_TOKEN");
			return user;
		},

		authorize(this: ApiThis, ctx: Context<unknown, GatewayMeta>, _route: unknown, req: IncomingRequest) {
			checkAccess(ctx.meta.user, req.$action?.auth);
		},

		clientIp(this: ApiThis, req: IncomingRequest): string {
			return clientAddress(req.headers["x-forwarded-for"], req.socket.remoteAddress, this.config.trustProxy);
		},

		async cacheReachable(this: ApiThis): Promise<boolean> {
			const cacher = this.broker.cacher;
			const client = cacher && "client" in cacher ? cacher.client : undefined;
			if (!hasPing(client)) return true;
			return client.ping().then(
				() => true,
				() => false,
			);
		},
	},

	merged(schema: ServiceSchema<GatewaySettings<ApiThis>>) {
		schema.settings!.routes = gatewayRoutes<ApiThis>(loadConfig().corsOrigins);
	},

	created(this: ApiThis) {
		// JWT_SECRET(_FILE) and TRUST_PROXY as they are when this broker starts, like the other services.
		this.config = loadConfig();
		this.auth = loadAuthConfig();
		this.serveWeb = staticFiles(this.config.webDir);
		const limits = loadRateLimitConfig();
		this.rateLimiter = limits.enabled ? new ApiRateLimiter(this.broker, limits) : undefined;
	},
});

export default ApiService;
