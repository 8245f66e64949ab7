import { InProcessAdapter } from "./in-process-bus";
import { JetStreamAdapter } from "./jetstream-adapter";
import type { Middleware, ServiceBroker } from "moleculer";
import type { JetStreamManager } from "nats";
import { Partitioners } from "kafkajs";
import { DEAD_LETTER_CHANNEL, DOMAIN_EVENTS } from "./catalog";
import { kafkaBrokers } from "./kafka-topics";
import "./kafkajs-idle-fix";

/**
 * The @moleculer/channels adapter for `EVENTS_URL`, with the traps of 0.1.8 handled here on purpose:
 * - NATS: the URL must sit in `options.nats.url` (a plain string is ignored), the first connect must wait for
 *   the server (`waitOnFirstConnect`), and `maxInFlight` defaults to 1 per group;
 *   it creates a channel's stream only when a consumer subscribes, so the JetStream streams middleware below
 *   creates every stream at start; two nodes of one group starting together race to create the group's durable
 *   consumer, and the loser joins it (`JetStreamAdapter`);
 * - Kafka: `clientId` is replaced by `consumerName`, so the node ID is given as consumerName; topics are
 *   created at start by the Kafka topics middleware.
 */
export const CHANNEL_DEFAULTS = {
	maxInFlight: 16,
	maxRetries: 5,
	deadLettering: { enabled: true, queueName: DEAD_LETTER_CHANNEL },
};

const WEEK_NS = 7 * 24 * 3600 * 1e9;
// Streams would otherwise keep every event forever.
const STREAM_LIMITS = { max_age: WEEK_NS };
const STREAM_CREATE_ATTEMPTS = 5;
/**
 * A consumer killed without leaving its group holds its partitions until its session times out: 10 s instead of 30 s
 * bounds how long that node's share of the events waits after a crash. An idle consumer notices a rebalance (a node
 * joining or leaving) only when its fetch returns: 1 s instead of 5 s, since the adapter joins one group per channel,
 * one after the other.
 */
const KAFKA_CONSUMER = { sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 1000 };
const NATS_CONNECTION = { waitOnFirstConnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 1000 };

export function channelAdapter(
	eventsUrl: string | undefined,
	nodeID: string,
	namespace: string,
): InProcessAdapter | JetStreamAdapter | Record<string, unknown> {
	// The Fake adapter of 0.1.8 would emit and forget: no retry, no dead letter, the outbox row deleted at once.
	if (!eventsUrl) return new InProcessAdapter(CHANNEL_DEFAULTS);
	const scheme = eventsUrl.split(":")[0].toLowerCase();
	// The adapter joins prefix and channel with a dot itself ("<namespace>.order.created"); NATS rejects "a..b".
	const prefix = namespace || undefined;
	if (scheme === "nats") {
		return new JetStreamAdapter({
			...CHANNEL_DEFAULTS,
			prefix,
			nats: {
				url: eventsUrl,
				connectionOptions: NATS_CONNECTION,
				streamConfig: STREAM_LIMITS,
				// A group's durable consumer is created on its first subscribe; "new" (the default) would skip every
				// event already in the stream (published before that group's first node ever started). Consumers
				// deduplicate by event id, so reading the retained history is safe.
				consumerOptions: { config: { deliver_policy: "all" } },
			},
		});
	}
	if (scheme === "redis" || scheme === "rediss") {
		return {
			type: "Redis",
			options: {
				...CHANNEL_DEFAULTS,
				prefix,
				redis: {
					url: eventsUrl,
					// A failed message is re-claimed after 10 s instead of the adapter's 1 hour; a new group reads the
					// stream's history ("0", like JetStream's deliver_policy "all"), consumers deduplicate by event id.
					consumerOptions: { minIdleTime: 10_000, claimInterval: 1000, startID: "0" },
				},
			},
		};
	}
	if (scheme === "kafka") {
		const brokers = kafkaBrokers(eventsUrl);
		return {
			type: "Kafka",
			options: {
				...CHANNEL_DEFAULTS,
				prefix,
				consumerName: nodeID,
				kafka: {
					brokers,
					clientId: nodeID,
					// Reconnect attempts at most 2 s apart (kafkajs backs off up to 30 s): a broker back from an outage is
					// used again within seconds.
					retry: { initialRetryTime: 250, maxRetryTime: 2000, retries: 10 },
					// kafkajs' default partitioner, chosen explicitly (it warns at every start otherwise).
					producerOptions: { createPartitioner: Partitioners.DefaultPartitioner },
					consumerOptions: KAFKA_CONSUMER,
				},
			},
		};
	}
	throw new Error(`Unsupported EVENTS_URL scheme "${scheme}:" (nats, redis, kafka; unset for in-process)`);
}

/**
 * Nodes starting together create the same streams at once, and the server refuses all but one: "already in use",
 * or, while another node's stream of that name is still being set up, "subjects overlap with an existing stream".
 * Either is fine once the stream exists and holds the subject; a stream of another name holding it is a real
 * conflict and fails the start.
 */
export async function ensureStream(jsm: JetStreamManager, name: string, subject: string): Promise<void> {
	for (let attempt = 1; ; attempt++) {
		try {
			await jsm.streams.add({ name, subjects: [subject], ...STREAM_LIMITS });
			return;
		} catch (err) {
			const existing = await jsm.streams.info(name).catch(() => undefined);
			if (existing?.config.subjects?.includes(subject)) return;
			if (attempt === STREAM_CREATE_ATTEMPTS) throw err;
			await new Promise(resolve => setTimeout(resolve, 200));
		}
	}
}

/**
 * JetStream refuses a publish no stream covers (503 "no responders"), and the NATS adapter creates a channel's
 * stream only when a consumer subscribes: an event nobody consumes yet (inventory.reserved, payment.succeeded)
 * would stay in the outbox and slow its relay down. Every domain-event stream is created at start instead, with
 * the name, subject and limits the adapter gives it ("<namespace>.order.created" in stream
 * "<namespace>_order_created").
 */
export function JetStreamStreamsMiddleware(eventsUrl: string | undefined): Middleware {
	return {
		name: "JetStreamStreams",
		async starting(broker: ServiceBroker) {
			if (!eventsUrl?.toLowerCase().startsWith("nats:")) return;
			const { connect } = await import("nats");
			const connection = await connect({
				...NATS_CONNECTION,
				servers: eventsUrl.split(",").map(url => new URL(url).host),
			});
			try {
				const jsm = await connection.jetstreamManager();
				for (const channel of [...DOMAIN_EVENTS, DEAD_LETTER_CHANNEL]) {
					const subject = broker.namespace ? `${broker.namespace}.${channel}` : channel;
					await ensureStream(jsm, subject.split(".").join("_"), subject);
				}
			} finally {
				await connection.close();
			}
		},
	} as unknown as Middleware;
}
