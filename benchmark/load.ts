import autocannon from "autocannon";
import { cpuDuring, type Watched } from "./processes";

/**
 * One HTTP path under load: a fixed number of connections, each repeating its own request as fast as it is
 * answered.
 */
export interface LoadSpec {
	url: string;
	method?: "GET" | "POST";
	connections: number;
	/** Path, headers and body of the n-th connection (0-based): spreads the load over users and products. */
	perConnection?: (n: number) => { path?: string; headers?: Record<string, string>; body?: string };
	/**
	 * Instead of one request, a sequence the n-th connection repeats (each request may depend on earlier answers
	 * through autocannon's context). One pass is one unit: `requests` and `rps` count the answers to `measuredStep`,
	 * whose 2xx answers the latency percentiles are over; errors count every request of the sequence.
	 * `run` tells the warm-up from the measured run: autocannon stops a run mid-pass without waiting for the answers
	 * in flight, so a sequence that keeps state in the shop (a customer's cart) gives each run its own.
	 */
	sequence?: (n: number, run: Run) => { steps: autocannon.SequenceRequest[]; measuredStep: number };
}

export type Run = "warmup" | "measured";

export interface Measurement {
	connections: number;
	seconds: number;
	/** Answered requests, or passes of a sequence (`LoadSpec.sequence`). */
	requests: number;
	/** Every answered HTTP request (more than `requests` for a sequence). */
	httpRequests: number;
	rps: number;
	latencyMs: { p50: number; p99: number; mean: number; max: number };
	/** Socket errors, timeouts and non-2xx answers together. */
	errors: number;
	non2xx: number;
	statusCodes: Record<string, number>;
}

/** Percentile of sorted values (nearest rank). */
function percentile(sorted: Float64Array, p: number): number {
	if (sorted.length === 0) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Runs autocannon for `seconds`. Latency percentiles come from every 2xx response time (autocannon's own histogram
 * has 1 ms resolution, too coarse for sub-millisecond paths); throughput is all answered requests over the run.
 */
async function fire(spec: LoadSpec, seconds: number, run: Run): Promise<Measurement> {
	let latencies = new Float64Array(1 << 16);
	let count = 0;
	let connection = 0;
	let units = 0;
	// Which request of its sequence each connection was last answered for.
	const lastStep = new WeakMap<object, number>();
	const instance = autocannon({
		url: spec.url,
		method: spec.method ?? "GET",
		connections: spec.connections,
		duration: seconds,
		timeout: 10,
		setupClient: client => {
			const n = connection++;
			if (spec.sequence) {
				const steps = spec.sequence(n, run).steps.map((step, i) => ({
					...step,
					onResponse: (status: number, body: string, context: Record<string, unknown>) => {
						lastStep.set(client, i);
						step.onResponse?.(status, body, context);
					},
				}));
				return client.setRequests(steps);
			}
			const custom = spec.perConnection?.(n);
			if (custom) client.setRequests([{ method: spec.method ?? "GET", ...custom }]);
		},
	});
	const measured = spec.sequence?.(0, run).measuredStep;
	instance.on("response", (client, status, _bytes, responseTime) => {
		if (measured !== undefined) {
			if (lastStep.get(client) !== measured) return;
			units++;
		}
		if (status < 200 || status > 299) return;
		if (count === latencies.length) {
			const grown = new Float64Array(latencies.length * 2);
			grown.set(latencies);
			latencies = grown;
		}
		latencies[count++] = responseTime;
	});
	const result = await instance;
	const sorted = latencies.subarray(0, count).sort();
	let sum = 0;
	for (const v of sorted) sum += v;
	const statusCodes = Object.fromEntries(
		Object.entries(result.statusCodeStats ?? {}).map(([code, { count: n }]) => [code, Number(n)]),
	);
	const requests = measured === undefined ? result.requests.total : units;
	return {
		connections: spec.connections,
		seconds: result.duration,
		requests,
		httpRequests: result.requests.total,
		rps: round(requests / result.duration, 0),
		latencyMs: {
			p50: round(percentile(sorted, 50)),
			p99: round(percentile(sorted, 99)),
			mean: round(count ? sum / count : NaN),
			max: round(percentile(sorted, 100)),
		},
		errors: result.errors + result.non2xx,
		non2xx: result.non2xx,
		statusCodes,
	};
}

/** The name `cpuOf` gives the benchmark's own process, whose CPU is the load's, not the shop's. */
export const LOAD_GENERATOR = "load generator";

export interface CpuFigures {
	/** CPU ms per answered request (or pass of a sequence), by process. */
	cpuMsPerRequest: Record<string, number>;
	/** The same summed over every process but the load generator. */
	cpuMsPerRequestExceptLoadGenerator: number;
	/** Each process's CPU time over the measured run's wall time, in % of one core. */
	cpuPercentOfOneCore: Record<string, number>;
	/** The whole machine's busy CPU over the measured run, every process (measured or not), in % of one core. */
	machineBusyPercent: number | null;
}

/**
 * A warm-up run (JIT, caches, connection pools), then the measured run on fresh connections, with the CPU of each
 * process in `cpuOf` (name to pid, or to what lists a server's processes) over it. `around` wraps the measured run
 * (profiling).
 */
export async function measure(
	spec: LoadSpec,
	opts: {
		warmupSeconds: number;
		seconds: number;
		cpuOf?: Record<string, Watched>;
		around?: <T>(run: () => Promise<T>) => Promise<T>;
	},
): Promise<Measurement & CpuFigures & { warmup: { requests: number; errors: number } }> {
	const warm = opts.warmupSeconds > 0 ? await fire(spec, opts.warmupSeconds, "warmup") : { requests: 0, errors: 0 };
	const around = opts.around ?? (<T>(run: () => Promise<T>) => run());
	const measured = await around(() => cpuDuring(opts.cpuOf ?? {}, () => fire(spec, opts.seconds, "measured")));
	const { result: run, cpuMs, elapsedMs, machineBusyMs } = measured;
	const perRequest = (ms: number) => (run.requests ? round(ms / run.requests, 3) : NaN);
	const entries = Object.entries(cpuMs);
	return {
		...run,
		warmup: { requests: warm.requests, errors: warm.errors },
		cpuMsPerRequest: Object.fromEntries(entries.map(([name, ms]) => [name, perRequest(ms)])),
		cpuMsPerRequestExceptLoadGenerator: perRequest(
			entries.filter(([name]) => name !== LOAD_GENERATOR).reduce((sum, [, ms]) => sum + ms, 0),
		),
		cpuPercentOfOneCore: Object.fromEntries(entries.map(([name, ms]) => [name, round((ms / elapsedMs) * 100, 1)])),
		machineBusyPercent: machineBusyMs == null ? null : round((machineBusyMs / elapsedMs) * 100, 1),
	};
}
