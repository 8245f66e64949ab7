import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { ServiceBroker } from "moleculer";
import type { IncomingRequest } from "moleculer-web";
import { LoginThrottle } from "../../lib/auth";
import type { RateLimitConfig } from "../../lib/config";
import { TooManyRequestsError } from "../../lib/errors";
import type { Middleware } from "./body-guard";

/** What one request used of its limits: the tighter of the address's and the token's. */
export interface RateLimitState {
	limit: number;
	remaining: number;
	resetSeconds: number;
}

/** The state reported when several limits apply: the one with the fewest requests left (then the later reset). */
export function tightest(states: RateLimitState[]): RateLimitState {
	return states.reduce((a, b) =>
		b.remaining < a.remaining || (b.remaining === a.remaining && b.resetSeconds > a.resetSeconds) ? b : a,
	);
}

/**
 * The gateway's general rate limits (README "Security"): requests per client address and per bearer token in a fixed
 * window, counted by the same store as the login throttle (Redis, shared by every gateway, when the cacher is Redis;
 * this process's memory otherwise). The address is the one `clientIp` trusts (TRUST_PROXY); a token is counted by
 * its hash, whether or not it turns out valid, so made-up tokens still count against their address.
 */
export class ApiRateLimiter {
	private readonly perAddress: LoginThrottle;
	private readonly perToken: LoginThrottle;

	constructor(
		broker: ServiceBroker,
		private readonly config: RateLimitConfig,
	) {
		this.perAddress = new LoginThrottle(broker, config.perAddress, config.windowMs, "rate-address");
		this.perToken = new LoginThrottle(broker, config.perToken, config.windowMs, "rate-token");
	}

	async check(address: string, token: string | null): Promise<RateLimitState> {
		const state = (limit: number, { count, retryAfterMs }: { count: number; retryAfterMs: number }) => ({
			limit,
			remaining: Math.max(0, limit - count),
			resetSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
			over: count > limit,
		});
		const states = [state(this.config.perAddress, await this.perAddress.count(address))];
		if (token) {
			const key = createHash("sha256").update(token).digest("hex").slice(0, 32);
			states.push(state(this.config.perToken, await this.perToken.count(key)));
		}
		const over = states.filter(s => s.over);
		const { limit, remaining, resetSeconds } = tightest(over.length ? over : states);
		if (over.length)
			throw Object.assign(new TooManyRequestsError("Too many requests, try again later", resetSeconds), {
				rateLimit: { limit, remaining, resetSeconds },
			});
		return { limit, remaining, resetSeconds };
	}
}

function setHeaders(res: ServerResponse, s: RateLimitState): void {
	res.setHeader("RateLimit-Limit", String(s.limit));
	res.setHeader("RateLimit-Remaining", String(s.remaining));
	res.setHeader("RateLimit-Reset", String(s.resetSeconds));
}

/** What the middleware needs of the gateway: its limiter (absent when RATE_LIMIT is off) and the client's address. */
export interface RateLimitHost {
	rateLimiter?: ApiRateLimiter;
	clientIp(req: IncomingRequest): string;
}

/**
 * The first step of every API route (never of the health probes): counts the request and sets the RateLimit-*
 * headers; past a limit, answers 429 TOO_MANY_REQUESTS with Retry-After before any body is read.
 */
export function rateLimit(): Middleware {
	return (req, res, next) => {
		const host = (req as IncomingRequest).$service as unknown as RateLimitHost;
		const limiter = host.rateLimiter;
		if (!limiter || req.method === "OPTIONS") return next();
		// Counted as sent: a malformed or invalid token is refused later (401), and still counts here.
		const auth = req.headers.authorization;
		const token = typeof auth === "string" && /^Bearer \S/i.test(auth) ? auth.slice(7).trim() : null;
		limiter.check(host.clientIp(req as IncomingRequest), token).then(
			state => {
				setHeaders(res, state);
				next();
			},
			(err: Error & { rateLimit?: RateLimitState }) => {
				if (err.rateLimit) setHeaders(res, err.rateLimit);
				next(err);
			},
		);
	};
}
