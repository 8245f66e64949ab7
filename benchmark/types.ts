import type { BenchKafka } from "./kafka";
import type { CpuFigures, Measurement } from "./load";
import type { PathSpec } from "./scenarios/shop";

/**
 * `one-process-no-metrics`: the same shop with METRICS=false, to show what Moleculer's built-in metrics cost.
 * `one-process-postgres`: the same shop on PostgreSQL, its SQL paths only (issue 16: what the SQL path waits for).
 * `across-nodes-scaled`: across nodes with two orders and two inventory nodes, order placement only (what saturates).
 */
export type GroupName =
	"one-process" | "one-process-no-metrics" | "one-process-postgres" | "across-nodes" | "across-nodes-scaled";

/** The domain-event bus across nodes: Kafka (the issue's), or NATS JetStream for comparison. */
export type EventBusKind = "kafka" | "nats";

/**
 * `limit`: bare node:http; `reference`: the moleculer-web floor, bare and with the shop's defaults. The CPU figures
 * cover the load generator and the loopback servers too (whose figures include whatever else used them meanwhile).
 */
export interface ScenarioResult extends Measurement, CpuFigures {
	group: GroupName | "limit" | "reference";
	key: PathSpec["key"] | "limit" | "floor" | "floorDefaults";
	label: string;
	/** requests/s over the limit's requests/s of the same run. */
	ratio: number | null;
	/** On PostgreSQL: what its sessions did in the measured run, % of sampled session time (`postgresWaitsDuring`). */
	postgresWaits?: Record<string, number>;
}

export interface ProcessStats {
	group: GroupName | "limit" | "reference" | "load generator" | "event bus";
	name: string;
	services: string[];
	/** RSS once started, before any load (nodes only). */
	idleRssMB: number | null;
	/** CPU used while idle, in % of one core (nodes across nodes only): timers, heartbeats, relays. */
	idleCpuPercent?: number | null;
	/** Highest RSS of the process's life (VmHWM), read after its load. */
	peakRssMB: number;
}

export interface InvariantResult {
	group: GroupName;
	ok: boolean;
	violations: string[];
	counts: unknown;
}

/** What a scenario group gets from the suite. */
export interface GroupContext {
	seconds: number;
	warmupSeconds: number;
	log(line: string): void;
	/** Measures the limit and the framework floor with this product body unless already measured in this run. */
	ensureLimit(productBody: string): Promise<void>;
	/** Writes a V8 CPU profile of each shop process into this directory (node --cpu-prof). */
	cpuProfileDir?: string;
	/** Receives every line the shop processes print (else they are kept for failure messages only). */
	onNodeLine?: (node: string, line: string) => void;
	/** Only these paths (all when absent), e.g. to profile one of them. */
	paths?: string[];
	/** Starts the notifications actor too (its own node across nodes). */
	withNotifications: boolean;
	/** The event bus across nodes. */
	events: EventBusKind;
	/** The run's Kafka, started at the first call and stopped at the end of the run. */
	kafka(): Promise<BenchKafka>;
}

export interface GroupResult {
	scenarios: ScenarioResult[];
	processes: ProcessStats[];
	invariants: InvariantResult;
}
