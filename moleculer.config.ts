import os from "node:os";
import type { BrokerOptions, Errors, Middleware, ServiceBroker } from "moleculer";
import { Middleware as ChannelsMiddleware, Tracing as ChannelsTracing } from "@moleculer/channels";
import { channelAdapter, JetStreamStreamsMiddleware } from "./lib/events";
import { assertEventBus, loadConfig } from "./lib/config";
import { countDeadLetters, EventLagMiddleware, registerBusinessMetrics } from "./lib/observability";
import { KafkaTopicsMiddleware } from "./lib/events";
import { createLogger } from "./lib/observability";
import { ensurePrometheusReporter, metricsOptions } from "./lib/observability";
import { RequestContextMiddleware, RequestMetricsMiddleware } from "./lib/observability";
import { tracingOptions } from "./lib/observability";
import { auditShop } from "./lib/audit";
import { GuardedValidator } from "./lib/actor/validator";
import { SharedCacheMiddleware } from "./lib/actor/shared-cache";

/** What the retry and breaker checks read of a failure: Moleculer errors carry these fields, plain errors do not. */
type Failure = (Error & Partial<Pick<Errors.MoleculerError, "retryable" | "type" | "code">>) | undefined;

/**
 * Moleculer's internal middlewares in its own order, except that the validator runs before the cacher (the first
 * listed is the innermost): cache keys come from validated, normalised params, so `page=01` and `page=1` are one
 * entry and invalid params never make one. Its "Metrics" is replaced by the shop's cheaper one, made per broker.
 * SharedCacheReads: a call to another node's cached action reads a shared (Redis) cache first.
 */
const internalMiddlewares = (): (string | Middleware)[] => [
	"ActionHook",
	"Bulkhead",
	"Cacher",
	"Validator",
	SharedCacheMiddleware(),
	"ContextTracker",
	"CircuitBreaker",
	"Timeout",
	"Retry",
	"Fallback",
	"ErrorHandler",
	"Tracing",
	RequestMetricsMiddleware(),
	"Debounce",
	"Throttle",
];

/**
 * Every broker option, from the environment (12-factor). With nothing set this is the one-process dev shop:
 * no transporter, memory cacher, in-memory stores, in-process event bus. moleculer-runner also applies its own
 * overrides (NODEID, NAMESPACE, TRANSPORTER, CACHER, LOGLEVEL, ...) on top of this object.
 */
export function brokerOptions(env: NodeJS.ProcessEnv = process.env): BrokerOptions {
	assertEventBus(env);
	const config = loadConfig(env);
	const nodeID = env.NODEID || `${os.hostname().toLowerCase()}-${process.pid}`;
	const namespace = env.NAMESPACE ?? "";
	// The memory cacher hands every caller the same cached object (no deep clone: +39% req/s on the product list).
	// Callers of cached actions (products.get/list/getMany, users.principal) must treat results as read-only.
	// It keeps at most CACHE_MAX entries, dropping the least recently used: clients choose the keys.
	const cacher = (url: unknown): BrokerOptions["cacher"] =>
		typeof url === "string" && url
			? { type: "Redis", options: { redis: url, prefix: `emporium${namespace ? "-" + namespace : ""}`, ttl: 300 } }
			: { type: "MemoryLRU", options: { ttl: 300, clone: false, max: config.cacheMax } };

	const options: BrokerOptions = {
		namespace,
		nodeID,
		logger: createLogger(env),
		logLevel: (env.LOGLEVEL as BrokerOptions["logLevel"]) ?? "info",

		transporter: env.TRANSPORTER || null,
		cacher: cacher(env.CACHER),
		// JSON keeps the wire format readable across versions; see the README's Performance section for the measured
		// alternatives.
		serializer: "JSON",

		requestTimeout: Number(env.REQUEST_TIMEOUT_MS ?? 5000),
		// Off by default: a timed-out write would run twice. Idempotent internal actions (keyed by order) opt in with
		// their own `retryPolicy`. No node at all (or an open breaker) is not retried, so such calls fail fast.
		retryPolicy: {
			enabled: false,
			retries: 2,
			delay: 100,
			maxDelay: 1000,
			factor: 2,
			check: (err: Failure) => !!err?.retryable && err.type !== "SERVICE_NOT_AVAILABLE",
		},
		contextParamsCloning: false,
		maxCallLevel: 20,
		// A node that dies without saying goodbye is dropped after 9 s, so calls stop waiting for it.
		heartbeatInterval: 3,
		heartbeatTimeout: 9,
		tracking: { enabled: true, shutdownTimeout: Number(env.SHUTDOWN_TIMEOUT_MS ?? 10_000) },
		disableBalancer: false,
		// On stop a node first tells the others it has no services, then waits this long before draining its requests.
		registry: { strategy: "RoundRobin", preferLocal: true, ...{ stopDelay: 500 } /* missing from the 0.14 typings */ },
		circuitBreaker: {
			enabled: env.CIRCUIT_BREAKER !== "false",
			threshold: 0.5,
			minRequestCount: 10,
			windowTime: 20,
			halfOpenTime: 5_000,
			// Only a failing endpoint trips its breaker: timeouts, lost requests, unexpected errors. Typed answers such as
			// OUT_OF_STOCK, PAYMENT_DECLINED or a PAYMENT_UNAVAILABLE passed on from further down are not its fault.
			check: (err: Failure) =>
				!!err &&
				(["REQUEST_TIMEOUT", "REQUEST_REJECTED"].includes(err.type ?? "") || ((err.code ?? 0) >= 500 && !err.type)),
		},
		bulkhead: { enabled: false, concurrency: 10, maxQueueSize: 100 },
		validator: new GuardedValidator(),

		metrics: metricsOptions(env),
		tracing: tracingOptions(env),

		internalMiddlewares: false,
		middlewares: [
			// The channels package types its middlewares loosely; they are Moleculer middlewares.
			ChannelsMiddleware({
				adapter: channelAdapter(config.eventsUrl, nodeID, namespace),
				context: true,
			} as never) as unknown as Middleware,
			ChannelsTracing() as unknown as Middleware,
			// After the channels' Tracing, so that channel spans start with their service set.
			RequestContextMiddleware(env.LOG_FORMAT === "json"),
			EventLagMiddleware(),
			KafkaTopicsMiddleware(config.eventsUrl, config.kafkaPartitions),
			JetStreamStreamsMiddleware(config.eventsUrl),
			...internalMiddlewares(),
		],

		replCommands: [
			{
				command: "check",
				description: "Check the stock and money invariants across the shop (add --settled when it is at rest)",
				options: [{ option: "--settled", description: "also require nothing reserved or pending" }],
				async action(broker: ServiceBroker, args: { options: { settled?: boolean } }) {
					const report = await auditShop(broker, { settled: !!args.options.settled });
					broker.logger.info(`Invariants ${report.ok ? "hold" : "VIOLATED"}`, report.counts);
					for (const violation of report.violations) broker.logger.warn(violation);
				},
			},
		],

		created(broker) {
			// With internalMiddlewares off, moleculer-runner's --hot is ours to honour.
			if (broker.options.hotReload) broker.middlewares.add("HotReload");
			ensurePrometheusReporter(broker, env);
			registerBusinessMetrics(broker);
			countDeadLetters(broker);
		},
	};
	// moleculer-runner replaces a top-level option with the raw value of its upper-case env var, which would turn the
	// cacher options above into a bare `CACHER` URL (no prefix, no TTL): rebuild them from whatever it assigns.
	let cacherOptions = options.cacher;
	Object.defineProperty(options, "cacher", {
		enumerable: true,
		configurable: true,
		get: () => cacherOptions,
		set: (value: BrokerOptions["cacher"]) => (cacherOptions = typeof value === "string" ? cacher(value) : value),
	});
	return options;
}

export default brokerOptions();
