import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const ROOT = path.resolve(__dirname, "../..");

/** The project name docker/.env gives the stack: containers, networks and volumes carry it as a label. */
export const PROJECT = "emporium";
/** NATS published on loopback by docker-compose.test.yml, for the test broker that audits the shop. */
export const NATS_URL = "nats://127.0.0.1:14222";
export const GATEWAYS = ["http://127.0.0.1:3000", "http://127.0.0.1:3001"];

export async function sh(file: string, args: string[], timeoutMs = 600_000): Promise<string> {
	const { stdout } = await run(file, args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
	return stdout.trim();
}

/** Why the stack cannot run here, or null: no Docker client, or no engine answering. */
export async function unavailable(): Promise<string | null> {
	try {
		await sh("docker", ["info", "--format", "{{.ServerVersion}}"], 20_000);
		return null;
	} catch (err) {
		return `no Docker engine answers (${String(err).split("\n")[0]}): bash docker/engine start`;
	}
}

/** `docker compose` (v2) when the plugin exists, else `docker-compose` (1.29, Debian's). */
async function composeCommand(): Promise<string[]> {
	try {
		await sh("docker", ["compose", "version"], 20_000);
		return ["docker", "compose"];
	} catch {
		return ["docker-compose"];
	}
}

const FILES = [
	"docker/docker-compose.yml",
	// Locally built images unless COMPOSE_PUBLIC_IMAGES is set (a machine that can pull the public ones).
	...(process.env.COMPOSE_PUBLIC_IMAGES ? [] : ["docker/docker-compose.local.yml"]),
	"test/compose/docker-compose.test.yml",
];

export async function compose(args: string[], timeoutMs?: number): Promise<string> {
	const [file, ...pre] = await composeCommand();
	return sh(file, [...pre, ...FILES.flatMap(f => ["-f", f]), ...args], timeoutMs);
}

export async function containerOf(service: string): Promise<string> {
	const id = await compose(["ps", "-q", service]);
	if (!id) throw new Error(`no container for ${service}`);
	return id.split("\n")[0];
}

export const docker = (...args: string[]) => sh("docker", args);

/** What is left of the project: containers (running or not), networks and volumes. */
export async function leftovers(): Promise<string[]> {
	const filter = `label=com.docker.compose.project=${PROJECT}`;
	const [containers, networks, volumes] = await Promise.all([
		docker("ps", "-a", "-q", "--filter", filter),
		docker("network", "ls", "-q", "--filter", filter),
		docker("volume", "ls", "-q", "--filter", filter),
	]);
	return [
		...containers
			.split("\n")
			.filter(Boolean)
			.map(c => `container ${c}`),
		...networks
			.split("\n")
			.filter(Boolean)
			.map(n => `network ${n}`),
		...volumes
			.split("\n")
			.filter(Boolean)
			.map(v => `volume ${v}`),
	];
}

/** The memory the project's containers use now, in MiB (docker stats). */
export async function stackMemoryMiB(): Promise<number> {
	const ids = (await compose(["ps", "-q"])).split("\n").filter(Boolean);
	const lines = await docker("stats", "--no-stream", "--format", "{{.MemUsage}}", ...ids);
	const units: Record<string, number> = { B: 1 / 1048576, KiB: 1 / 1024, MiB: 1, GiB: 1024 };
	let total = 0;
	for (const line of lines.split("\n")) {
		const m = /^([\d.]+)\s*([KMG]?i?B)/.exec(line.trim());
		if (m) total += Number(m[1]) * (units[m[2]] ?? 0);
	}
	return Math.round(total);
}

/** Phase durations, printed together at the end of the run. */
export class Timings {
	readonly phases: [string, number][] = [];
	async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
		const started = Date.now();
		try {
			return await work();
		} finally {
			this.phases.push([phase, (Date.now() - started) / 1000]);
			console.log(`[compose] ${phase}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
		}
	}
}
