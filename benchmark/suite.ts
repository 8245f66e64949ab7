import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildDist } from "../scripts/nodes";
import { useKafka, type BenchKafka, type KafkaChoice } from "./kafka";
import { LOAD_GENERATOR, measure } from "./load";
import { SelfRssSampler, machineInfo, memoryOf, startReferenceServer } from "./processes";
import { capacityOf, evaluateTargets, saturationOf, type BenchReport, type EventBusInfo } from "./report";
import { runOneProcess, SQL_PATHS } from "./scenarios/one-process";
import { runAcrossNodes, SCALED_PATHS } from "./scenarios/across-nodes";
import { SERVER_URLS } from "./scenarios/env";
import { CONNECTIONS, LINES_PER_ORDER, PRODUCTS, VARIANT_PRODUCTS } from "./scenarios/shop";
import type { EventBusKind, GroupContext, GroupName, GroupResult, ProcessStats, ScenarioResult } from "./types";

export interface BenchOptions {
	/** Measured seconds per path. */
	seconds: number;
	warmupSeconds: number;
	groups: GroupName[];
	/** Where the JSON report goes; null: nowhere. */
	out: string | null;
	/** Compile dist/ first (the nodes run it). */
	build: boolean;
	cpuProfileDir?: string;
	/** Only these paths (`PATH_KEYS`: productById, variantProductById, productList, orderPlacement, cartCheckout). */
	paths?: string[];
	withNotifications?: boolean;
	/** The event bus across nodes (default Kafka, as issue 16 measures it). */
	events?: EventBusKind;
	/** Which Kafka (default `own`: one the run starts with production JVM flags; see `KafkaChoice`). */
	kafka?: KafkaChoice;
	onNodeLine?: GroupContext["onNodeLine"];
	/** Evaluate the targets (off for smoke runs, whose figures mean nothing). */
	targets: boolean;
	log?: (line: string) => void;
}

/**
 * Measured once per run, on the first group's product body: the limit, and the moleculer-web floor (one trivial
 * action answering the same JSON) bare and with the shop's defaults, to tell the shop's own cost from Moleculer's.
 */
const REFERENCES = [
	{
		group: "limit",
		key: "limit",
		process: "limit server",
		script: "limit-server",
		env: {},
		label: (bytes: number) => `node:http, fixed ${bytes} B product JSON`,
	},
	{
		group: "reference",
		key: "floor",
		process: "floor server",
		script: "floor-server",
		env: { FLOOR_METRICS: "false", FLOOR_CACHE: "false" },
		label: () => "moleculer-web, 1 trivial action",
	},
	{
		group: "reference",
		key: "floorDefaults",
		process: "floor server, metrics+cache",
		script: "floor-server",
		env: { FLOOR_METRICS: "true", FLOOR_CACHE: "true" },
		label: () => "the same + metrics + memory cache hit",
	},
] as const;

const GROUPS: Record<GroupName, (ctx: GroupContext) => Promise<GroupResult>> = {
	"one-process": ctx => runOneProcess(ctx, "one-process"),
	"one-process-no-metrics": ctx => runOneProcess(ctx, "one-process-no-metrics"),
	"one-process-postgres": ctx => runOneProcess(ctx, "one-process-postgres"),
	"across-nodes": ctx => runAcrossNodes(ctx, "across-nodes"),
	"across-nodes-scaled": ctx => runAcrossNodes(ctx, "across-nodes-scaled"),
};

/** The groups that measure some paths only (the others measure all, or those of `--paths`). */
const ONLY_PATHS: Partial<Record<GroupName, string[]>> = {
	"one-process-postgres": SQL_PATHS,
	"across-nodes-scaled": SCALED_PATHS,
};

/** Which bus the across-nodes groups used; null when none ran. */
async function eventBusInfo(
	events: EventBusKind,
	groups: GroupName[],
	kafka: Promise<BenchKafka> | undefined,
): Promise<EventBusInfo | null> {
	if (!groups.some(g => g.startsWith("across-nodes"))) return null;
	if (events === "nats")
		return {
			kind: "nats",
			url: SERVER_URLS.nats,
			description: `NATS JetStream on ${SERVER_URLS.nats} (the loopback nats-server, also the transporter)`,
			cpuCounted: true,
		};
	const used = kafka ? await kafka : null;
	if (!used) return null;
	return { kind: "kafka", url: used.url, description: used.description, cpuCounted: used.pid != null };
}

/**
 * One benchmark run: the limit (a bare node:http server answering the same product JSON), then each group's paths,
 * every process started and stopped here. Ratios compare with the limit of this very run.
 */
export async function runBench(opts: BenchOptions): Promise<BenchReport> {
	const log = opts.log ?? (() => undefined);
	const machine = machineInfo();
	const self = new SelfRssSampler();
	if (opts.build) {
		log("building dist/ ...");
		await buildDist();
	}

	const references: ScenarioResult[] = [];
	const processes: ProcessStats[] = [];
	const events = opts.events ?? "kafka";
	let kafka: Promise<BenchKafka> | undefined;
	const ctx: GroupContext = {
		seconds: opts.seconds,
		warmupSeconds: opts.warmupSeconds,
		log,
		cpuProfileDir: opts.cpuProfileDir,
		paths: opts.paths,
		onNodeLine: opts.onNodeLine,
		withNotifications: opts.withNotifications ?? false,
		events,
		kafka() {
			kafka ??= useKafka(opts.kafka ?? "own", log);
			return kafka;
		},
		async ensureLimit(productBody: string) {
			if (references.length) return;
			const bytes = Buffer.byteLength(productBody);
			for (const ref of REFERENCES) {
				const server = await startReferenceServer(ref.script, productBody, ref.env);
				try {
					log(`${ref.group}: ${ref.label(bytes)}, ${CONNECTIONS.read} connections`);
					const measured = await measure(
						{ url: `${server.url}/api/products/reference`, connections: CONNECTIONS.read },
						{
							warmupSeconds: opts.warmupSeconds,
							seconds: opts.seconds,
							cpuOf: { [ref.process]: server.pid, [LOAD_GENERATOR]: process.pid },
						},
					);
					references.push({ group: ref.group, key: ref.key, label: ref.label(bytes), ratio: null, ...measured });
					processes.push({
						group: ref.group,
						name: ref.process,
						services: [],
						idleRssMB: null,
						peakRssMB: memoryOf(server.pid)?.peakMB ?? NaN,
					});
				} finally {
					await server.stop();
				}
			}
		},
	};

	const groupScenarios: ScenarioResult[] = [];
	const invariants = [];
	try {
		for (const group of opts.groups) {
			// Two groups measure some paths only.
			const only = ONLY_PATHS[group];
			if (only && opts.paths && !opts.paths.some(key => only.includes(key))) {
				log(`${group}: skipped (it measures ${only.join(", ")} only, which --paths leaves out)`);
				continue;
			}
			const result = await GROUPS[group](ctx);
			groupScenarios.push(...result.scenarios);
			processes.push(...result.processes);
			invariants.push(result.invariants);
		}
		const kafkaPid = kafka ? (await kafka).pid : null;
		if (kafkaPid != null)
			processes.push({
				group: "event bus",
				name: "kafka",
				services: [],
				idleRssMB: null,
				peakRssMB: memoryOf(kafkaPid)?.peakMB ?? NaN,
			});
	} finally {
		// A Kafka that failed to start has already said why (the group's error).
		await kafka?.then(
			started => started.dispose(),
			() => undefined,
		);
	}
	processes.push({
		group: "load generator",
		name: "benchmark (autocannon)",
		services: [],
		idleRssMB: null,
		peakRssMB: self.stop(),
	});
	// Other work on the machine skews every ratio: the load at the end shows whether the run had it to itself.
	machine.loadAverageEnd = machineInfo().loadAverage;

	const limitRps = references.find(r => r.key === "limit")?.rps ?? null;
	const scenarios = [...references, ...groupScenarios].map(s => ({
		...s,
		ratio: limitRps ? Math.round((s.rps / limitRps) * 10_000) / 10_000 : null,
	}));
	const eventBus = await eventBusInfo(events, opts.groups, kafka);
	const saturation = saturationOf(scenarios, machine.cores);
	const partial = { scenarios, processes, invariants, saturation };
	const report: BenchReport = {
		machine,
		settings: {
			seconds: opts.seconds,
			warmupSeconds: opts.warmupSeconds,
			connections: { ...CONNECTIONS },
			linesPerOrder: LINES_PER_ORDER,
			products: PRODUCTS,
			variantProducts: VARIANT_PRODUCTS,
			eventBus,
			notes: [
				"The limit is a bare node:http server in its own process answering the exact body of GET /api/products/:id.",
				"The reference rows are moleculer-web in front of one trivial action answering that body, in its own " +
					"process: bare, then with Moleculer's built-in metrics and a memory cache hit (the shop's defaults).",
				"Each path: one warm-up run, then the measured run, with a fixed number of connections (no pipelining).",
				"Errors are socket errors, timeouts and non-2xx answers. Latency percentiles are over the 2xx answers.",
				"Checkout from a cart is a sequence per connection (create the cart, add two variants, choose shipping, " +
					"apply a code, check out): its req/s are checkouts/s, its latency that of the checkout request, its CPU " +
					"ms per checkout.",
				"Peak RSS is each process's VmHWM after its load; the load generator's is sampled from process.memoryUsage().",
				"CPU ms per request is each process's user+system CPU time over the measured run divided by the answered " +
					"requests; the loopback servers' share (mariadbd, nats-server, redis-server, kafka) includes anything " +
					"else using them meanwhile. Its total, and the CPU per order of the targets, leave the load generator " +
					"(autocannon, in the benchmark's process) out: it is the clients', not the shop's.",
				"CPU utilisation is each process's CPU time over the measured run's wall time, in % of one core; the " +
					"busiest process is what saturates first, unless every process together keeps the cores busy.",
				"across-nodes-scaled: the across-nodes shop with two orders and two inventory nodes, order placement only; " +
					"on two cores it shows what the extra nodes cost and what saturates, not a speed-up.",
			],
		},
		...partial,
		capacity: capacityOf(scenarios),
		targets: opts.targets ? evaluateTargets({ ...partial, eventBus }) : [],
	};
	if (opts.out) {
		mkdirSync(path.dirname(opts.out), { recursive: true });
		writeFileSync(opts.out, JSON.stringify(report, null, "\t") + "\n");
	}
	return report;
}
