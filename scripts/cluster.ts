import { mkdir, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { buildDist, ensureDatabase, ROOT, startNode, stopNodes, type Env, type NodeSpec, type ShopNode } from "./nodes";
import { INFRA_PORTS, runInfra, type InfraName } from "./infra";

/**
 * `npm run cluster`: the shop split across local processes without Docker. One node per actor, two gateways and
 * two orders nodes, over the local NATS (calls), Kafka (domain events: the local broker of `infra/servers`, started
 * here unless EVENTS_URL names a bus), Redis (cache) and MariaDB. `--zipkin` also starts the local Zipkin and traces
 * every node into it; `--prometheus` starts the local Prometheus scraping every node. Every URL can be overridden
 * from the environment; Ctrl-C stops every node, and the servers this command started.
 */

const env = process.env;
const flags = new Set(process.argv.slice(2));
const withZipkin = flags.has("--zipkin") && !env.ZIPKIN_URL;
const withPrometheus = flags.has("--prometheus");
const startKafka = !env.EVENTS_URL;
const firstPort = Number(env.PORT ?? 3000);
const firstMetricsPort = Number(env.METRICS_PORT ?? 3030);
const metrics = env.METRICS !== "false";

const shared: Env = {
	TRANSPORTER: env.TRANSPORTER ?? "nats://127.0.0.1:4222",
	CACHER: env.CACHER ?? "redis://127.0.0.1:6379",
	EVENTS_URL: env.EVENTS_URL ?? `kafka://127.0.0.1:${INFRA_PORTS.kafka}`,
	DB_URI: env.DB_URI ?? "mysql://root@127.0.0.1:3306/emporium",
	NAMESPACE: env.NAMESPACE ?? "",
	SEED: env.SEED ?? "true",
	ZIPKIN_URL: env.ZIPKIN_URL ?? (withZipkin ? `http://127.0.0.1:${INFRA_PORTS.zipkin}` : undefined),
};
const TARGETS_FILE = path.join(ROOT, "infra/.run/prometheus-targets/cluster.json");

const LAYOUT = (
	[
		{ name: "api-1", services: ["api"], env: { PORT: String(firstPort) } },
		{ name: "api-2", services: ["api"], env: { PORT: String(firstPort + 1) } },
		{ name: "users-1", services: ["users"] },
		{ name: "products-1", services: ["products"] },
		{ name: "inventory-1", services: ["inventory"] },
		{ name: "payments-1", services: ["payments"] },
		{ name: "orders-1", services: ["orders"] },
		{ name: "orders-2", services: ["orders"] },
		{ name: "notifications-1", services: ["notifications"] },
		{ name: "carts-1", services: ["carts"] },
		{ name: "pricing-1", services: ["promotions", "shipping"] },
		{ name: "webhooks-1", services: ["webhooks"] },
	] as NodeSpec[]
).map((spec, i): NodeSpec & { env: Env } => ({
	...spec,
	env: { ...spec.env, METRICS_PORT: String(firstMetricsPort + i) },
}));

const COLOURS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];
const width = Math.max(...LAYOUT.map(s => s.name.length));

function prefix(name: string): string {
	const label = `[${name}]`.padEnd(width + 2);
	if (!process.stdout.isTTY) return label;
	const index = LAYOUT.findIndex(s => s.name === name);
	const colour = index < 0 ? 1 : COLOURS[index % COLOURS.length];
	return `\x1b[${colour}m${label}\x1b[0m`;
}

function say(message: string): void {
	process.stdout.write(`${prefix("cluster")} ${message}\n`);
}

function redact(url: string | undefined): string {
	return (url ?? "").replace(/\/\/([^:@/]+):[^@/]+@/, "//$1:***@");
}

async function waitUntilReady(ports: number[], timeoutMs: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	const pending = new Set(ports);
	while (pending.size && Date.now() < deadline) {
		for (const port of [...pending]) {
			const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
				res => res.ok,
				() => false,
			);
			if (ok) pending.delete(port);
		}
		if (pending.size) await new Promise(resolve => setTimeout(resolve, 500));
	}
	return pending.size === 0;
}

function portOpen(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect({ port, host: "127.0.0.1" });
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});
}

/** Starts a local server unless it already runs; returns whether this command started it (and so must stop it). */
async function ensureServer(name: InfraName): Promise<boolean> {
	if (await portOpen(INFRA_PORTS[name])) {
		say(`${name}: already running on 127.0.0.1:${INFRA_PORTS[name]}, used as is`);
		return false;
	}
	await runInfra(["start", name], {}, line => say(line));
	return true;
}

async function main(): Promise<void> {
	const scheme = shared.DB_URI!.split(":")[0].toLowerCase();
	if (["memory", "sqlite", "nedb"].includes(scheme)) {
		throw new Error(
			`DB_URI=${shared.DB_URI}: the nodes of a cluster need a shared database (mysql://, mariadb://, postgres:// or mongodb://)`,
		);
	}
	say("building dist/ (npm run build) ...");
	const { typeErrors } = await buildDist();
	if (typeErrors) say(`type errors (npm run typecheck), running what tsc emitted anyway:\n${typeErrors}`);
	if (scheme !== "mongodb" && scheme !== "mongodb+srv") await ensureDatabase(shared.DB_URI!);
	const started: InfraName[] = [];
	if (startKafka && (await ensureServer("kafka"))) started.push("kafka");
	if (withZipkin && (await ensureServer("zipkin"))) started.push("zipkin");
	if (withPrometheus) {
		const targets = LAYOUT.map(s => `127.0.0.1:${s.env.METRICS_PORT}`);
		await mkdir(path.dirname(TARGETS_FILE), { recursive: true });
		await writeFile(TARGETS_FILE, JSON.stringify([{ targets, labels: { cluster: "local" } }], null, 2));
		if (await ensureServer("prometheus")) started.push("prometheus");
	}
	const stopServers = async () => {
		if (withPrometheus) await rm(TARGETS_FILE, { force: true });
		if (started.length)
			await runInfra(["stop", ...started], {}, line => say(line)).catch((err: Error) => say(err.message));
	};

	say(
		`transporter ${redact(shared.TRANSPORTER)} | events ${redact(shared.EVENTS_URL)} | ` +
			`cache ${redact(shared.CACHER)} | data ${redact(shared.DB_URI)} | namespace "${shared.NAMESPACE}"`,
	);
	say(`${"node ID".padEnd(width)}  ${"services".padEnd(13)}  endpoints`);
	for (const spec of LAYOUT) {
		const ports = [
			spec.env.PORT ? `http://127.0.0.1:${spec.env.PORT}` : "",
			metrics ? `metrics http://127.0.0.1:${spec.env.METRICS_PORT}/metrics` : "",
		]
			.filter(Boolean)
			.join("  ");
		say(`${spec.name.padEnd(width)}  ${spec.services.join(",").padEnd(13)}  ${ports}`);
	}

	const nodes: ShopNode[] = LAYOUT.map(spec =>
		startNode(spec, { env: shared, onLine: (name, line) => process.stdout.write(`${prefix(name)} ${line}\n`) }),
	);
	let stopping = false;
	for (const node of nodes) {
		void node.exited.then(code => {
			if (!stopping) say(`${node.name} exited (code ${code}); the other nodes keep running`);
		});
	}

	const stop = async (signal: NodeJS.Signals) => {
		if (stopping) {
			say("stopping immediately (SIGKILL)");
			await stopNodes(nodes, "SIGKILL");
			return;
		}
		stopping = true;
		say(`${signal}: stopping ${nodes.filter(n => n.running()).length} nodes ...`);
		await stopNodes(nodes, "SIGTERM");
		say("all nodes stopped");
		await stopServers();
		process.exit(0);
	};
	process.on("SIGINT", () => void stop("SIGINT"));
	process.on("SIGTERM", () => void stop("SIGTERM"));

	const gatewayPorts = LAYOUT.filter(s => s.env.PORT).map(s => Number(s.env.PORT));
	if (await waitUntilReady(gatewayPorts, 120_000)) {
		say(
			`ready: ${gatewayPorts.map(p => `http://127.0.0.1:${p}`).join(" and ")} (try: curl http://127.0.0.1:${gatewayPorts[0]}/api/products)`,
		);
		const namespace = shared.NAMESPACE ? `NAMESPACE=${shared.NAMESPACE} ` : "";
		say(`REPL into this cluster: ${namespace}npm run repl; Ctrl-C here stops every node`);
		if (shared.ZIPKIN_URL) say(`traces: ${shared.ZIPKIN_URL}/zipkin/ (Zipkin UI)`);
		if (withPrometheus) say(`metrics: http://127.0.0.1:${INFRA_PORTS.prometheus}/targets (Prometheus)`);
	} else if (!stopping) {
		say("the gateways did not report ready within 120 s; see the node logs above");
	}

	await Promise.all(nodes.map(n => n.exited));
	if (!stopping) {
		say("every node has exited");
		await stopServers();
		process.exit(1);
	}
}

main().catch(err => {
	process.stderr.write(`${prefix("cluster")} ${err instanceof Error ? err.message : String(err)}\n`);
	process.exit(1);
});
