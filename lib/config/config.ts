import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { adminPasswordProblem, DEV_ADMIN, DEV_JWT_SECRET, durationSeconds, jwtSecretProblem } from "./secrets";

/** The actors; `api` is the gateway. */
export const ACTORS = [
	"products",
	"orders",
	"inventory",
	"payments",
	"users",
	"notifications",
	"carts",
	"promotions",
	"shipping",
	"webhooks",
] as const;
export type Actor = (typeof ACTORS)[number];

type Env = NodeJS.ProcessEnv;

/** `NAME_FILE` (Docker/Kubernetes secrets convention) wins over `NAME`. */
export function readSecret(name: string, env: Env = process.env): string | undefined {
	const file = env[`${name}_FILE`];
	if (file) return readFileSync(file, "utf8").trim();
	const value = env[name];
	return value === "" ? undefined : value;
}

function int(env: Env, name: string, fallback: number): number {
	const raw = env[name];
	if (raw == null || raw === "") return fallback;
	const n = Number(raw);
	if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${raw}"`);
	return n;
}

/** A whole number of at least `min`; anything else is a configuration error. */
function count(env: Env, name: string, fallback: number, min = 1): number {
	const n = int(env, name, fallback);
	if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number >= ${min}, got "${env[name]}"`);
	return n;
}

function bool(env: Env, name: string): boolean | undefined {
	const raw = env[name];
	if (raw == null || raw === "") return undefined;
	return raw === "true" || raw === "1";
}

export interface AuthConfig {
	jwtSecret: string;
	/** How long a token is valid (`JWT_EXPIRES_IN`); a token claiming to live longer is refused. */
	tokenTtlSeconds: number;
}

/**
 * The token signing key. Only the nodes that sign or verify tokens (users, api) read it, so only they refuse to
 * start in production without a real one (see `jwtSecretProblem`); other actors need no secret at all.
 */
export function loadAuthConfig(env: Env = process.env): AuthConfig {
	const jwtSecret = readSecret("JWT_SECRET", env);
	const problem = env.NODE_ENV === "production" ? jwtSecretProblem(jwtSecret) : undefined;
	if (problem)
		throw new Error(
			`JWT_SECRET (or JWT_SECRET_FILE) ${problem}: production needs a random secret of at least 32 bytes with ` +
				"at least 10 different characters, e.g. `openssl rand -hex 32`",
		);
	const expiresIn = env.JWT_EXPIRES_IN || "1h";
	const tokenTtlSeconds = durationSeconds(expiresIn);
	if (!tokenTtlSeconds)
		throw new Error(`JWT_EXPIRES_IN must be a positive whole number of seconds or s/m/h/d, got "${expiresIn}"`);
	return { jwtSecret: jwtSecret ?? DEV_JWT_SECRET, tokenTtlSeconds };
}

export interface AdminAccount {
	email: string;
	password: string;
}

/**
 * The admin account the users actor creates at start. In development the default one; in production only when both
 * ADMIN_EMAIL and ADMIN_PASSWORD(_FILE) are set, and the password must pass `adminPasswordProblem`. Only the users
 * actor reads it, so only users nodes refuse to start with a weak one.
 */
export function loadAdminConfig(env: Env = process.env): AdminAccount | null {
	const email = env.ADMIN_EMAIL;
	const password = readSecret("ADMIN_PASSWORD", env);
	if (env.NODE_ENV !== "production")
		return { email: email ?? DEV_ADMIN.email, password: password ?? DEV_ADMIN.password };
	if (!email || !password) return null;
	const problem = adminPasswordProblem(password);
	if (problem)
		throw new Error(
			`ADMIN_PASSWORD (or ADMIN_PASSWORD_FILE) ${problem}: production needs at least 12 characters, ` +
				"not a placeholder",
		);
	return { email, password };
}

/** Node's HTTP server limits, for the gateway and the metrics port. */
export interface HttpServerLimits {
	/** A request's headers must arrive within this time. */
	headersTimeoutMs: number;
	/** The whole request, body included, must arrive within this time. */
	requestTimeoutMs: number;
	/** An idle keep-alive connection is closed after this time. */
	keepAliveTimeoutMs: number;
	/** Connections beyond this many are closed as soon as they are accepted. */
	maxConnections: number;
}

export function httpServerLimits(env: Env = process.env): HttpServerLimits {
	const limits = {
		headersTimeoutMs: count(env, "HTTP_HEADERS_TIMEOUT_MS", 10_000),
		requestTimeoutMs: count(env, "HTTP_REQUEST_TIMEOUT_MS", 30_000),
		keepAliveTimeoutMs: count(env, "HTTP_KEEP_ALIVE_TIMEOUT_MS", 5_000),
		maxConnections: count(env, "HTTP_MAX_CONNECTIONS", 1000),
	};
	if (limits.requestTimeoutMs < limits.headersTimeoutMs)
		throw new Error("HTTP_REQUEST_TIMEOUT_MS must be at least HTTP_HEADERS_TIMEOUT_MS");
	return limits;
}

export interface AppConfig {
	production: boolean;
	port: number;
	seed: boolean;
	lowStockThreshold: number;
	dataDir?: string;
	/** The built storefront and admin console the gateway serves (WEB_DIR, default web/dist; `npm run build:web`). */
	webDir: string;
	eventsUrl?: string;
	trustProxy: boolean;
	corsOrigins: string[];
	/** Failed logins per email and client address in the window. */
	loginMaxFailures: number;
	loginWindowMs: number;
	/** Login attempts per client address in the window, whatever the email. */
	loginMaxPerAddress: number;
	/** Registrations per client address in the window. */
	registerMaxPerAddress: number;
	/** Password hashes (scrypt) computed at once by one users node, and how many more may wait. */
	passwordHashConcurrency: number;
	passwordHashQueue: number;
	/** Entries the in-memory cacher keeps (least recently used dropped first). */
	cacheMax: number;
	/** Carts untouched for this many days are removed by the carts actor's periodic sweep. */
	cartTtlDays: number;
	/**
	 * Partitions of each Kafka topic the shop creates. Within one consumer group a partition is read by one node at a
	 * time, in order, so a group uses at most this many nodes per event type.
	 */
	kafkaPartitions: number;
}

/** Reads the environment every time it is called, so tests can change it between brokers. */
export function loadConfig(env: Env = process.env): AppConfig {
	const production = env.NODE_ENV === "production";
	const seedFlag = bool(env, "SEED");
	return {
		production,
		port: int(env, "PORT", 3000),
		seed: seedFlag ?? !production,
		lowStockThreshold: int(env, "LOW_STOCK_THRESHOLD", 5),
		dataDir: env.DATA_DIR || undefined,
		webDir: resolve(env.WEB_DIR || "web/dist"),
		eventsUrl: env.EVENTS_URL || undefined,
		trustProxy: bool(env, "TRUST_PROXY") ?? false,
		corsOrigins: (env.CORS_ORIGINS ?? "")
			.split(",")
			.map(s => s.trim())
			.filter(Boolean),
		loginMaxFailures: int(env, "LOGIN_MAX_FAILURES", 10),
		loginWindowMs: int(env, "LOGIN_WINDOW_SECONDS", 15 * 60) * 1000,
		loginMaxPerAddress: count(env, "LOGIN_MAX_PER_ADDRESS", 100),
		registerMaxPerAddress: count(env, "REGISTER_MAX_PER_ADDRESS", 20),
		passwordHashConcurrency: count(env, "PASSWORD_HASH_CONCURRENCY", 2),
		passwordHashQueue: count(env, "PASSWORD_HASH_QUEUE", 32, 0),
		cacheMax: count(env, "CACHE_MAX", 1000),
		cartTtlDays: int(env, "CART_TTL_DAYS", 30),
		kafkaPartitions: count(env, "KAFKA_PARTITIONS", 3),
	};
}

/** The order saga's timings; services/orders/saga.ts refuses values under which a step could outlast its lease. */
export interface OrdersConfig {
	leaseMs: number;
	stepTimeoutMs: number;
	stepRetries: number;
	clockSkewMs: number;
	/** Days after delivery (after shipping while not delivered) during which a customer may ask for a return. */
	returnWindowDays: number;
}

export function loadOrdersConfig(env: Env = process.env): OrdersConfig {
	return {
		leaseMs: int(env, "ORDER_LEASE_SECONDS", 15) * 1000,
		stepTimeoutMs: int(env, "ORDER_STEP_TIMEOUT_MS", 2000),
		// The internal actions' own retry count (lib/actor IDEMPOTENT_RETRY), made explicit on every saga call.
		stepRetries: int(env, "ORDER_STEP_RETRIES", 2),
		clockSkewMs: int(env, "ORDER_CLOCK_SKEW_MS", 2000),
		returnWindowDays: count(env, "RETURN_WINDOW_DAYS", 30, 0),
	};
}

/** Webhook delivery (README "Webhooks"); only webhooks nodes read it. */
export interface WebhookConfig {
	/** A 2xx within this time is success (`WEBHOOK_TIMEOUT_MS`). */
	timeoutMs: number;
	retryBaseMs: number;
	retryMaxMs: number;
	maxAttempts: number;
	/** A webhook failing without a success this long is set inactive (`WEBHOOK_DISABLE_AFTER_HOURS`, a fraction too). */
	disableAfterHours: number;
	/** Private, loopback, link-local, metadata addresses allowed (`WEBHOOK_ALLOW_PRIVATE`; default: not production). */
	allowPrivate: boolean;
	/** How often each webhooks node looks for due deliveries (`WEBHOOK_POLL_MS`). */
	pollMs: number;
}

export function loadWebhookConfig(env: Env = process.env): WebhookConfig {
	const hours = int(env, "WEBHOOK_DISABLE_AFTER_HOURS", 72);
	if (!(hours > 0))
		throw new Error(`WEBHOOK_DISABLE_AFTER_HOURS must be above 0, got "${env.WEBHOOK_DISABLE_AFTER_HOURS}"`);
	return {
		timeoutMs: count(env, "WEBHOOK_TIMEOUT_MS", 5000),
		retryBaseMs: count(env, "WEBHOOK_RETRY_BASE_MS", 10_000),
		retryMaxMs: count(env, "WEBHOOK_RETRY_MAX_MS", 24 * 3_600_000),
		maxAttempts: count(env, "WEBHOOK_MAX_ATTEMPTS", 12),
		disableAfterHours: hours,
		allowPrivate: bool(env, "WEBHOOK_ALLOW_PRIVATE") ?? env.NODE_ENV !== "production",
		pollMs: count(env, "WEBHOOK_POLL_MS", 1000),
	};
}

/** The gateway's general rate limits (README "Security"); off unless `RATE_LIMIT` or production says so. */
export interface RateLimitConfig {
	enabled: boolean;
	/** Requests per client address in a window (`RATE_LIMIT_PER_MINUTE`). */
	perAddress: number;
	/** Requests per bearer token in a window (`RATE_LIMIT_TOKEN_PER_MINUTE`). */
	perToken: number;
	/** The window (`RATE_LIMIT_WINDOW_MS`, one minute). */
	windowMs: number;
}

export function loadRateLimitConfig(env: Env = process.env): RateLimitConfig {
	return {
		enabled: bool(env, "RATE_LIMIT") ?? env.NODE_ENV === "production",
		perAddress: count(env, "RATE_LIMIT_PER_MINUTE", 600),
		perToken: count(env, "RATE_LIMIT_TOKEN_PER_MINUTE", 1200),
		windowMs: count(env, "RATE_LIMIT_WINDOW_MS", 60_000),
	};
}

/**
 * The most connections one actor's SQL pool opens on one node (`DB_POOL_MAX`, default 10). Every actor of every node
 * has its own pool, so a database serves up to (its actors' nodes × this): keep that under its `max_connections`.
 */
export function dbPoolMax(env: Env = process.env): number {
	return count(env, "DB_POOL_MAX", 10);
}

/** `<SERVICE>_DB_URI` overrides `DB_URI`; both accept the `_FILE` form. Default: in memory (SQLite in the process). */
export function dbUriFor(service: string, env: Env = process.env): string {
	return readSecret(`${service.toUpperCase()}_DB_URI`, env) ?? readSecret("DB_URI", env) ?? "memory://";
}

/**
 * Nodes joined by a transporter need a shared event bus: without `EVENTS_URL` each process has its own in-process
 * bus, and an event whose consumers run on other nodes would never reach them. Refused at start, unless
 * `EVENTS_IN_PROCESS=true` says it is meant (a REPL node, a test or benchmark whose consumers share its process).
 */
export function assertEventBus(env: Env = process.env): void {
	if (!env.TRANSPORTER || env.EVENTS_URL || bool(env, "EVENTS_IN_PROCESS")) return;
	throw new Error(
		"TRANSPORTER is set but EVENTS_URL is not: events would stay in this process and never reach consumers on " +
			"other nodes. Set EVENTS_URL (nats://, redis:// or kafka://), or EVENTS_IN_PROCESS=true if every consumer " +
			"of this node's events runs in this same process.",
	);
}
