import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, it } from "vitest";
import { startShop, type Shop } from "../support/shop";
import { orderFlowScenario } from "../support/scenarios";

/**
 * Domain events over Kafka (the @moleculer/channels Kafka adapter on kafkajs, topics created at start).
 * No Kafka broker runs on the development and CI machines, so this runs only when KAFKA_BROKERS is set,
 * e.g. KAFKA_BROKERS=127.0.0.1:9092.
 */
const brokers = process.env.KAFKA_BROKERS;

describe.skipIf(!brokers)(
	`domain events over Kafka${brokers ? "" : " [skipped: KAFKA_BROKERS not set, no Kafka broker here]"}`,
	() => {
		let shop: Shop;
		let secondNotifications: Shop;

		beforeAll(async () => {
			// A fresh namespace gives fresh topics and consumer groups.
			const env = { EVENTS_URL: `kafka://${brokers}`, NAMESPACE: `k${randomBytes(3).toString("hex")}` };
			shop = await startShop({ env });
			secondNotifications = await startShop({ env, services: ["notifications"] });
		}, 120_000);

		afterAll(async () => {
			await secondNotifications?.stop();
			await shop?.stop();
		});

		it("delivers each event once to the notifications group", async () => {
			await orderFlowScenario(shop, "Kafka");
		}, 120_000);
	},
);
