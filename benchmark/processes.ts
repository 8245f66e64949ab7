import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { ROOT } from "../scripts/nodes";

const MB = 1024 * 1024;

/** `VmRSS` (now) and `VmHWM` (peak since start) of a process, in MB; null when it has gone. */
export function memoryOf(pid: number): { rssMB: number; peakMB: number } | null {
	try {
		const status = readFileSync(`/proc/${pid}/status`, "utf8");
		const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
		return { rssMB: kb("VmRSS") / 1024, peakMB: kb("VmHWM") / 1024 };
	} catch {
		return null;
	}
}

/** CPU time (user + system) a process has used so far, in ms; null when it has gone. Linux clock ticks are 10 ms. */
export function cpuMsOf(pid: number): number | null {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// Fields after the command name (which may contain spaces) start at field 3; utime and stime are fields 14 and 15.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		return (Number(fields[11]) + Number(fields[12])) * 10;
	} catch {
		return null;
	}
}

/**
 * CPU time the whole machine has spent busy so far, every core and process together (user, nice, system, irq and
 * softirq of /proc/stat's first line), in ms; null off Linux. Shows whether anything else used the cores meanwhile.
 */
export function machineBusyMs(): number | null {
	try {
		const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
		const [user, nice, system, , , irq, softirq] = fields;
		return (user + nice + system + irq + softirq) * 10;
	} catch {
		return null;
	}
}

/** The loopback servers' processes, whose CPU also counts for a request (shared with anything else using them). */
export function serverPids(): Record<string, number> {
	const pids: Record<string, number> = {};
	for (const name of ["mariadbd", "nats-server", "redis-server"]) {
		try {
			const pid = execFileSync("pgrep", ["-x", "-o", name], { encoding: "utf8" }).trim();
			if (pid) pids[name] = Number(pid);
		} catch {
			// not running here
		}
	}
	return pids;
}

/** A process by its pid, or a server of many processes (PostgreSQL: one per connection) by what lists them now. */
export type Watched = number | (() => number[]);

/** Every PostgreSQL process of the loopback server (the postmaster, its workers and a backend per connection). */
export function postgresPids(): number[] {
	try {
		return execFileSync("pgrep", ["-x", "postgres"], { encoding: "utf8" })
			.trim()
			.split("\n")
			.filter(Boolean)
			.map(Number);
	} catch {
		return [];
	}
}

/** CPU ms so far of each process a watched entry names now. */
function cpuByPid(watched: Watched): Map<number, number> {
	const pids = typeof watched === "number" ? [watched] : watched();
	return new Map(pids.map(pid => [pid, cpuMsOf(pid)] as const).filter((e): e is [number, number] => e[1] != null));
}

/**
 * CPU ms each watched entry spends while `work` runs (a process started meanwhile counts from its start), how long
 * it ran (ms of wall time), and how much CPU the whole machine spent meanwhile (null off Linux).
 */
export async function cpuDuring<T>(
	pids: Record<string, Watched>,
	work: () => Promise<T>,
): Promise<{ result: T; cpuMs: Record<string, number>; elapsedMs: number; machineBusyMs: number | null }> {
	const before = Object.fromEntries(Object.entries(pids).map(([name, watched]) => [name, cpuByPid(watched)]));
	const machineBefore = machineBusyMs();
	const started = performance.now();
	const result = await work();
	const elapsedMs = performance.now() - started;
	const machineAfter = machineBusyMs();
	const cpuMs: Record<string, number> = {};
	for (const [name, watched] of Object.entries(pids)) {
		const after = cpuByPid(watched);
		if (after.size === 0) continue;
		cpuMs[name] = [...after].reduce((sum, [pid, ms]) => sum + ms - (before[name].get(pid) ?? 0), 0);
	}
	const machine = machineBefore != null && machineAfter != null ? machineAfter - machineBefore : null;
	return { result, cpuMs, elapsedMs, machineBusyMs: machine };
}

/**
 * The peak RSS of the load generator itself, sampled from `process.memoryUsage()` while it runs
 * (its VmHWM would include whatever ran in this process before, such as the build or a test runner).
 */
export class SelfRssSampler {
	private peak = process.memoryUsage().rss;
	private readonly timer = setInterval(() => (this.peak = Math.max(this.peak, process.memoryUsage().rss)), 250);

	constructor() {
		this.timer.unref();
	}

	stop(): number {
		clearInterval(this.timer);
		return Math.max(this.peak, process.memoryUsage().rss) / MB;
	}
}

export function machineInfo(): {
	cpu: string;
	cores: number;
	memoryGB: number;
	node: string;
	platform: string;
	loadAverage: number[];
	loadAverageEnd?: number[];
	date: string;
} {
	const cpus = os.cpus();
	return {
		cpu: cpus[0]?.model.trim() ?? "unknown",
		cores: cpus.length,
		memoryGB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
		node: process.version,
		platform: `${os.type()} ${os.release()} ${os.arch()}`,
		loadAverage: os.loadavg().map(n => Math.round(n * 100) / 100),
		date: new Date().toISOString(),
	};
}

export interface ReferenceServer {
	url: string;
	pid: number;
	stop(): Promise<void>;
}

/**
 * Starts a reference server in its own process answering `body`: `limit-server.ts` (bare node:http) or
 * `floor-server.ts` (moleculer-web and one trivial action, configured by `env`).
 */
export async function startReferenceServer(
	script: "limit-server" | "floor-server",
	body: string,
	env: Record<string, string> = {},
): Promise<ReferenceServer> {
	const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, `benchmark/${script}.ts`)], {
		cwd: ROOT,
		env: { ...process.env, ...env, LIMIT_BODY: body },
		stdio: ["ignore", "pipe", "inherit"],
	});
	const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
	const port = await new Promise<number>((resolve, reject) => {
		readline.createInterface({ input: child.stdout! }).once("line", line => resolve(Number(line)));
		child.once("exit", code => reject(new Error(`${script} exited with ${code} before listening`)));
	});
	return {
		url: `http://127.0.0.1:${port}`,
		pid: child.pid!,
		async stop() {
			child.kill("SIGTERM");
			await exited;
		},
	};
}
