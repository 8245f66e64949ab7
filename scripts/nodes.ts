import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import { Redis } from "ioredis";
import { connect } from "nats";
import { Sequelize } from "sequelize";

/**
 * Starting shop nodes as separate OS processes, for `npm run cluster`, the multi-node tests and benchmarks.
 * Each node is the production entry point (`npm start`: moleculer-runner over the compiled dist/, services chosen
 * by SERVICES), so what runs here is what runs in a container. dist/ is compiled once instead of running every
 * node through tsx: on two cores, ten tsx processes cost seconds of CPU and an esbuild child each.
 */

function findRoot(dir: string): string {
	for (let d = dir; ; d = path.dirname(d)) {
		if (existsSync(path.join(d, "package.json")) && existsSync(path.join(d, "moleculer.config.ts"))) return d;
		if (path.dirname(d) === d) throw new Error(`No project root above ${dir}`);
	}
}

export const ROOT = findRoot(__dirname);
const DIST = path.join(ROOT, "dist");
const RUNNER = path.join(ROOT, "node_modules/moleculer/bin/moleculer-runner.js");
/** Node's flags of `npm start` and the image: a young generation of 4 MB semi-spaces (README "Performance"). */
const NODE_FLAGS = ["--max-semi-space-size=4"];

export type Env = Record<string, string | undefined>;

/** Runs a command to completion; resolves with its exit code and output. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
		let output = "";
		child.stdout.on("data", chunk => (output += chunk));
		child.stderr.on("data", chunk => (output += chunk));
		child.once("error", reject);
		child.once("exit", code => resolve({ code, output }));
	});
}

/**
 * `npm run build`: compiles the services into dist/, which every spawned node runs. Type errors do not stop it
 * (tsc still emits, exit code 2; `npm run typecheck` is the gate for those): they come back as a warning.
 */
export async function buildDist(): Promise<{ typeErrors?: string }> {
	// A stale file of an older layout (dist/lib/events.js beside dist/lib/events/) would shadow the new module.
	await rm(DIST, { recursive: true, force: true });
	const { code, output } = await run(process.execPath, [
		path.join(ROOT, "node_modules/typescript/bin/tsc"),
		"-p",
		path.join(ROOT, "tsconfig.build.json"),
	]);
	if (code === 0) return {};
	if (code === 2) return { typeErrors: output };
	throw new Error(`tsc -p tsconfig.build.json exited with ${code}:\n${output}`);
}

/**
 * Runs `statement(name, postgres)` on the server of a SQL `DB_URI` (MySQL/MariaDB and PostgreSQL), connected to no
 * database of its own: creating or dropping the one the URI names.
 */
async function onDatabaseServer(
	uri: string,
	statement: (name: string, postgres: boolean) => string | ((admin: Sequelize) => Promise<void>),
): Promise<void> {
	const url = new URL(uri.replace(/^mariadb:/i, "mysql:").replace(/^postgresql:/i, "postgres:"));
	const name = decodeURIComponent(url.pathname.slice(1));
	if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`DB_URI must name a database (letters, digits, _): ${uri}`);
	const postgres = url.protocol === "postgres:";
	url.pathname = postgres ? "/postgres" : "/";
	const admin = new Sequelize(url.toString(), { logging: false });
	try {
		const work = statement(name, postgres);
		await (typeof work === "string" ? admin.query(work) : work(admin));
	} finally {
		await admin.close();
	}
}

/** Creates the database a SQL `DB_URI` names when it does not exist yet (MySQL/MariaDB and PostgreSQL). */
export function ensureDatabase(uri: string): Promise<void> {
	return onDatabaseServer(uri, (name, postgres) =>
		postgres
			? async admin => {
					const [rows] = await admin.query(`SELECT 1 FROM pg_database WHERE datname = '${name}'`);
					if (rows.length === 0) await admin.query(`CREATE DATABASE "${name}"`);
				}
			: `CREATE DATABASE IF NOT EXISTS \`${name}\``,
	);
}

/** Drops the database a SQL `DB_URI` names, if it exists (a benchmark's throwaway database). */
export function dropDatabase(uri: string): Promise<void> {
	return onDatabaseServer(uri, (name, postgres) =>
		postgres ? `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)` : `DROP DATABASE IF EXISTS \`${name}\``,
	);
}

/** A free TCP port on the loopback interface, for gateways and metrics endpoints of test nodes. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = net.createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const { port } = server.address() as net.AddressInfo;
			server.close(() => resolve(port));
		});
	});
}

export interface NodeSpec {
	/** Log prefix and node ID suffix, e.g. "orders-1". */
	name: string;
	/** Actors this node hosts (SERVICES). */
	services: string[];
	/** Per-node environment on top of the shared one (PORT, METRICS_PORT, ...). */
	env?: Env;
}

export interface ShopNode {
	readonly name: string;
	readonly nodeID: string;
	readonly services: string[];
	readonly child: ChildProcess;
	/** Resolves with the exit code (null when a signal ended it). */
	readonly exited: Promise<number | null>;
	running(): boolean;
	/** The last lines the node printed, for failure messages. */
	recentOutput(): string;
	/** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
	stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

export interface StartOptions {
	/** Environment shared by every node (TRANSPORTER, NAMESPACE, DB_URI, ...), on top of this process's. */
	env?: Env;
	/** Node IDs are `<prefix><name>`; a per-run prefix keeps parallel clusters apart. */
	nodeIdPrefix?: string;
	/** Receives every output line; default: kept only in the node's recent output. */
	onLine?: (node: string, line: string) => void;
	/** How many lines `recentOutput()` keeps. */
	keepLines?: number;
}

/**
 * Starts one node: `node moleculer-runner --config dist/moleculer.config.js` with `SERVICES` and
 * `SERVICEDIR=dist/services`, as `npm start` does. Needs `buildDist()` first.
 */
export function startNode(spec: NodeSpec, opts: StartOptions = {}): ShopNode {
	const nodeID = `${opts.nodeIdPrefix ?? ""}${spec.name}`;
	const env: Env = {
		...process.env,
		...opts.env,
		...spec.env,
		NODEID: nodeID,
		SERVICES: spec.services.join(","),
		SERVICEDIR: path.join(DIST, "services"),
	};
	for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
	const child = spawn(
		process.execPath,
		[
			...NODE_FLAGS,
			"--require",
			path.join(DIST, "scripts/exit-with-parent.js"),
			RUNNER,
			"--config",
			path.join(DIST, "moleculer.config.js"),
			"--mask",
			"**/*.service.js",
		],
		// Its own process group: a Ctrl-C in the terminal reaches only the parent, which stops each node once.
		{ cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"], detached: true },
	);
	const keep = opts.keepLines ?? 200;
	const lines: string[] = [];
	const onLine = (line: string) => {
		lines.push(line);
		if (lines.length > keep) lines.shift();
		opts.onLine?.(spec.name, line);
	};
	readline.createInterface({ input: child.stdout }).on("line", onLine);
	readline.createInterface({ input: child.stderr }).on("line", onLine);

	let alive = true;
	const exited = new Promise<number | null>(resolve => {
		child.once("exit", code => {
			alive = false;
			resolve(code);
		});
		child.once("error", err => {
			alive = false;
			onLine(`failed to start: ${err.message}`);
			resolve(null);
		});
	});

	return {
		name: spec.name,
		nodeID,
		services: spec.services,
		child,
		exited,
		running: () => alive,
		recentOutput: () => lines.join("\n"),
		async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000) {
			if (!alive) return exited;
			child.kill(signal);
			const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
			try {
				return await exited;
			} finally {
				clearTimeout(timer);
			}
		},
	};
}

/** Stops every node that still runs, all at once; resolves when all have exited. */
export async function stopNodes(
	nodes: Iterable<ShopNode>,
	signal: NodeJS.Signals = "SIGTERM",
	graceMs?: number,
): Promise<void> {
	await Promise.all([...nodes].map(node => node.stop(signal, graceMs)));
}

/** Deletes what a namespace left on the servers: its JetStream streams and Redis keys (streams, cache, counters). */
export async function dropNamespace(namespace: string, natsUrl: string, redisUrl: string): Promise<void> {
	const nats = await connect({ servers: new URL(natsUrl).host });
	try {
		const jsm = await nats.jetstreamManager();
		for await (const stream of jsm.streams.list()) {
			if (stream.config.name.startsWith(`${namespace}_`)) await jsm.streams.delete(stream.config.name);
		}
	} finally {
		await nats.close();
	}
	const redis = new Redis(redisUrl);
	try {
		let cursor = "0";
		do {
			const [next, keys] = await redis.scan(cursor, "MATCH", `*${namespace}*`, "COUNT", 1000);
			if (keys.length) await redis.del(...keys);
			cursor = next;
		} while (cursor !== "0");
	} finally {
		redis.disconnect();
	}
}
