import type { Middleware, ServiceBroker, ServiceSchema } from "moleculer";
import { DOMAIN_EVENTS, DEAD_LETTER_CHANNEL } from "./catalog";

/** The topics the shop uses: every domain event and the dead-letter topic, with the namespace prefix. */
export function kafkaTopics(namespace: string): string[] {
	const prefix = namespace ? `${namespace}.` : "";
	return [...DOMAIN_EVENTS, DEAD_LETTER_CHANNEL].map(t => prefix + t);
}

export function kafkaBrokers(eventsUrl: string): string[] {
	return eventsUrl
		.split(",")
		.map(s =>
			s
				.trim()
				.replace(/^kafka:\/\//i, "")
				.replace(/\/$/, ""),
		)
		.filter(Boolean);
}

type ChannelDef = Record<string, unknown> & { kafka?: Record<string, unknown> };

/**
 * The Kafka channel adapter neither creates topics nor lets a new consumer group read what was published before it
 * first joined (kafkajs starts a new group at the latest offset). This middleware:
 * - creates every domain-event topic and the dead-letter topic before consumers subscribe, with `partitions`
 *   partitions each (`KAFKA_PARTITIONS`; topics that exist are left as they are);
 * - subscribes every channel with `fromBeginning`, as JetStream's `deliver_policy: "all"`: a group that starts later
 *   reads the topic's retained history (consumers deduplicate by event id). An existing group resumes from its
 *   committed offsets either way.
 */
export function KafkaTopicsMiddleware(eventsUrl: string | undefined, partitions: number): Middleware {
	const kafka = !!eventsUrl?.toLowerCase().startsWith("kafka:");
	return {
		name: "KafkaTopics",
		serviceCreating(_service: unknown, schema: ServiceSchema & { channels?: Record<string, unknown> }) {
			if (!kafka || !schema.channels) return;
			schema.channels = Object.fromEntries(
				Object.entries(schema.channels).map(([name, def]) => {
					const chan: ChannelDef = typeof def === "function" ? { handler: def } : { ...(def as ChannelDef) };
					return [name, { ...chan, kafka: { fromBeginning: true, ...chan.kafka } }];
				}),
			);
		},
		async starting(broker: ServiceBroker) {
			if (!kafka) return;
			const { Kafka, logLevel } = await import("kafkajs");
			const admin = new Kafka({
				clientId: `${broker.nodeID}-admin`,
				brokers: kafkaBrokers(eventsUrl!),
				logLevel: logLevel.WARN,
			}).admin();
			await admin.connect();
			try {
				const existing = new Set(await admin.listTopics());
				const topics = kafkaTopics(broker.namespace).filter(t => !existing.has(t));
				// Two nodes starting together may both try: a topic created meanwhile is not an error.
				if (topics.length)
					await admin.createTopics({
						waitForLeaders: true,
						topics: topics.map(topic => ({ topic, numPartitions: partitions })),
					});
				broker.logger.info(`Kafka topics ready (${topics.length} created, ${partitions} partitions each)`);
			} finally {
				await admin.disconnect();
			}
		},
	} as unknown as Middleware;
}
