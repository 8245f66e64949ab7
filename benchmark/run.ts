import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../scripts/nodes";
import { formatReport } from "./report";
import { runBench } from "./suite";
import { PATH_KEYS } from "./scenarios/shop";
import type { KafkaChoice } from "./kafka";
import type { EventBusKind, GroupName } from "./types";

/**
 * `npm run bench`: compiles dist/, measures the limit and every group's paths, prints the table and writes
 * benchmark/results/latest.json. Needs the loopback NATS (every group), PostgreSQL (one process on PostgreSQL), Redis
 * and MariaDB (across nodes), and Java for Kafka (across nodes; `infra/servers` fetches its jars through Maven once).
 * Options: `--seconds 10 --warmup 3` per path, `--only one-process,across-nodes` (groups: one-process,
 * one-process-no-metrics, one-process-postgres, across-nodes, across-nodes-scaled), `--paths orderPlacement`,
 * `--kafka own` (default: a Kafka of the run's, production JVM flags) or `--kafka running` (the one on KAFKA_PORT if
 * it runs), `--events nats` (JetStream instead of Kafka across nodes, for comparison),
 * `--cpu-prof <dir>` (a V8 profile per shop process and path; read one with `tsx benchmark/cpu-profile.ts <file>`),
 * `--verbose` (the nodes' output), `--notifications` (its own node across nodes), `--no-build`, `--out <file>`.
 */
const { values } = parseArgs({
	options: {
		seconds: { type: "string", default: "10" },
		warmup: { type: "string", default: "3" },
		only: { type: "string" },
		paths: { type: "string" },
		out: { type: "string", default: path.join(ROOT, "benchmark/results/latest.json") },
		"cpu-prof": { type: "string" },
		kafka: { type: "string", default: "own" },
		events: { type: "string", default: "kafka" },
		notifications: { type: "boolean", default: false },
		verbose: { type: "boolean", default: false },
		"no-build": { type: "boolean", default: false },
	},
});

const ALL: GroupName[] = [
	"one-process",
	"one-process-no-metrics",
	"one-process-postgres",
	"across-nodes",
	"across-nodes-scaled",
];
const groups = values.only ? (values.only.split(",") as GroupName[]) : ALL;
for (const g of groups) if (!ALL.includes(g)) throw new Error(`--only takes ${ALL.join(", ")}; got "${g}"`);
const kafka = values.kafka as KafkaChoice;
if (!["own", "running"].includes(kafka)) throw new Error(`--kafka takes own or running; got "${kafka}"`);
const events = values.events as EventBusKind;
if (!["kafka", "nats"].includes(events)) throw new Error(`--events takes kafka or nats; got "${events}"`);
const paths = values.paths?.split(",");
for (const p of paths ?? [])
	if (!(PATH_KEYS as readonly string[]).includes(p))
		throw new Error(`--paths takes ${PATH_KEYS.join(", ")}; got "${p}"`);

const started = Date.now();
runBench({
	seconds: Number(values.seconds),
	warmupSeconds: Number(values.warmup),
	groups,
	out: values.out,
	build: !values["no-build"],
	cpuProfileDir: values["cpu-prof"],
	paths,
	onNodeLine: values.verbose ? (node, line) => process.stderr.write(`[${node}] ${line}\n`) : undefined,
	withNotifications: values.notifications,
	events,
	kafka,
	targets: true,
	log: line => process.stderr.write(`[bench] ${line}\n`),
}).then(
	report => {
		process.stdout.write(`\n${formatReport(report)}\n\n`);
		process.stderr.write(`[bench] done in ${Math.round((Date.now() - started) / 1000)} s; wrote ${values.out}\n`);
	},
	err => {
		process.stderr.write(`[bench] failed: ${err instanceof Error ? err.stack : String(err)}\n`);
		process.exit(1);
	},
);
