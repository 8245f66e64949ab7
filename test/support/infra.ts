import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import path from "node:path";
import { describe } from "vitest";
import { freePort, ROOT } from "../../scripts/nodes";
import { INFRA_PORTS, runInfra, type InfraName } from "../../scripts/infra";
import { portOpen } from "./servers";

/**
 * The servers of `infra/servers` (Kafka, Zipkin, mongo-java-server, Prometheus) for tests. A test file either reuses
 * the shared instance on its standard port (started by `.ci/run` or by `infra/servers start`), or starts a private
 * instance of its own on free ports and stops it in `afterAll`: a test that stops or kills a server always does.
 */
export type { InfraName };

const INFRA_HOME = process.env.INFRA_HOME ?? path.join(ROOT, "infra/.run");
const PORT_VARIABLE: Record<InfraName, string> = {
	kafka: "KAFKA_PORT",
	zipkin: "ZIPKIN_PORT",
	mongo: "MONGO_PORT",
	prometheus: "PROMETHEUS_PORT",
};
/** The shared instances' ports, as `infra/servers` chooses them. */
export const SHARED_PORTS: Record<InfraName, number> = INFRA_PORTS;

export interface InfraServer {
	readonly name: InfraName;
	readonly port: number;
	/** `kafka://127.0.0.1:<port>`, `http://127.0.0.1:<port>` (Zipkin, Prometheus) or `mongodb://127.0.0.1:<port>`. */
	readonly url: string;
	/** False for a shared instance: this test may not stop it. */
	readonly own: boolean;
	start(): Promise<void>;
	stop(): Promise<void>;
	running(): Promise<boolean>;
	/** Stops an own instance and deletes its data and log; nothing for a shared one. */
	dispose(): Promise<void>;
}

function urlOf(name: InfraName, port: number): string {
	if (name === "kafka") return `kafka://127.0.0.1:${port}`;
	if (name === "mongo") return `mongodb://127.0.0.1:${port}`;
	return `http://127.0.0.1:${port}`;
}

/** Why the servers cannot run here (no Java), or null when they can. */
export function infraMissing(names: InfraName[]): string | null {
	if (names.some(n => n !== "prometheus") && spawnSync("java", ["-version"]).status !== 0) return "java not found";
	if (names.includes("prometheus") && spawnSync("prometheus", ["--version"]).status !== 0)
		return "prometheus not installed (infra/servers install prometheus)";
	return null;
}

/**
 * A private instance of `name` on free ports, started at once. `extraEnv` reaches the script
 * (e.g. PROMETHEUS_CONFIG).
 */
export async function startPrivate(name: InfraName, extraEnv: Record<string, string> = {}): Promise<InfraServer> {
	const port = await freePort();
	const instance = `t${process.pid}-${randomBytes(3).toString("hex")}`;
	const env: Record<string, string> = { INFRA_INSTANCE: instance, [PORT_VARIABLE[name]]: String(port), ...extraEnv };
	if (name === "kafka") env.KAFKA_CONTROLLER_PORT = String(await freePort());
	const server: InfraServer = {
		name,
		port,
		url: urlOf(name, port),
		own: true,
		start: () => runInfra(["start", name], env),
		stop: () => runInfra(["stop", name], env),
		running: () => portOpen(port),
		async dispose() {
			await server.stop();
			await rm(path.join(INFRA_HOME, `${name}-${instance}`), { recursive: true, force: true });
		},
	};
	await server.start();
	return server;
}

/** The shared instance when it runs, else a private one (stopped by `dispose`). */
export async function useServer(name: InfraName): Promise<InfraServer> {
	const port = SHARED_PORTS[name];
	if (!(await portOpen(port))) return startPrivate(name);
	const noop = () => Promise.resolve();
	return {
		name,
		port,
		url: urlOf(name, port),
		own: false,
		start: noop,
		stop: () => Promise.reject(new Error(`${name} on ${port} is shared: start a private instance to stop it`)),
		running: () => portOpen(port),
		dispose: noop,
	};
}

/**
 * `describe` for tests that need these servers: without Java (or Prometheus) they fail when CI is set and skip with
 * the reason elsewhere. The servers themselves are started by the tests (`useServer`, `startPrivate`).
 */
export function describeWithInfra(names: InfraName[], title: string, body: () => void): void {
	const missing = infraMissing(names);
	if (missing && process.env.CI) throw new Error(`${title}: ${missing}`);
	if (missing) describe.skip(`${title} [skipped: ${missing}]`, body);
	else describe(title, body);
}
