import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, renameSync } from "node:fs";
import path from "node:path";
import type { Env } from "../../scripts/nodes";

/** The loopback servers; each can be pointed elsewhere like the tests' (TEST_*_URL). */
export const SERVER_URLS = {
	nats: process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222",
	redis: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
	mariadb: process.env.TEST_MARIADB_URL ?? "mysql://root@127.0.0.1:3306",
	postgres: process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432",
};

/**
 * The metrics port of every shop process: any free port, taken when the node listens. Nothing here reads it, and a
 * port found free beforehand can be taken meanwhile (a client connection's source port): a node then failed its start.
 */
export const METRICS_ANY_PORT = "0";
export const ADMIN = { email: "bench-admin@example.com", password: randomBytes(12).toString("hex") };

/**
 * The per-address and per-token limits of a production start (README "Security"), out of the benchmark's reach:
 * every client of the load comes from one loopback address, over a few tokens, and would be answered 429 after 600
 * requests a minute (20 registrations). The limiter still counts every request, as in production.
 */
const UNREACHABLE_LIMITS = {
	RATE_LIMIT: "true",
	RATE_LIMIT_PER_MINUTE: String(1e9),
	RATE_LIMIT_TOKEN_PER_MINUTE: String(1e9),
	RATE_LIMIT_WINDOW_MS: undefined,
	REGISTER_MAX_PER_ADDRESS: "1000",
	LOGIN_MAX_PER_ADDRESS: "1000",
};

/**
 * The environment of every shop process: a production start (real secret, no demo seed, no default admin) in a
 * namespace of its own, its client limits out of reach (`UNREACHABLE_LIMITS`). Anything this shell sets for the
 * shop's stores, bus or tracing is cleared, so a run measures what the group says it does.
 */
export function productionEnv(namespace: string): Env {
	return {
		NODE_ENV: "production",
		JWT_SECRET: randomBytes(32).toString("hex"),
		ADMIN_EMAIL: ADMIN.email,
		ADMIN_PASSWORD: ADMIN.password,
		SEED: "false",
		HOST: "127.0.0.1",
		NAMESPACE: namespace,
		LOGLEVEL: "info",
		DB_URI: undefined,
		EVENTS_URL: undefined,
		EVENTS_IN_PROCESS: undefined,
		CACHER: undefined,
		TRANSPORTER: undefined,
		ZIPKIN_URL: undefined,
		METRICS: undefined,
		NODE_OPTIONS: undefined,
		...UNREACHABLE_LIMITS,
	};
}

/**
 * CPU profiles of a shop process during the measured runs only, like `node --cpu-prof` (which NODE_OPTIONS refuses)
 * without the start-up: a preloaded module toggles the V8 profiler on SIGWINCH (moleculer-runner stops on SIGUSR1/2)
 * and writes `<dir>/<name>.<n>.cpuprofile` at each stop. See `profileDuring`.
 */
export function cpuProfileEnv(dir: string | undefined, name: string): Env {
	if (!dir) return {};
	const prefix = path.resolve(dir, name);
	const preload = [
		"import { Session } from 'node:inspector';",
		"import { mkdirSync, writeFileSync } from 'node:fs';",
		"const session = new Session(); session.connect(); session.post('Profiler.enable');",
		"let profiling = false; let n = 0;",
		"process.on('SIGWINCH', () => {",
		"  if (!profiling) { profiling = true; session.post('Profiler.start'); return; }",
		"  profiling = false; const file = `" + prefix + ".${++n}.cpuprofile`;",
		"  session.post('Profiler.stop', (err, res) => { if (err) return; mkdirSync(" +
			JSON.stringify(path.dirname(prefix)) +
			", { recursive: true }); writeFileSync(file + '.tmp', JSON.stringify(res.profile)); " +
			"renameSync(file + '.tmp', file); });",
		"});",
	]
		.join(" ")
		.replace("import { mkdirSync, writeFileSync }", "import { mkdirSync, renameSync, writeFileSync }");
	return { NODE_OPTIONS: `--import "data:text/javascript,${encodeURIComponent(preload)}"` };
}

/**
 * Profiles the processes (name to pid, started with `cpuProfileEnv`) while `work` runs; saves
 * `<dir>/<name>-<label>.cpuprofile`.
 */
export async function profileDuring<T>(
	dir: string | undefined,
	pids: Record<string, number>,
	label: string,
	work: () => Promise<T>,
): Promise<T> {
	if (!dir) return work();
	mkdirSync(dir, { recursive: true });
	const toggle = () => Object.values(pids).forEach(pid => process.kill(pid, "SIGWINCH"));
	toggle();
	try {
		return await work();
	} finally {
		toggle();
		for (const name of Object.keys(pids)) {
			const deadline = Date.now() + 10_000;
			const written = () => readdirSync(dir).filter(f => f.startsWith(`${name}.`) && f.endsWith(".cpuprofile"));
			while (written().length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100));
			for (const file of written()) renameSync(path.join(dir, file), path.join(dir, `${name}-${label}.cpuprofile`));
		}
	}
}

export function uniqueNamespace(): string {
	return `bench${randomBytes(4).toString("hex")}`;
}
