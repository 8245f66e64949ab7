import type { ServerResponse } from "node:http";
import type { Context, Service } from "moleculer";
import ApiGateway, { type GatewaySettings, type GatewayThis, type IncomingRequest } from "moleculer-web";
import { ACTORS, loadAuthConfig, loadConfig, type AppConfig, type AuthConfig } from "../../lib/config";
import { call, defineService } from "../../lib/actor";
import { checkAccess, verifyToken, type AuthUser } from "../../lib/auth";
import { UnauthorizedError, toHttpError } from "../../lib/errors";
import { API_ALIASES } from "./routes";
import { clientAddress, dropProtoKeys, idempotencyKeyFrom, requestIdFrom } from "./request";

/** What the gateway puts in `ctx.meta` for the actions it calls (the user comes from `authenticate`). */
interface GatewayMeta {
	user?: AuthUser;
	clientIp?: string;
	idempotencyKey?: string;
}
type Readiness = { status: "ready" | "not ready"; missing: string[]; cache: "ok" | "unreachable" };

interface ApiMethods {
	errorHandler(req: IncomingRequest, res: ServerResponse, err: Error): void;
	authenticate(ctx: Context, route: unknown, req: IncomingRequest): Promise<AuthUser | null>;
	authorize(ctx: Context<unknown, GatewayMeta>, route: unknown, req: IncomingRequest): void;
	clientIp(req: IncomingRequest): string;
	cacheReachable(): Promise<boolean>;
}
interface ApiState {
	config: AppConfig;
	auth: AuthConfig;
}
type ApiThis = Service & GatewayThis & ApiMethods & ApiState;

/** The route shape (port, CORS) is fixed when the module loads; secrets are read per broker in `created()`. */
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
	routes: [
		{
			path: "/health",
			mappingPolicy: "restrict",
			aliases: { "GET live": "api.live", "GET ready": "api.ready" },
			bodyParsers: { json: false, urlencoded: false },
			logging: false,
		},
		{
			path: "/api",
			mappingPolicy: "restrict",
			autoAliases: false,
			aliases: API_ALIASES,
			authentication: true,
			authorization: true,
			bodyParsers: { json: { limit: "1mb", strict: true, reviver: dropProtoKeys }, urlencoded: false },
			cors: config.corsOrigins.length
				? {
						origin: (origin: string) => config.corsOrigins.includes(origin),
						methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
						exposedHeaders: ["X-Request-ID", "Retry-After"],
						maxAge: 600,
					}
				: undefined,
			onBeforeCall(ctx: Context<unknown, GatewayMeta>, _route, req) {
				ctx.meta.clientIp = this.clientIp(req);
				const key = idempotencyKeyFrom(req.headers["idempotency-key"]);
				if (key) ctx.meta.idempotencyKey = key;
			},
		},
	],
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
		for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
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
	},

	methods: {
		/** moleculer-web's default logs every 5xx with its stack; onError above logs unexpected ones once. */
		errorHandler(this: ApiThis, req: IncomingRequest, res: ServerResponse, err: Error) {
			this.sendError(req, res, err);
		},

		async authenticate(this: ApiThis, ctx: Context, _route: unknown, req: IncomingRequest): Promise<AuthUser | null> {
			const header = req.headers.authorization;
			if (!header) return null;
			const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
			if (!match) throw new UnauthorizedError("Malformed Authorization header", "INVALID_TOKEN");
			const claims = verifyToken(match[1], this.auth.jwtSecret);
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

	created(this: ApiThis) {
		// JWT_SECRET(_FILE) and TRUST_PROXY as they are when this broker starts, like the other services.
		this.config = loadConfig();
		this.auth = loadAuthConfig();
	},
});

export default ApiService;
