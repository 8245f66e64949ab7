import { readFileSync } from "node:fs";

/** The seven actors; `api` is the gateway. */
export const ACTORS = ["products", "orders", "inventory", "payments", "users", "notifications", "carts"] as const;
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
	/** Carts untouched for this many days are removed by the carts actor's periodic sweep. */
	cartTtlDays: number;
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
		cartTtlDays: int(env, "CART_TTL_DAYS", 30),
	};
}

/** `<SERVICE>_DB_URI` overrides `DB_URI`; both accept the `_FILE` form. Default: in-memory NeDB. */
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
