import { describe, expect, it } from "vitest";
import * as config from "../../../lib/config";
import { brokerOptions } from "../../../moleculer.config";

/** Issue 17, item 7: nodes joined by a transporter must share an event bus, or say on purpose that they do not. */
describe("event bus required across nodes", () => {
	const NATS = "nats://127.0.0.1:4222";
	const cases: [env: Record<string, string>, refused: boolean][] = [
		[{}, false],
		[{ TRANSPORTER: "" }, false],
		[{ EVENTS_URL: NATS }, false],
		[{ TRANSPORTER: NATS, EVENTS_URL: NATS }, false],
		[{ TRANSPORTER: NATS, EVENTS_URL: "kafka://127.0.0.1:9092" }, false],
		[{ TRANSPORTER: NATS }, true],
		[{ TRANSPORTER: NATS, EVENTS_URL: "" }, true],
		[{ TRANSPORTER: NATS, EVENTS_IN_PROCESS: "false" }, true],
		[{ TRANSPORTER: NATS, EVENTS_IN_PROCESS: "true" }, false],
		[{ TRANSPORTER: NATS, EVENTS_IN_PROCESS: "1" }, false],
	];

	it.each(cases)("%o refused: %s", (env, refused) => {
		const check = () => config.assertEventBus(env);
		if (refused) expect(check).toThrow(/TRANSPORTER is set but EVENTS_URL is not.*EVENTS_IN_PROCESS=true/s);
		else expect(check).not.toThrow();
	});

	it("the broker configuration refuses to start such a node", () => {
		expect(() => brokerOptions({ TRANSPORTER: NATS, METRICS: "false" })).toThrow(/EVENTS_URL/);
		expect(brokerOptions({ TRANSPORTER: NATS, EVENTS_IN_PROCESS: "true", METRICS: "false" }).transporter).toBe(NATS);
	});
});
