import type { Middleware, ServiceBroker } from "moleculer";
import { DOMAIN_EVENTS, DEAD_LETTER_CHANNEL } from "./catalog";

/**
 * The Kafka channel adapter does not create topics, and a broker may forbid auto-creation:
 * create every domain-event topic and the dead-letter topic before consumers subscribe.
 */
export function KafkaTopicsMiddleware(eventsUrl: string | undefined): Middleware {
	return {
		name: "KafkaTopics",
		async starting(broker: ServiceBroker) {
			if (!eventsUrl?.toLowerCase().startsWith("kafka:")) return;
			const { Kafka, logLevel } = await import("kafkajs");
			const brokers = eventsUrl.replace(/^kafka:\/\//i, "").split(",");
			const admin = new Kafka({ clientId: `${broker.nodeID}-admin`, brokers, logLevel: logLevel.WARN }).admin();
			await admin.connect();
			try {
				const prefix = broker.namespace ? `${broker.namespace}.` : "";
				const existing = new Set(await admin.listTopics());
				const topics = [...DOMAIN_EVENTS, DEAD_LETTER_CHANNEL].map(t => prefix + t).filter(t => !existing.has(t));
				if (topics.length)
					await admin.createTopics({
						waitForLeaders: true,
						topics: topics.map(topic => ({ topic, numPartitions: 3 })),
					});
				broker.logger.info(`Kafka topics ready (${topics.length} created)`);
			} finally {
				await admin.disconnect();
			}
		},
	} as unknown as Middleware;
}
