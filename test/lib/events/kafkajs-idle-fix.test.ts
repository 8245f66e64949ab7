import { afterEach, describe, expect, it } from "vitest";
import { KafkaRequestQueue } from "../../../lib/events/kafkajs-idle-fix";

interface Queue {
	pending: unknown[];
	throttledUntil: number;
	throttleCheckTimeoutId: NodeJS.Timeout | null | undefined;
	scheduleCheckPendingRequests(): void;
}

describe("kafkajs request queue (tulios/kafkajs#1556)", () => {
	const queues: Queue[] = [];
	afterEach(() => {
		for (const queue of queues.splice(0)) clearTimeout(queue.throttleCheckTimeoutId ?? undefined);
	});

	function queue(pending: unknown[]): Queue {
		const made = new (KafkaRequestQueue as unknown as new (options: object) => Queue)({
			maxInFlightRequests: 1,
			requestTimeout: 1000,
			clientId: "test",
			broker: "127.0.0.1:1",
			logger: { debug: () => undefined, warn: () => undefined },
		});
		made.pending = pending;
		queues.push(made);
		return made;
	}

	it("schedules no check while nothing is pending (kafkajs 2.2.4 looped every millisecond)", () => {
		const idle = queue([]);
		idle.scheduleCheckPendingRequests();
		expect(idle.throttleCheckTimeoutId ?? null).toBeNull();
	});

	it("still schedules a check for pending requests", () => {
		const waiting = queue([{ correlationId: 1 }]);
		waiting.scheduleCheckPendingRequests();
		expect(waiting.throttleCheckTimeoutId).toBeTruthy();
	});
});
