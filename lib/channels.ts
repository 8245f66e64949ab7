import { DEAD_LETTER_CHANNEL } from "./events";

/**
 * The @moleculer/channels adapter for `EVENTS_URL`, with the traps of 0.1.8 handled here on purpose:
 * - NATS: the URL must sit in `options.nats.url` (a plain string is ignored), the first connect must wait for
 *   the server (`waitOnFirstConnect`), and `maxInFlight` defaults to 1 per group;
 * - Kafka: `clientId` is replaced by `consumerName`, so the node ID is given as consumerName; topics are
 *   created at start by the Kafka topics middleware.
 */
export const CHANNEL_DEFAULTS = {
	maxInFlight: 16,
	maxRetries: 5,
	deadLettering: { enabled: true, queueName: DEAD_LETTER_CHANNEL },
};

const WEEK_NS = 7 * 24 * 3600 * 1e9;

export function channelAdapter(eventsUrl: string | undefined, nodeID: string, namespace: string): string | Record<string, unknown> {
	if (!eventsUrl) return "Fake";
	const scheme = eventsUrl.split(":")[0].toLowerCase();
	const prefix = namespace ? `${namespace}.` : undefined;
	if (scheme === "nats") {
		return {
			type: "NATS",
			options: {
				...CHANNEL_DEFAULTS,
				prefix,
				nats: {
					url: eventsUrl,
					connectionOptions: { waitOnFirstConnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 1000 },
					// Streams would otherwise keep every event forever.
					streamConfig: { max_age: WEEK_NS },
				},
			},
		};
	}
	if (scheme === "redis" || scheme === "rediss") {
		return { type: "Redis", options: { ...CHANNEL_DEFAULTS, prefix, redis: eventsUrl } };
	}
	if (scheme === "kafka") {
		const brokers = eventsUrl.replace(/^kafka:\/\//i, "").split(",").map(s => s.replace(/^kafka:\/\//i, "").replace(/\/$/, ""));
		return { type: "Kafka", options: { ...CHANNEL_DEFAULTS, prefix, consumerName: nodeID, kafka: { brokers, clientId: nodeID } } };
	}
	throw new Error(`Unsupported EVENTS_URL scheme "${scheme}:" (nats, redis, kafka; unset for in-process)`);
}
