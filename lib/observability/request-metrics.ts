import { performance } from "node:perf_hooks";
import { METRIC, type BaseMetric, type Context, type Middleware, type ServiceBroker } from "moleculer";

/**
 * Moleculer's own series that the dashboard (docker/grafana/dashboards/emporium.json), the alert rules
 * (infra/prometheus/rules.yml), the tests (failed and dead-lettered channel deliveries: kafka.test.ts,
 * events-outage.test.ts) and the README read. With the
 * shop's `emporium.*` metrics they are the only ones collected. Everything else that Moleculer's Metrics middleware,
 * cacher, transit, registry and process collector record (with quantile windows, per-series rate timers and labels
 * built on every call) is dropped: it cost the shop most of its throughput (`npm run bench`).
 */
export const KEPT_MOLECULER_METRICS: readonly string[] = [
	"moleculer.request.total",
	"moleculer.request.error.total",
	"moleculer.request.time",
	"moleculer.circuit-breaker.opened.active",
	"moleculer.circuit-breaker.half-opened.active",
	"moleculer.registry.nodes.online.total",
	"moleculer.channels.messages.errors.total",
	// Messages given up on after their retries: what an operator must look at (dead-letter channel).
	"moleculer.channels.messages.deadLettering.total",
];

/** Request time buckets in ms: enough for the dashboard's p50/p95/p99 up to the 5 s request timeout. */
export const REQUEST_TIME_BUCKETS: readonly number[] = [1, 5, 10, 25, 100, 250, 1000, 5000];

const SHOP_METRIC_PREFIX = "emporium.";

export function isKeptMetric(name: string): boolean {
	return name.startsWith(SHOP_METRIC_PREFIX) || KEPT_MOLECULER_METRICS.includes(name);
}

type MetricOptions = Parameters<ServiceBroker["metrics"]["register"]>[0];
interface RegistryInternals {
	opts: { defaultBuckets: number[] };
	collectTimer?: NodeJS.Timeout;
}

/** Stands for a dropped metric: Moleculer's code still increments, sets and times it by name, and nothing is kept. */
function droppedMetric(opts: Pick<MetricOptions, "name" | "type">): BaseMetric {
	const nothing = () => null;
	return {
		name: opts.name,
		type: opts.type,
		labelNames: [],
		increment: nothing,
		decrement: nothing,
		set: nothing,
		observe: nothing,
		reset: nothing,
		resetAll: nothing,
		clear: nothing,
		snapshot: () => [],
		toObject: () => ({ type: opts.type, name: opts.name, labelNames: [], values: [] }),
	} as unknown as BaseMetric;
}

/**
 * From now on every metric of the registry is either kept without quantile windows and rate timers (a counter is a
 * number per series, a histogram its buckets, sum and count) or dropped. Metrics registered before (by the broker,
 * cacher, transit, registry, channels and circuit breaker) are dropped unless kept, and registered again without
 * them if they asked for either (they have no series yet: that starts with their first value). Stops the process and
 * OS collector if moleculer-runner's `METRICS=true` turned it on.
 */
export function keepOnlyCheapMetrics(broker: ServiceBroker): void {
	const registry = broker.metrics;
	const internals = registry as unknown as RegistryInternals;
	internals.opts.defaultBuckets = [...REQUEST_TIME_BUCKETS];
	if (internals.collectTimer) clearInterval(internals.collectTimer);

	const register = registry.register.bind(registry);
	const cheap = (opts: MetricOptions) => register({ ...opts, quantiles: false, rate: false });
	for (const [name, metric] of registry.store) {
		const costly = metric as unknown as { rate?: boolean; quantiles?: number[]; buckets?: number[] };
		if (!isKeptMetric(name)) registry.store.set(name, droppedMetric(metric));
		else if (costly.rate || costly.quantiles) {
			const { type, description, labelNames, unit } = metric;
			cheap({ type, name, description, labelNames, unit, buckets: costly.buckets });
		}
	}
	registry.register = (opts: MetricOptions) => {
		if (isKeptMetric(opts.name)) return cheap(opts);
		const dropped = droppedMetric(opts);
		registry.store.set(opts.name, dropped);
		return dropped;
	};
}

type Handler = (ctx: Context) => Promise<unknown>;
interface ActionDef {
	name: string;
	service?: { fullName: string };
}
interface Failure {
	name?: string;
	code?: number;
	type?: string;
}

/**
 * In place of Moleculer's internal "Metrics" middleware. Counts and times the actions a node runs itself
 * (`type="local"`, what the dashboard reads) with labels made once per action, not per call; errors add
 * `errorName`, `errorCode` and `errorType`. Leaves out what nothing reads: the caller label, calls to other nodes
 * (counted where they run), active and per-level request counts, events, transit and transporter packets.
 */
export function RequestMetricsMiddleware(): Middleware {
	let total: BaseMetric;
	let errors: BaseMetric;
	let time: BaseMetric;
	let enabled = false;
	type Counter = BaseMetric & { increment(labels: object): void };
	type Histogram = BaseMetric & { observe(value: number, labels: object): void };
	return {
		name: "RequestMetrics",
		created(broker: ServiceBroker) {
			enabled = broker.isMetricsEnabled();
			if (!enabled) return;
			keepOnlyCheapMetrics(broker);
			const labelNames = ["service", "action", "type"];
			const unit = "request";
			total = broker.metrics.register({
				name: "moleculer.request.total",
				type: METRIC.TYPE_COUNTER,
				labelNames,
				unit,
				description: "Number of requests",
			})!;
			errors = broker.metrics.register({
				name: "moleculer.request.error.total",
				type: METRIC.TYPE_COUNTER,
				labelNames: [...labelNames, "errorName", "errorCode", "errorType"],
				unit,
				description: "Number of request errors",
			})!;
			time = broker.metrics.register({
				name: "moleculer.request.time",
				type: METRIC.TYPE_HISTOGRAM,
				labelNames,
				buckets: [...REQUEST_TIME_BUCKETS],
				unit: "millisecond",
				description: "Request times in milliseconds",
			})!;
		},
		localAction(next: Handler, action: ActionDef) {
			if (!enabled) return next;
			const labels = { service: action.service?.fullName ?? null, action: action.name, type: "local" };
			const done = (start: number) => (time as Histogram).observe(performance.now() - start, labels);
			return (ctx: Context) => {
				(total as Counter).increment(labels);
				const start = performance.now();
				return next(ctx).then(
					res => {
						done(start);
						return res;
					},
					(err: Failure | undefined) => {
						done(start);
						(errors as Counter).increment({
							...labels,
							errorName: err?.name ?? null,
							errorCode: err?.code ?? null,
							errorType: err?.type ?? null,
						});
						throw err;
					},
				);
			};
		},
	} as unknown as Middleware;
}
