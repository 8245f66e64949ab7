import { readFileSync } from "node:fs";

/** The six actors; `api` is the gateway. */
export const ACTORS = ["products", "orders", "inventory", "payments", "users", "notifications"] as const;
export type Actor = (typeof ACTORS)[number];

export const DEV_JWT_SECRET = "dev-only-secret-do-not-use-in-production";
const DEFAULT_ADMIN = { email: "admin@example.com", password: "admin-password" };

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

function bool(env: Env, name: string): boolean | undefined {
	const raw = env[name];
	if (raw == null || raw === "") return undefined;
	return raw === "true" || raw === "1";
}

export interface AuthConfig {
	jwtSecret: string;
	jwtExpiresIn: string;
}

/**
 * The token signing key. Only the nodes that sign or verify tokens (users, api) read it, so only they refuse to
 * start in production without a real one; other actors need no secret at all.
 */
export function loadAuthConfig(env: Env = process.env): AuthConfig {
	const jwtSecret = readSecret("JWT_SECRET", env);
	if (env.NODE_ENV === "production" && (!jwtSecret || jwtSecret === DEV_JWT_SECRET || jwtSecret.length < 32)) {
		throw new Error(
			"JWT_SECRET (or JWT_SECRET_FILE) must be set to a secret of at least 32 characters when NODE_ENV=production",
		);
	}
	return { jwtSecret: jwtSecret ?? DEV_JWT_SECRET, jwtExpiresIn: env.JWT_EXPIRES_IN || "1h" };
}

export interface AppConfig {
	production: boolean;
	port: number;
	admin: { email: string; password: string } | null;
	seed: boolean;
	lowStockThreshold: number;
	dataDir?: string;
	eventsUrl?: string;
	trustProxy: boolean;
	corsOrigins: string[];
	loginMaxFailures: number;
	loginWindowMs: number;
}

/** Reads the environment every time it is called, so tests can change it between brokers. */
export function loadConfig(env: Env = process.env): AppConfig {
	const production = env.NODE_ENV === "production";
	const adminEmail = env.ADMIN_EMAIL;
	const adminPassword = readSecret("ADMIN_PASSWORD", env);
	let admin: AppConfig["admin"] = null;
	if (adminEmail && adminPassword) admin = { email: adminEmail, password: adminPassword };
	else if (!production)
		admin = { email: adminEmail ?? DEFAULT_ADMIN.email, password: adminPassword ?? DEFAULT_ADMIN.password };

	const seedFlag = bool(env, "SEED");
	return {
		production,
		port: int(env, "PORT", 3000),
		admin,
		seed: seedFlag ?? !production,
		lowStockThreshold: int(env, "LOW_STOCK_THRESHOLD", 5),
		dataDir: env.DATA_DIR || undefined,
		eventsUrl: env.EVENTS_URL || undefined,
		trustProxy: bool(env, "TRUST_PROXY") ?? false,
		corsOrigins: (env.CORS_ORIGINS ?? "")
			.split(",")
			.map(s => s.trim())
			.filter(Boolean),
		loginMaxFailures: int(env, "LOGIN_MAX_FAILURES", 10),
		loginWindowMs: int(env, "LOGIN_WINDOW_SECONDS", 15 * 60) * 1000,
	};
}

/** The order saga's timings; services/orders/saga.ts refuses values under which a step could outlast its lease. */
export interface OrdersConfig {
	leaseMs: number;
	stepTimeoutMs: number;
	stepRetries: number;
	clockSkewMs: number;
}

export function loadOrdersConfig(env: Env = process.env): OrdersConfig {
	return {
		leaseMs: int(env, "ORDER_LEASE_SECONDS", 15) * 1000,
		stepTimeoutMs: int(env, "ORDER_STEP_TIMEOUT_MS", 2000),
		// The internal actions' own retry count (lib/actor IDEMPOTENT_RETRY), made explicit on every saga call.
		stepRetries: int(env, "ORDER_STEP_RETRIES", 2),
		clockSkewMs: int(env, "ORDER_CLOCK_SKEW_MS", 2000),
	};
}

/** `<SERVICE>_DB_URI` overrides `DB_URI`; both accept the `_FILE` form. Default: in-memory NeDB. */
export function dbUriFor(service: string, env: Env = process.env): string {
	return readSecret(`${service.toUpperCase()}_DB_URI`, env) ?? readSecret("DB_URI", env) ?? "memory://";
}
