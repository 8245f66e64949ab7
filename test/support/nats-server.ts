import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../scripts/nodes";
import { portOpen } from "./servers";

const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await check())) {
		if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
		await new Promise(resolve => setTimeout(resolve, 50));
	}
}

/**
 * A NATS server with JetStream owned by one test: its own port and store directory, stopped and started
 * again on the same port and directory (streams and durable consumers survive a restart, as on a real outage).
 */
export class NatsServer {
	private process: ChildProcess | null = null;
	private output = "";

	private constructor(
		readonly port: number,
		readonly storeDir: string,
	) {}

	get url(): string {
		return `nats://127.0.0.1:${this.port}`;
	}

	get running(): boolean {
		return this.process !== null;
	}

	static async create(): Promise<NatsServer> {
		const server = new NatsServer(await freePort(), await mkdtemp(path.join(os.tmpdir(), "emporium-nats-")));
		await server.start();
		return server;
	}

	async start(): Promise<void> {
		if (this.process) return;
		const child = spawn(NATS_SERVER_BIN, ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.storeDir], {
			stdio: ["ignore", "pipe", "pipe"],
		});
		child.stdout?.on("data", chunk => {
			this.output = (this.output + chunk).slice(-4000);
		});
		child.stderr?.on("data", chunk => {
			this.output = (this.output + chunk).slice(-4000);
		});
		child.once("exit", () => {
			if (this.process === child) this.process = null;
		});
		this.process = child;
		try {
			await waitFor(
				async () => {
					if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}: ${this.output}`);
					// "Server is ready" is logged once JetStream has recovered its streams, after the port opens.
					return /Server is ready/.test(this.output) && (await portOpen(this.port));
				},
				10_000,
				`nats-server did not start on port ${this.port}`,
			);
		} catch (err) {
			await this.stop();
			throw err;
		}
	}

	/** SIGTERM, then SIGKILL if it does not exit within 5 s. */
	async stop(): Promise<void> {
		const child = this.process;
		if (!child || child.exitCode !== null || child.signalCode !== null) {
			this.process = null;
			return;
		}
		this.output = "";
		const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
		child.kill("SIGTERM");
		const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
		await exited;
		clearTimeout(timer);
		this.process = null;
	}

	/** Stops the server and deletes its store. */
	async dispose(): Promise<void> {
		await this.stop();
		await rm(this.storeDir, { recursive: true, force: true });
	}
}
