import { capacityPlan, PLANNED_UTILISATION, type CapacityRow } from "./capacity";
import { LOAD_GENERATOR } from "./load";
import type { machineInfo } from "./processes";
import type { EventBusKind, GroupName, InvariantResult, ProcessStats, ScenarioResult } from "./types";

export interface Target {
	what: string;
	/** The figure compared, e.g. "ratio 0.52". */
	actual: string;
	goal: string;
	met: boolean | null;
}

/** The domain-event bus of the across-nodes groups. */
export interface EventBusInfo {
	kind: EventBusKind;
	url: string;
	/** Which instance, how started. */
	description: string;
	/** Its process's CPU is in the sums: NATS (nats-server) always, Kafka when its process was found. */
	cpuCounted: boolean;
}

export interface BenchReport {
	machine: ReturnType<typeof machineInfo>;
	settings: {
		seconds: number;
		warmupSeconds: number;
		connections: Record<string, number>;
		linesPerOrder: number;
		products: number;
		variantProducts: number;
		/** Null when no across-nodes group ran. */
		eventBus: EventBusInfo | null;
		notes: string[];
	};
	scenarios: ScenarioResult[];
	processes: ProcessStats[];
	invariants: InvariantResult[];
	/** CPU utilisation by process and what saturates first, across nodes and one process on PostgreSQL. */
	saturation: Saturation[];
	/** Cores and nodes for PLANNED_RATES at the across-nodes order path's CPU per order (README "Scaling"). */
	capacity: CapacityRow[];
	targets: Target[];
}

const fixed = (n: number | null | undefined, digits: number) =>
	n == null || Number.isNaN(n) ? "-" : n.toFixed(digits);

/** The target figures of issue 16 (2 cores, ratios to the limit of the same run). */
export const TARGETS = {
	productByIdRatio: 0.35,
	productListRatio: 0.22,
	productByIdAcrossNodesRatio: 0.12,
	orderRatio: 0.02,
	orderP99Ms: 50,
	ordersAcrossNodesPerSecond: 300,
	ordersAcrossNodesP99Ms: 150,
	cpuMsPerOrderAcrossNodes: 6,
	onePeakRssMB: 300,
	idleNodeRssMB: 120,
};

type Scenarios = Pick<BenchReport, "scenarios">;

function scenario(report: Scenarios, group: string, key: string): ScenarioResult | undefined {
	return report.scenarios.find(r => r.group === group && r.key === key);
}

const NOT_MEASURED = "not measured in this run";
const errorsNote = (s: ScenarioResult) => (s.errors ? `, ${s.errors} errors` : "");

/** A ratio to the limit (and a p99 bound) of one path; `unit` names what its req/s count. */
function ratioTarget(
	report: Scenarios,
	what: string,
	where: { group: string; key: string },
	min: number,
	opts: { maxP99?: number; unit?: string } = {},
): Target {
	const goal = `ratio >= ${min}${opts.maxP99 !== undefined ? `, p99 < ${opts.maxP99} ms` : ""}, no errors`;
	const s = scenario(report, where.group, where.key);
	if (!s) return { what, actual: NOT_MEASURED, goal, met: null };
	const p99Ok = opts.maxP99 === undefined || s.latencyMs.p99 < opts.maxP99;
	return {
		what,
		actual:
			`ratio ${fixed(s.ratio, 3)} (${fixed(s.rps, 0)} ${opts.unit ?? "req"}/s)` +
			(opts.maxP99 !== undefined ? `, p99 ${fixed(s.latencyMs.p99, 1)} ms` : "") +
			errorsNote(s),
		goal,
		met: s.ratio != null && s.ratio >= min && p99Ok && s.errors === 0,
	};
}

/** Where the CPU per order across nodes is short of "every process": a bus other than Kafka, or Kafka not found. */
function busCaveat(bus: EventBusInfo | null): string | null {
	if (!bus) return null;
	if (bus.kind !== "kafka") return "events over NATS JetStream: the target is with Kafka";
	return bus.cpuCounted ? null : "Kafka's CPU not counted (its process was not found)";
}

/** A figure measured, not a target of the issue. */
function reported(what: string, s: ScenarioResult | undefined): Target | null {
	if (!s) return null;
	return {
		what,
		actual:
			`${fixed(s.rps, 0)}/s, ratio ${fixed(s.ratio, 3)}, p99 ${fixed(s.latencyMs.p99, 1)} ms, ` +
			`CPU ${fixed(s.cpuMsPerRequestExceptLoadGenerator, 2)} ms` +
			errorsNote(s),
		goal: "reported, no target",
		met: null,
	};
}

/**
 * Issue 16's targets on a 2-core machine (ratios to the limit measured in the same run), one row each; the figures
 * the issue sets no target for are reported as such. CPU per order sums every process but the load generator.
 */
export function evaluateTargets(
	report: Pick<BenchReport, "scenarios" | "processes" | "invariants" | "saturation"> & {
		eventBus: EventBusInfo | null;
	},
): Target[] {
	const one = (key: string) => ({ group: "one-process", key });
	const across = (key: string) => ({ group: "across-nodes", key });
	const targets: (Target | null)[] = [
		ratioTarget(report, "product by id, one process, metrics on", one("productById"), TARGETS.productByIdRatio),
		ratioTarget(report, "product list page, one process", one("productList"), TARGETS.productListRatio),
		ratioTarget(report, "product by id, across nodes", across("productById"), TARGETS.productByIdAcrossNodesRatio),
		ratioTarget(report, "order placement, one process, in memory", one("orderPlacement"), TARGETS.orderRatio, {
			maxP99: TARGETS.orderP99Ms,
			unit: "orders",
		}),
		ratioTarget(
			report,
			"checkout from a cart, one process, in memory (rate in checkouts/s of 6 requests; p99 of the checkout)",
			one("cartCheckout"),
			TARGETS.orderRatio,
			{ maxP99: TARGETS.orderP99Ms, unit: "checkouts" },
		),
	];

	const orders = scenario(report, "across-nodes", "orderPlacement");
	const caveat = busCaveat(report.eventBus);
	const ordersGoal =
		`>= ${TARGETS.ordersAcrossNodesPerSecond} orders/s, p99 < ${TARGETS.ordersAcrossNodesP99Ms} ms, no errors` +
		(caveat ? ` (${caveat})` : "");
	targets.push({
		what: "orders across nodes (MariaDB, NATS calls, Kafka events)",
		actual: orders
			? `${fixed(orders.rps, 0)} orders/s, p99 ${fixed(orders.latencyMs.p99, 1)} ms${errorsNote(orders)}`
			: NOT_MEASURED,
		goal: ordersGoal,
		met:
			!orders || caveat
				? null
				: orders.rps >= TARGETS.ordersAcrossNodesPerSecond &&
					orders.latencyMs.p99 < TARGETS.ordersAcrossNodesP99Ms &&
					orders.errors === 0,
	});
	const cpuGoal =
		`<= ${TARGETS.cpuMsPerOrderAcrossNodes} ms` + (caveat ? ` (${caveat})` : " (load generator excluded)");
	targets.push({
		what: "orders across nodes, CPU per order summed over every process: nodes, mariadbd, nats-server, redis, kafka",
		actual: orders ? `${fixed(orders.cpuMsPerRequestExceptLoadGenerator, 2)} ms` : NOT_MEASURED,
		goal: cpuGoal,
		met: !orders || caveat ? null : orders.cpuMsPerRequestExceptLoadGenerator <= TARGETS.cpuMsPerOrderAcrossNodes,
	});

	const shop = report.processes.find(p => p.group === "one-process" && p.name === "shop");
	targets.push({
		what: "memory: one-process shop under load, peak RSS",
		actual: shop ? `${fixed(shop.peakRssMB, 0)} MB` : NOT_MEASURED,
		goal: `< ${TARGETS.onePeakRssMB} MB`,
		met: shop ? shop.peakRssMB < TARGETS.onePeakRssMB : null,
	});
	const singles = report.processes.filter(
		p => p.group.startsWith("across-nodes") && p.services.length === 1 && p.idleRssMB != null,
	);
	const largest = singles.length ? singles.reduce((a, b) => (b.idleRssMB! > a.idleRssMB! ? b : a)) : null;
	targets.push({
		what: "memory: idle single-actor node, RSS",
		actual: largest ? `${fixed(largest.idleRssMB, 0)} MB (largest: ${largest.group} ${largest.name})` : NOT_MEASURED,
		goal: `< ${TARGETS.idleNodeRssMB} MB`,
		met: largest ? largest.idleRssMB! < TARGETS.idleNodeRssMB : null,
	});

	const failing = report.scenarios.filter(s => s.errors > 0);
	targets.push({
		what: "no errors, every path of every group",
		actual: failing.length
			? failing.map(s => `${s.group} ${s.key}: ${s.errors}`).join("; ")
			: `none in ${report.scenarios.length} paths`,
		goal: "none",
		met: failing.length === 0,
	});
	for (const inv of report.invariants) {
		targets.push({
			what: `invariants after the load, ${inv.group}`,
			actual: inv.ok ? "hold" : `${inv.violations.length} violations`,
			goal: "hold",
			met: inv.ok,
		});
	}

	// Measured without a target of their own: for comparison with the paths above.
	for (const group of ["one-process", "across-nodes"]) {
		const where = group === "one-process" ? "one process" : "across nodes";
		targets.push(reported(`product with variants by id, ${where}`, scenario(report, group, "variantProductById")));
	}
	targets.push(reported("product list page, across nodes", scenario(report, "across-nodes", "productList")));
	targets.push(
		reported("checkout from a cart, across nodes (per checkout)", scenario(report, "across-nodes", "cartCheckout")),
	);
	// Orders where the run also names what saturated first.
	const withSaturation = (what: string, group: GroupName) => {
		const row = reported(what, scenario(report, group, "orderPlacement"));
		const saturation = report.saturation.find(x => x.group === group && x.key === "orderPlacement");
		if (row && saturation) row.actual += `; saturates first: ${saturation.saturatesFirst}`;
		return row;
	};
	targets.push(withSaturation("order placement, one process on PostgreSQL", "one-process-postgres"));
	targets.push(withSaturation("orders across nodes, two orders and two inventory nodes", "across-nodes-scaled"));
	return targets.filter((t): t is Target => t !== null);
}

/** How busy each process was during one path's measured run, and what saturates first. */
export interface Saturation {
	group: string;
	key: string;
	/** Each process's CPU over the measured run in % of one core, busiest first (the load generator included). */
	processes: { name: string; percentOfOneCore: number }[];
	/** Every process but the load generator together, in % of one core. */
	shopPercent: number;
	loadGeneratorPercent: number;
	/** The whole machine, every process whether measured or not (null off Linux). */
	machinePercent: number | null;
	/** What the machine's cores give: cores × 100 %. */
	capacityPercent: number;
	/** The busiest process but the load generator, and its share of one core. */
	saturatesFirst: string;
	/** Which limit binds: the cores (nearly all busy), one process (a core full), or neither; and other work seen. */
	verdict: string;
}

/**
 * The CPU utilisation by process of the paths whose servers are measured beside the shop (across nodes, and one process
 * on PostgreSQL). The busiest process is what saturates first as the load grows, unless the machine's cores are
 * already nearly all busy (90 %): then the cores saturate before any one process.
 */
export function saturationOf(scenarios: ScenarioResult[], cores: number): Saturation[] {
	return scenarios
		.filter(s => s.group.startsWith("across-nodes") || s.group === "one-process-postgres")
		.map(s => {
			const processes = Object.entries(s.cpuPercentOfOneCore)
				.map(([name, percentOfOneCore]) => ({ name, percentOfOneCore }))
				.sort((a, b) => b.percentOfOneCore - a.percentOfOneCore);
			const shop = processes.filter(p => p.name !== LOAD_GENERATOR);
			const shopPercent = Math.round(shop.reduce((sum, p) => sum + p.percentOfOneCore, 0) * 10) / 10;
			const loadGeneratorPercent = s.cpuPercentOfOneCore[LOAD_GENERATOR] ?? 0;
			const capacityPercent = cores * 100;
			const busiest = shop[0];
			const ours = shopPercent + loadGeneratorPercent;
			const busy = s.machineBusyPercent ?? ours;
			const other = Math.max(0, busy - ours);
			const busiestText = busiest ? `${busiest.name} (${fixed(busiest.percentOfOneCore, 0)} % of one core)` : "-";
			const binds =
				busy >= 0.9 * capacityPercent
					? `the ${cores} cores (${fixed(busy, 0)} % of ${capacityPercent} % busy) before any one process; ` +
						`busiest ${busiestText}`
					: busiest && busiest.percentOfOneCore >= 90
						? `${busiestText}, a core full`
						: `nothing (${fixed(busy, 0)} % of ${capacityPercent} % busy); busiest ${busiestText}`;
			const otherNote =
				other >= 0.05 * capacityPercent ? `; other work on the machine took ${fixed(other, 0)} % meanwhile` : "";
			return {
				group: s.group,
				key: s.key,
				processes,
				shopPercent,
				loadGeneratorPercent,
				machinePercent: s.machineBusyPercent,
				capacityPercent,
				saturatesFirst: busiestText,
				verdict: binds + otherNote,
			};
		});
}

function table(headers: string[], rows: string[][], rightAligned: Set<number>): string {
	const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)));
	const line = (cells: string[]) =>
		cells
			.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
			.join("  ")
			.trimEnd();
	return [line(headers), widths.map(w => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const ORDER_PATHS = new Set(["orderPlacement", "cartCheckout"]);

/** Processes as rows, the paths of `saturationOf` as columns: CPU in % of one core, then what saturates first. */
function formatSaturation(saturation: Saturation[]): string {
	const column = (x: Saturation) => (x.group === "across-nodes" ? x.key : `${x.key} (${x.group})`);
	const percentOf = (x: Saturation, name: string) => x.processes.find(p => p.name === name)?.percentOfOneCore;
	const busiest = (name: string) => Math.max(...saturation.map(x => percentOf(x, name) ?? 0));
	const names = [...new Set(saturation.flatMap(x => x.processes.map(p => p.name)))].sort(
		(a, b) => busiest(b) - busiest(a),
	);
	const rows = names.map(name => [name, ...saturation.map(x => fixed(percentOf(x, name), 1))]);
	rows.push(["every process but the load generator", ...saturation.map(x => fixed(x.shopPercent, 1))]);
	rows.push(["the whole machine, every process", ...saturation.map(x => fixed(x.machinePercent, 1))]);
	rows.push(["what the cores give", ...saturation.map(x => fixed(x.capacityPercent, 0))]);
	const columns = saturation.map((_, i) => i + 1);
	return [
		"CPU utilisation during the measured run, % of one core (CPU ms per request × req/s / 10):",
		table(["process", ...saturation.map(column)], rows, new Set(columns)),
		...saturation.map(x => `  saturates first, ${x.group} ${x.key}: ${x.verdict}`),
	].join("\n");
}

/** The report as the text `npm run bench` prints (also the README's Performance section). */
export function formatReport(report: BenchReport): string {
	const m = report.machine;
	const out: string[] = [];
	out.push(
		`${m.cpu}, ${m.cores} cores, ${m.memoryGB} GB, Node ${m.node}, ${m.platform}; ${m.date}; ` +
			`load average at start ${m.loadAverage.join(" ")}` +
			(m.loadAverageEnd ? `, at end ${m.loadAverageEnd.join(" ")}` : ""),
	);
	if (report.settings.eventBus) out.push(`Events across nodes: ${report.settings.eventBus.description}`);
	out.push(
		`${report.settings.warmupSeconds} s warm-up + ${report.settings.seconds} s per path; connections: ${Object.entries(
			report.settings.connections,
		)
			.map(([k, v]) => `${k} ${v}`)
			.join(", ")}`,
	);
	out.push("");
	out.push(
		table(
			["group", "path", "conns", "req/s", "p50 ms", "p99 ms", "errors", "ratio"],
			report.scenarios.map(s => [
				s.group,
				s.label,
				String(s.connections),
				fixed(s.rps, 0),
				fixed(s.latencyMs.p50, 2),
				fixed(s.latencyMs.p99, 2),
				String(s.errors),
				fixed(s.ratio, 3),
			]),
			new Set([2, 3, 4, 5, 6, 7]),
		),
	);
	out.push("", "CPU ms per request, by process (where the work goes):");
	for (const s of report.scenarios) {
		const byProcess = Object.entries(s.cpuMsPerRequest)
			.filter(([, ms]) => ms > 0)
			.sort((a, b) => b[1] - a[1]);
		const withLoad = byProcess.reduce((sum, [, ms]) => sum + ms, 0);
		const shares = byProcess.map(([name, ms]) => `${name} ${fixed(ms, 3)}`);
		out.push(
			`  ${s.group} ${s.key}: total ${fixed(s.cpuMsPerRequestExceptLoadGenerator, 3)} without the load generator ` +
				`(${fixed(withLoad, 3)} with it) = ${shares.join(", ")}`,
		);
	}
	const orderPaths = report.scenarios.filter(s => ORDER_PATHS.has(s.key));
	if (orderPaths.length) {
		out.push("", "CPU ms per order, summed over every process (load generator excluded):");
		for (const s of orderPaths) {
			const unit = s.key === "cartCheckout" ? " (per checkout)" : "";
			out.push(`  ${s.group} ${s.key}${unit}: ${fixed(s.cpuMsPerRequestExceptLoadGenerator, 2)}`);
		}
	}
	if (report.saturation.length) out.push("", formatSaturation(report.saturation));
	const onPostgres = report.scenarios.filter(s => s.postgresWaits);
	if (onPostgres.length) {
		out.push("", "What PostgreSQL's sessions did in the measured run, % of sampled session time (idle ones left out):");
		for (const s of onPostgres) {
			const waits = Object.entries(s.postgresWaits!).map(([what, percent]) => `${what} ${fixed(percent, 1)}`);
			out.push(`  ${s.group} ${s.key}: ${waits.join(", ") || "no session sampled"}`);
		}
	}
	if (report.capacity.length) out.push("", formatCapacity(report.capacity));
	out.push("");
	out.push(
		table(
			["group", "process", "actors", "idle CPU %", "idle RSS MB", "peak RSS MB"],
			report.processes.map(p => [
				p.group,
				p.name,
				p.services.join(",") || "-",
				fixed(p.idleCpuPercent, 1),
				fixed(p.idleRssMB, 0),
				fixed(p.peakRssMB, 0),
			]),
			new Set([3, 4, 5]),
		),
	);
	if (report.targets.length) {
		out.push("");
		out.push(
			table(
				["target", "measured", "goal", "met"],
				report.targets.map(t => [t.what, t.actual, t.goal, t.met == null ? "-" : t.met ? "yes" : "NO"]),
				new Set(),
			),
		);
	}
	for (const inv of report.invariants.filter(i => !i.ok)) {
		out.push("", `Invariant violations (${inv.group}):`, ...inv.violations.map(v => `  ${v}`));
	}
	return out.join("\n");
}

/** The order rates README "Scaling" plans for. */
export const PLANNED_RATES = [1000, 10_000] as const;

/** The capacity model of the across-nodes order path, from the CPU each process spent per order in this run. */
export function capacityOf(scenarios: ScenarioResult[]): CapacityRow[] {
	const orders = scenarios.find(s => s.group === "across-nodes" && s.key === "orderPlacement");
	return orders ? capacityPlan(orders.cpuMsPerRequest, PLANNED_RATES) : [];
}

function formatCapacity(rows: CapacityRow[]): string {
	const rates = PLANNED_RATES.map(rate => `${rate} orders/s`);
	return [
		`What ${rates.join(" and ")} would need at this run's CPU per order across nodes, each process at most ` +
			`${PLANNED_UTILISATION * 100} % busy (a linear model: README "Scaling" says what binds before CPU):`,
		table(
			["process", "CPU ms per order", ...rates.map(r => `cores at ${r}`), ...rates.map(r => `nodes at ${r}`)],
			rows.map(row => [
				row.process,
				fixed(row.cpuMsPerOrder, 2),
				...row.cores.map(c => fixed(c, 1)),
				...(row.nodes ?? PLANNED_RATES.map(() => null)).map(n => (n === null ? "(server)" : String(n))),
			]),
			new Set([1, 2, 3, 4, 5]),
		),
	].join("\n");
}
