import type { IncomingMessage, ServerResponse } from "node:http";
import { NotFoundError, PayloadTooLargeError } from "../../lib/errors";
import type { ApiRoute } from "./routes";

export type Next = (err?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

export interface BodyGuardOptions {
	route: ApiRoute;
	/** body-parser's JSON middleware for this route's limit; absent when the route reads no body. */
	parse?: Middleware;
	/** CORS is configured: a preflight goes on to moleculer-web, which answers it without calling the action. */
	cors: boolean;
	/** Throws a 401 unless the request's Authorization header carries a valid token (signature and claims only). */
	checkToken: (req: IncomingMessage) => void;
}

/** Whether the request announces a body (Content-Length above 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
	const length = req.headers["content-length"];
	return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * The first step of every route, before moleculer-web reads anything: it decides whether the body is read at all.
 * - OPTIONS never reaches an action: a CORS preflight is answered by moleculer-web, anything else is 404.
 * - A route without a body limit never reads one; a route that needs a user reads one only after the bearer token
 *   checks out, so anonymous bodies cost nothing to parse.
 * - Answers carrying personal data are marked `Cache-Control: no-store` (also when they are errors).
 */
export function bodyGuard({ route, parse, cors, checkToken }: BodyGuardOptions): Middleware {
	return (req, res, next) => {
		if (route.personal) res.setHeader("Cache-Control", "no-store");
		if (req.method === "OPTIONS")
			return cors && req.headers["access-control-request-method"] ? next() : next(new NotFoundError("Route"));
		if (!parse || !hasBody(req)) return next();
		if (route.needsUser) {
			try {
				checkToken(req);
			} catch (err) {
				return next(err);
			}
		}
		// body-parser's own errors lose their limit on the way to the error handler: say it here.
		parse(req, res, err => next(isTooLarge(err) ? new PayloadTooLargeError(route.bodyLimit) : err));
	};
}

function isTooLarge(err: unknown): boolean {
	return typeof err === "object" && err !== null && "type" in err && err.type === "entity.too.large";
}
