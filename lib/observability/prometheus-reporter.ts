import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { MetricReporters, type MetricRegistry, type MetricRegistryOptions, type ServiceBroker } from "moleculer";
import { createHttpServer, httpServerLimits, type HttpServerLimits } from "../config";
import { nodeReadiness } from "./node-health";

interface SnapshotItem {
	labels: Record<string, unknown>;
	value?: number | string;
	rate?: number;
	count?: number;
	sum?: number;
	buckets?: Record<string, number>;
	quantiles?: Record<string, number>;
	min?: number | null;
	mean?: number | null;
	variance?: number | null;
	stdDev?: number | null;
	max?: number | null;
}
interface StoredMetric {
	name: string;
	type: "counter" | "gauge" | "histogram" | "info";
	description?: string;
	unit?: string;
	snapshot(): SnapshotItem[];
}
type PrometheusReporterClass = new (opts: Record<string, unknown>) => InstanceType<
	typeof MetricReporters.Prometheus
> & {
	registry: Omit<MetricRegistry, "store"> & { broker: ServiceBroker; store: Map<string, StoredMetric> };
	server: Server;
	logger: { info(...args: unknown[]): void };
	defaultLabels: unknown;
	handler(req: IncomingMessage, res: ServerResponse): void;
	labelsToStr(labels: Record<string, unknown>, extra?: Record<string, unknown>): string;
};
const MoleculerPrometheusReporter = MetricReporters.Prometheus as unknown as PrometheusReporterClass;

/**
 * Moleculer's series that describe the machine rather than the service: host name, OS user and home directory,
 * IP and MAC addresses, kernel, command line and process ids. `/metrics` needs no login, so they are left out.
 */
export const HOST_IDENTIFYING_METRICS = [
	"os.hostname",
	"os.user.*",
	"os.network.*",
	"os.type",
	"os.release",
	"process.arguments",
	"process.pid",
	"process.ppid",
];

interface ReporterOptions {
	port: number;
	host: string;
	path: string;
	excludes: string[];
	limits: HttpServerLimits;
}

const HISTOGRAM_STATS = [
	["min", "min"],
	["mean", "mean"],
	["variance", "variance"],
	["stddev", "stdDev"],
	["max", "max"],
] as const;

function sampleValue(value: number | string | null | undefined): string {
	if (value == null || Number.isNaN(Number(value))) return "NaN";
	if (value === Infinity) return "+Inf";
	if (value === -Infinity) return "-Inf";
	return String(value);
}

/** Series of the shop itself (lib/observability/metrics.ts), as opposed to Moleculer's built-in ones. */
const SHOP_PREFIX = "emporium_";

/**
 * `{nodeID="a",type="b"}` → `{node_id="a",type="b"}`: label names in snake_case, as `promtool check metrics` asks.
 * Only label names are rewritten: a name sits after `{` or `,` and before `="`, and label values are escaped, so a
 * value cannot contain an unescaped quote that would end it early.
 */
export function snakeCaseLabels(labels: string): string {
	let out = "";
	let inValue = false;
	for (let i = 0; i < labels.length; i++) {
		const c = labels[i];
		if (inValue) {
			out += c;
			if (c === "\\") out += labels[++i] ?? "";
			else if (c === '"') inValue = false;
		} else if (c === '"') {
			out += c;
			inValue = true;
		} else if (/[A-Z]/.test(c)) out += `${/[a-z0-9]/.test(labels[i - 1] ?? "") ? "_" : ""}${c.toLowerCase()}`;
		else out += c;
	}
	return out;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
	res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
	res.end(JSON.stringify(body));
}

/**
 * Moleculer's Prometheus reporter with two changes.
 * - Its HTTP server also answers the node's Kubernetes probes: `GET /health/live` (the process serves requests)
 *   and `GET /health/ready` (200 or 503, with the checks of `nodeReadiness`).
 * - The exposition is valid text format 0.0.4. Moleculer's own interleaves `_rate`, `_min`, `_max`... samples
 *   inside other families and writes quantiles under a `histogram` type. Here every family is one group; quantiles
 *   make a `summary`, buckets a `histogram` (or their own untyped `_bucket` family when the metric has both);
 *   the statistics and rates are gauges of their own. Series names and labels stay the ones Moleculer writes,
 *   except for the shop's own `emporium_*` series: counters
 *   end in `_total` and label names are snake_case (`node_id`), so that `promtool check metrics` has nothing to say
 */
export class PrometheusReporter extends MoleculerPrometheusReporter {
	private readonly limits: HttpServerLimits;

	constructor({ limits, host, ...opts }: ReporterOptions) {
		super({ ...opts, host });
		// Moleculer drops `host` when the port is 0 (any free port), and would then listen on every interface.
		this.opts.host = host;
		this.limits = limits;
	}

	/** Moleculer's init, with a server that has the configured connection limits. */
	init(registry: MetricRegistry): void {
		MetricReporters.Base.prototype.init.call(this, registry);
		this.server = createHttpServer(this.limits, (req, res) => this.handler(req, res));
		this.server.once("error", (err: Error) => registry.broker.fatal("Prometheus reporter cannot listen", err));
		const { port, host, path } = this.opts as ReporterOptions;
		this.server.listen(port, host, () => {
			const address = this.server.address();
			const where = typeof address === "object" && address ? `${address.address}:${address.port}` : String(address);
			this.logger.info(`Prometheus metric reporter listening on http://${where}${path}`);
		});
		const labels: unknown = this.opts.defaultLabels;
		type Labels = (this: unknown, registry: MetricRegistry) => unknown;
		this.defaultLabels = typeof labels === "function" ? (labels as Labels).call(this, registry) : labels;
	}

	handler(req: IncomingMessage, res: ServerResponse): void {
		res.setHeader("X-Content-Type-Options", "nosniff");
		const path = (req.url ?? "").split("?")[0];
		if (req.method === "GET" && path === "/health/live")
			return sendJson(res, 200, { status: "ok", nodeID: this.registry.broker.nodeID });
		if (req.method === "GET" && path === "/health/ready") {
			nodeReadiness(this.registry.broker).then(
				readiness => sendJson(res, readiness.status === "ready" ? 200 : 503, readiness),
				(err: Error) => sendJson(res, 503, { status: "not ready", error: err.message }),
			);
			return;
		}
		super.handler(req, res);
	}

	escapeLabelValue(value: unknown): unknown {
		return typeof value === "string" ? value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : value;
	}

	generatePrometheusResponse(): string {
		const out: string[] = [];
		const family = (name: string, type: string, help: string, samples: string[]) => {
			if (samples.length)
				out.push(
					`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`,
					`# TYPE ${name} ${type}`,
					...samples,
					"",
				);
		};
		this.registry.store.forEach(metric => {
			// Moleculer skips os.datetime too: one label value per second.
			if (!this.matchMetricName(metric.name) || metric.name.startsWith("os.datetime")) return;
			const items = metric.snapshot();
			if (items.length === 0) return;
			const base = this.formatMetricName(metric.name).replace(/[.-]/g, "_");
			const own = base.startsWith(SHOP_PREFIX);
			// The shop's own series follow Prometheus' naming rules: a counter ends in _total.
			const name = own && metric.type === "counter" && !base.endsWith("_total") ? `${base}_total` : base;
			const help = metric.description ?? metric.name + (metric.unit ? ` (${metric.unit})` : "");
			const line = (
				suffix: string,
				item: SnapshotItem,
				value: number | string | null | undefined,
				extra?: Record<string, unknown>,
			) => {
				const labels = this.labelsToStr(item.labels, extra);
				return `${name}${suffix}${own ? snakeCaseLabels(labels) : labels} ${sampleValue(value)}`;
			};

			if (metric.type === "info") {
				family(
					name,
					"gauge",
					help,
					items.map(item => line("", item, 1, { value: item.value })),
				);
			} else if (metric.type !== "histogram") {
				family(
					name,
					metric.type,
					help,
					items.map(item => line("", item, item.value)),
				);
			} else {
				const withQuantiles = items.some(item => item.quantiles);
				const withBuckets = items.some(item => item.buckets);
				const sumAndCount = (item: SnapshotItem) => [line("_sum", item, item.sum), line("_count", item, item.count)];
				const buckets = (item: SnapshotItem) => [
					...Object.entries(item.buckets ?? {}).map(([le, count]) => line("_bucket", item, count, { le })),
					line("_bucket", item, item.count, { le: "+Inf" }),
				];
				if (withQuantiles) {
					family(
						name,
						"summary",
						help,
						items.flatMap(item => [
							...Object.entries(item.quantiles ?? {}).map(([q, v]) => line("", item, v, { quantile: q })),
							...sumAndCount(item),
						]),
					);
					if (withBuckets) family(`${name}_bucket`, "untyped", `${help}, cumulative buckets`, items.flatMap(buckets));
					for (const [suffix, key] of HISTOGRAM_STATS)
						family(
							`${name}_${suffix}`,
							"gauge",
							`${help}, ${suffix}`,
							items.map(item => line(`_${suffix}`, item, item[key])),
						);
				} else if (withBuckets) {
					family(
						name,
						"histogram",
						help,
						items.flatMap(item => [...buckets(item), ...sumAndCount(item)]),
					);
				}
			}
			family(
				`${name}_rate`,
				"gauge",
				`${help}, per second`,
				items.filter(item => item.rate != null).map(item => line("_rate", item, item.rate)),
			);
		});
		return out.join("\n");
	}
}

function reporterOptions(env: NodeJS.ProcessEnv): ReporterOptions {
	const port = Number(env.METRICS_PORT ?? 3030);
	if (!Number.isInteger(port) || port < 0 || port > 65535)
		throw new Error(`METRICS_PORT must be a port number, got "${env.METRICS_PORT}"`);
	const host = env.METRICS_HOST || env.HOST || "0.0.0.0";
	return { port, host, path: "/metrics", excludes: HOST_IDENTIFYING_METRICS, limits: httpServerLimits(env) };
}

/**
 * Prometheus metrics and the node's probes on `METRICS_PORT` (default 3030), listening on `METRICS_HOST` (default:
 * `HOST`, else every interface): `/metrics`, `/health/live`, `/health/ready`. `METRICS=false` turns both off.
 */
export function metricsOptions(env: NodeJS.ProcessEnv): MetricRegistryOptions {
	const enabled = env.METRICS !== "false";
	return {
		enabled,
		// Nothing reads the process and OS series (request-metrics.ts drops them): do not collect them every 5 s.
		collectProcessMetrics: false,
		reporter: enabled ? [new PrometheusReporter(reporterOptions(env)) as never] : [],
	};
}

/**
 * moleculer-runner overwrites any config key named like an environment variable: with `METRICS=true` the whole
 * `metrics` option becomes `true`, which keeps metrics on but drops the reporter, hence `/metrics` and the probes.
 * Called from the broker's `created` hook, this puts the reporter back.
 */
export function ensurePrometheusReporter(broker: ServiceBroker, env: NodeJS.ProcessEnv): void {
	const registry = broker.metrics as unknown as MetricRegistry & { reporter?: unknown[] };
	if (!broker.isMetricsEnabled() || registry.reporter?.some(r => r instanceof PrometheusReporter)) return;
	const reporter = new PrometheusReporter(reporterOptions(env));
	reporter.init(registry);
	registry.reporter = [...(registry.reporter ?? []), reporter];
}
