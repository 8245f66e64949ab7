import { spawn } from "node:child_process";
import path from "node:path";
import { ROOT } from "./nodes";

/** `infra/servers`: the local Kafka, Zipkin, mongo-java-server and Prometheus (see infra/servers for its options). */
export const INFRA_SCRIPT = path.join(ROOT, "infra/servers");

/** The ports `infra/servers` gives the shared instances (each overridable by its environment variable). */
export const INFRA_PORTS = {
	kafka: Number(process.env.KAFKA_PORT ?? 19092),
	zipkin: Number(process.env.ZIPKIN_PORT ?? 19411),
	mongo: Number(process.env.MONGO_PORT ?? 27117),
	prometheus: Number(process.env.PROMETHEUS_PORT ?? 19090),
};
export type InfraName = keyof typeof INFRA_PORTS;

/** Runs `infra/servers <args>`; rejects with its output when it fails. `onLine` sees its output as it comes. */
export function runInfra(
	args: string[],
	env: Record<string, string> = {},
	onLine?: (line: string) => void,
): Promise<void> {
	return new Promise((resolve, reject) => {
		const child = spawn(INFRA_SCRIPT, args, {
			cwd: ROOT,
			env: { ...process.env, ...env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let output = "";
		const collect = (chunk: Buffer) => {
			output += String(chunk);
			if (onLine) for (const line of String(chunk).split("\n").filter(Boolean)) onLine(line);
		};
		child.stdout.on("data", collect);
		child.stderr.on("data", collect);
		child.once("error", reject);
		child.once("exit", code =>
			code === 0 ? resolve() : reject(new Error(`infra/servers ${args.join(" ")} exited with ${code}:\n${output}`)),
		);
	});
}
