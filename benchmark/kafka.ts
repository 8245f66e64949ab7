import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { INFRA_PORTS, runInfra } from "../scripts/infra";
import { freePort, ROOT } from "../scripts/nodes";
import { cpuMsOf } from "./processes";

/**
 * The Kafka the across-nodes groups publish their domain events to (EVENTS_URL=kafka://), from `infra/servers`
 * (KRaft, one node). `own`: an instance of the benchmark's, started with a production broker's JVM flags and stopped
 * at the end, so that its CPU per order is a production broker's and nobody else's; `running`: the instance on
 * KAFKA_PORT when one runs (started by `.ci/run` or `infra/servers start kafka`), else an own one.
 */
export type KafkaChoice = "own" | "running";

/**
 * What `kafka-server-start.sh` and `kafka-run-class.sh` of Kafka 3.9 give a broker: 1 GB heap, G1, the full JIT.
 * `infra/servers` starts with a quick start instead (serial GC, C1 only), whose compiled code costs a running broker
 * more CPU per event.
 */
export const PRODUCTION_KAFKA_ENV = {
	KAFKA_HEAP: "-Xms1g -Xmx1g",
	KAFKA_JVM_FLAGS:
		"-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 " +
		"-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true",
};

export interface BenchKafka {
	/** EVENTS_URL for the nodes. */
	url: string;
	/** The broker's process, for its CPU and memory; null when no process of this machine listens on its port. */
	pid: number | null;
	/** Which instance, with which JVM flags, for the report. */
	description: string;
	/** Deletes what a group's namespace left: its topics and consumer groups. */
	dropNamespace(namespace: string): Promise<void>;
	/** Stops the instance when the benchmark started it; nothing for a running one. */
	dispose(): Promise<void>;
}

const INFRA_HOME = process.env.INFRA_HOME ?? path.join(ROOT, "infra/.run");

function portOpen(port: number): Promise<boolean> {
	return new Promise(resolve => {
		const socket = net.connect(port, "127.0.0.1");
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});
}

/** The command line of a process as its arguments; null when it has gone or is not readable. */
function commandLine(pid: number): string[] | null {
	try {
		return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
	} catch {
		return null;
	}
}

/**
 * The Kafka broker listening on `port`: a java process running `kafka.Kafka <server.properties>` whose `listeners`
 * name that port (how `infra/servers` starts it, whichever worktree did).
 */
export function kafkaPidOnPort(port: number): number | null {
	for (const entry of readdirSync("/proc")) {
		const pid = Number(entry);
		if (!Number.isInteger(pid)) continue;
		const args = commandLine(pid);
		const main = args?.indexOf("kafka.Kafka") ?? -1;
		if (!args || main < 0 || !args[main + 1]) continue;
		try {
			const listeners = /^listeners=(.*)$/m.exec(readFileSync(args[main + 1], "utf8"))?.[1] ?? "";
			if (new RegExp(`:${port}(,|$)`).test(listeners.trim())) return pid;
		} catch {
			// its properties are gone or unreadable: not the one
		}
	}
	return null;
}

/** What the broker's JVM runs with, as the report says it. */
function jvmFlagsOf(pid: number | null): string {
	const args = pid == null ? null : commandLine(pid);
	if (!args) return "JVM flags unknown";
	if (args.includes("-XX:TieredStopAtLevel=1"))
		return "infra/servers' quick-start JVM flags (C1 JIT only, serial GC): more CPU per event than production's";
	return `JVM flags ${args.filter(a => a.startsWith("-X") || a === "-server").join(" ")}`;
}

async function dropKafkaNamespace(url: string, namespace: string): Promise<void> {
	const admin = new Kafka({
		clientId: `${namespace}-bench-cleanup`,
		brokers: [url.replace(/^kafka:\/\//, "")],
		logLevel: logLevel.NOTHING,
	}).admin();
	await admin.connect();
	try {
		// @moleculer/channels names a channel's consumer group "<service>:<namespace>.<channel>".
		const { groups } = await admin.listGroups();
		const groupIds = groups.map(g => g.groupId).filter(id => id.includes(`:${namespace}.`));
		if (groupIds.length) await admin.deleteGroups(groupIds);
		const topics = (await admin.listTopics()).filter(t => t.startsWith(`${namespace}.`));
		if (topics.length) await admin.deleteTopics({ topics });
	} finally {
		await admin.disconnect();
	}
}

/** Produce requests a new broker is sent before it is measured, in rounds (see `warmUp`). */
export const WARM_UP = { rounds: 6, sendsPerRound: 10_000, inFlight: 16, producers: 4 };

/**
 * A new broker interprets, then compiles, its produce path over its first tens of thousands of requests: its CPU per
 * produce request fell from 1.2 ms over its first 4,000 requests to 0.12 ms after 48,000 (measured on this machine),
 * a production broker having long been past that. So the benchmark's own broker is first sent `WARM_UP` single-message
 * produce requests (as @moleculer/channels sends an event: one message per request) to a topic of its own, before
 * any group runs. Returns its CPU ms per request in the first and in the last round.
 */
async function warmUp(url: string, pid: number): Promise<{ firstMs: number; lastMs: number }> {
	const kafka = new Kafka({
		clientId: "bench-warm-up",
		brokers: [url.replace(/^kafka:\/\//, "")],
		logLevel: logLevel.NOTHING,
	});
	const topic = "bench-warm-up";
	const admin = kafka.admin();
	await admin.connect();
	await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] }).finally(() => admin.disconnect());
	const producers = Array.from({ length: WARM_UP.producers }, () =>
		kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }),
	);
	await Promise.all(producers.map(p => p.connect()));
	// About the size of a domain event's envelope.
	const value = JSON.stringify({ id: randomBytes(16).toString("hex"), type: "order.created", data: { lines: [1, 2] } });
	const perRequest: number[] = [];
	try {
		for (let round = 0; round < WARM_UP.rounds; round++) {
			const before = cpuMsOf(pid) ?? 0;
			let sent = 0;
			await Promise.all(
				Array.from({ length: WARM_UP.inFlight }, async (_, i) => {
					while (sent++ < WARM_UP.sendsPerRound)
						await producers[i % producers.length].send({ topic, messages: [{ value }] });
				}),
			);
			perRequest.push(((cpuMsOf(pid) ?? before) - before) / WARM_UP.sendsPerRound);
		}
	} finally {
		await Promise.all(producers.map(p => p.disconnect()));
	}
	return { firstMs: perRequest[0], lastMs: perRequest[perRequest.length - 1] };
}

async function startOwnKafka(log: (line: string) => void): Promise<BenchKafka> {
	const instance = `bench${process.pid}-${randomBytes(3).toString("hex")}`;
	const port = await freePort();
	const env = {
		...PRODUCTION_KAFKA_ENV,
		INFRA_INSTANCE: instance,
		KAFKA_PORT: String(port),
		KAFKA_CONTROLLER_PORT: String(await freePort()),
	};
	log(`starting Kafka for the benchmark on 127.0.0.1:${port} (production JVM flags) ...`);
	await runInfra(["start", "kafka"], env);
	const stateDir = path.join(INFRA_HOME, `kafka-${instance}`);
	const pid = Number(readFileSync(path.join(stateDir, "pid"), "utf8").trim());
	const url = `kafka://127.0.0.1:${port}`;
	const dispose = async () => {
		await runInfra(["stop", "kafka"], env);
		await rm(stateDir, { recursive: true, force: true });
	};
	const sends = WARM_UP.rounds * WARM_UP.sendsPerRound;
	log(`warming Kafka up: ${sends} produce requests ...`);
	const warm = await warmUp(url, pid).catch(async (err: Error) => {
		await dispose();
		throw err;
	});
	const cpu =
		`${warm.firstMs.toFixed(3)} ms of its CPU per request in the first ${WARM_UP.sendsPerRound}, ` +
		`${warm.lastMs.toFixed(3)} in the last`;
	log(`Kafka warmed up: ${cpu}`);
	return {
		url,
		pid,
		description:
			`Kafka started by the benchmark on ${url} with a production broker's JVM flags ` +
			`(${PRODUCTION_KAFKA_ENV.KAFKA_HEAP} ${PRODUCTION_KAFKA_ENV.KAFKA_JVM_FLAGS}), ` +
			`warmed up with ${sends} produce requests before the first group (${cpu})`,
		dropNamespace: namespace => dropKafkaNamespace(url, namespace),
		dispose,
	};
}

/** The Kafka of this run, as `choice` says (see `KafkaChoice`). */
export async function useKafka(choice: KafkaChoice, log: (line: string) => void): Promise<BenchKafka> {
	const port = INFRA_PORTS.kafka;
	if (choice === "own" || !(await portOpen(port))) return startOwnKafka(log);
	const url = `kafka://127.0.0.1:${port}`;
	const pid = kafkaPidOnPort(port);
	if (pid == null) log(`no kafka.Kafka process of this machine listens on ${url}: Kafka's CPU is not counted`);
	return {
		url,
		pid,
		description:
			`the Kafka already running on ${url}: ${jvmFlagsOf(pid)}; ` + "whatever else uses it meanwhile counts in its CPU",
		dropNamespace: namespace => dropKafkaNamespace(url, namespace),
		dispose: () => Promise.resolve(),
	};
}
