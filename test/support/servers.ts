import net from "node:net";
import { describe } from "vitest";

/** The loopback servers the integration tests use; each URL can be overridden from the environment. */
export const SERVERS = {
	nats: { url: process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222", port: 4222 },
	redis: { url: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379", port: 6379 },
	mariadb: { url: process.env.TEST_MARIADB_URL ?? "mysql://root@127.0.0.1:3306", port: 3306 },
	postgres: { url: process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432", port: 5432 },
} as const;

export function portOpen(port: number, host = "127.0.0.1"): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect({ port, host });
		socket.setTimeout(1000);
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
		socket.once("timeout", () => {
			socket.destroy();
			resolve(false);
		});
	});
}

/**
 * `describe` for tests that need real servers. Missing servers fail the run when CI is set,
 * and skip with the reason on a laptop without them.
 */
export async function describeWithServers(
	names: (keyof typeof SERVERS)[],
	title: string,
	body: () => void,
): Promise<void> {
	const missing: string[] = [];
	for (const name of names)
		if (!(await portOpen(SERVERS[name].port))) missing.push(`${name} (127.0.0.1:${SERVERS[name].port})`);
	if (missing.length && process.env.CI)
		throw new Error(`${title}: required servers are not running: ${missing.join(", ")}`);
	if (missing.length) {
		describe.skip(`${title} [skipped: ${missing.join(", ")} not running]`, body);
		return;
	}
	describe(title, body);
}
