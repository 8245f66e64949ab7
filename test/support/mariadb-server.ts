import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { portOpen } from "./servers";

const run = promisify(execFile);

/**
 * A private MariaDB server for fault tests: its own data directory and port, so stopping it to simulate an outage
 * does not disturb the shared loopback server other tests use.
 */
export class PrivateMariaDb {
	private child?: ChildProcess;
	private readonly dir = mkdtempSync(path.join(tmpdir(), "emporium-mariadb-"));

	constructor(readonly port: number) {}

	get url(): string {
		return `mysql://root@127.0.0.1:${this.port}`;
	}

	static async available(): Promise<boolean> {
		return run("mariadb-install-db", ["--help"]).then(
			() => true,
			() => false,
		);
	}

	async init(): Promise<void> {
		await run("mariadb-install-db", [
			"--no-defaults",
			`--datadir=${this.dir}/data`,
			"--user=root",
			"--auth-root-authentication-method=normal",
			"--skip-test-db",
		]);
		await this.start();
	}

	async start(): Promise<void> {
		this.child = spawn(
			"/usr/sbin/mariadbd",
			[
				"--no-defaults",
				`--datadir=${this.dir}/data`,
				`--port=${this.port}`,
				"--bind-address=127.0.0.1",
				`--socket=${this.dir}/sock`,
				"--user=root",
				"--skip-log-bin",
				"--innodb-buffer-pool-size=64M",
				"--max-connections=500",
			],
			{ stdio: "ignore" },
		);
		for (let i = 0; i < 100 && !(await portOpen(this.port)); i++) await new Promise(r => setTimeout(r, 100));
		if (!(await portOpen(this.port))) throw new Error(`private MariaDB did not open port ${this.port}`);
	}

	/** A hard stop: the server is gone at once, as in a crash or a network cut. */
	async kill(): Promise<void> {
		const child = this.child;
		if (!child || child.exitCode !== null) return;
		const exited = new Promise(resolve => child.once("exit", resolve));
		child.kill("SIGKILL");
		await exited;
	}

	async destroy(): Promise<void> {
		await this.kill();
		rmSync(this.dir, { recursive: true, force: true });
	}
}
