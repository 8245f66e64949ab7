import type { IncomingMessage, ServerResponse } from "node:http";
import type { Context, ServiceSchema } from "moleculer";
import ApiGateway from "moleculer-web";
import { loadAuthConfig, loadConfig } from "../../lib/config";
import { checkAccess, type AuthUser } from "../../lib/auth";
import { UnauthorizedError } from "../../lib/errors";
import { toHttpError } from "../../lib/errors";
import { verifyToken } from "../../lib/auth";
import { ACTORS } from "../../lib/config";

type Req = IncomingMessage & {
	$action?: { auth?: "user" | "admin" };
	$ctx?: Context;
	socket: { remoteAddress?: string };
};

/** Client-supplied request ids are kept only when they are safe to log and to derive trace ids from. */
const REQUEST_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** The REST contract (README "API"): only these routes exist; internal actions are unreachable over HTTP. */
export const API_ALIASES = {
	"POST /auth/register": "users.register",
	"POST /auth/login": "users.login",
	"GET /users/me": "users.me",
	"PATCH /users/me": "users.updateMe",
	"GET /users": "users.list",
	"GET /products": "products.list",
	"GET /products/:id": "products.get",
	"POST /products": "products.create",
	"PATCH /products/:id": "products.update",
	"DELETE /products/:id": "products.remove",
	"GET /inventory/:productId": "inventory.get",
	"PUT /inventory/:productId": "inventory.setStock",
	"POST /inventory/:productId/restock": "inventory.restock",
	"POST /orders": "orders.create",
	"GET /orders": "orders.list",
	"GET /orders/:id": "orders.get",
	"POST /orders/:id/cancel": "orders.cancel",
	"PATCH /orders/:id/status": "orders.updateStatus",
	"GET /payments": "payments.list",
	"GET /notifications": "notifications.list",
};

/**
 * JSON.parse keeps a `__proto__` key as an own property; moleculer-web then merges the body into the params with
 * Object.assign, whose `__proto__` setter would make the client's object the params' prototype (inherited fields
 * pass validation and survive `$$strict: "remove"`). Dropping the key while parsing closes that.
 */
function dropProtoKeys(key: string, value: unknown): unknown {
	return key === "__proto__" ? undefined : value;
}

/** The route shape (port, CORS) is fixed when the module loads; secrets are read per broker in `created()`. */
const config = loadConfig();

const ApiService: ServiceSchema = {
	name: "api",
	mixins: [ApiGateway],

	settings: {
		port: config.port,
		ip: process.env.HOST ?? "0.0.0.0",
		logRequest: "debug",
		logResponse: "debug",
		// moleculer-web logs every request's params at debug by default: login and register bodies carry passwords.
		logRequestParams: null,
		rootCallOptions(options: { requestID?: string }, req: IncomingMessage) {
			const supplied = req.headers["x-request-id"];
			options.requestID = typeof supplied === "string" && REQUEST_ID.test(supplied) ? supplied : undefined;
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
				onBeforeCall(ctx: Context<unknown, Record<string, unknown>>, _route: unknown, req: Req) {
					ctx.meta.clientIp = this.clientIp(req);
					const key = req.headers["idempotency-key"];
					if (typeof key === "string" && key.length > 0 && key.length <= 255) ctx.meta.idempotencyKey = key;
				},
			},
		],
		onError(this: any, req: Req, res: ServerResponse, err: Error & { code?: number }) {
			const { status, body, headers } = toHttpError(err);
			if (status === 500)
				this.logger.error(`${req.method} ${req.url} failed`, {
					requestID: req.$ctx?.requestID,
					error: err.message,
					type: (err as any).type,
					stack: err.stack,
				});
			const requestID = req.$ctx?.requestID;
			if (requestID) res.setHeader("X-Request-ID", requestID);
			for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
			res.setHeader("Content-Type", "application/json; charset=utf-8");
			res.writeHead(status);
			res.end(JSON.stringify(body));
		},
	},

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
			async handler(ctx: Context<unknown, { $statusCode?: number }>) {
				const missing = ACTORS.filter(name => !(this.broker.registry as any).hasService(name));
				const cacheOk = await this.cacheReachable();
				const ready = this.broker.started && missing.length === 0 && cacheOk;
				if (!ready) ctx.meta.$statusCode = 503;
				return { status: ready ? "ready" : "not ready", missing, cache: cacheOk ? "ok" : "unreachable" };
			},
		},
	},

	methods: {
		/** moleculer-web's default logs every 5xx with its stack; onError above logs unexpected ones once. */
		errorHandler(req: Req, res: ServerResponse, err: Error) {
			this.sendError(req, res, err);
		},

		async authenticate(ctx: Context, _route: unknown, req: Req): Promise<AuthUser | null> {
			const header = req.headers.authorization;
			if (!header) return null;
			const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
			if (!match) throw new UnauthorizedError("Malformed Authorization header", "INVALID_TOKEN");
			const claims = verifyToken(match[1], this.auth.jwtSecret);
			// The token must still name an existing user (a removed user's tokens stop working).
			const user = await ctx.call<AuthUser | null, { id: string }>("users.principal", { id: claims.sub });
			if (!user) throw new UnauthorizedError("Invalid token", "INVALID_TOKEN");
			return user;
		},

		authorize(ctx: Context<unknown, { user?: AuthUser }>, _route: unknown, req: Req) {
			checkAccess(ctx.meta.user, req.$action?.auth);
		},

		clientIp(req: Req): string {
			const forwarded = req.headers["x-forwarded-for"];
			// X-Forwarded-For is client-controlled unless a trusted proxy in front of us sets it.
			// Our proxy appends the address it saw, so only the last entry is not the client's own claim.
			if (this.config.trustProxy && typeof forwarded === "string") return forwarded.split(",").pop()!.trim();
			return req.socket.remoteAddress ?? "";
		},

		async cacheReachable(): Promise<boolean> {
			const client = (this.broker.cacher as any)?.client;
			if (!client?.ping) return true;
			return client.ping().then(
				() => true,
				() => false,
			);
		},
	},

	created() {
		// JWT_SECRET(_FILE) and TRUST_PROXY as they are when this broker starts, like the other services.
		this.config = loadConfig();
		this.auth = loadAuthConfig();
	},
};

export default ApiService;
