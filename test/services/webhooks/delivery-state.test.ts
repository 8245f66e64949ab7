import { describe, expect, it } from "vitest";
import {
	afterAttempt,
	redeliver,
	shouldDisable,
	type AttemptOutcome,
	type DeliveryProgress,
} from "../../../services/webhooks/delivery-state";

const SCHEDULE = { baseMs: 1000, maxMs: 60_000, maxAttempts: 3 };
const NOW = Date.parse("2026-01-01T00:00:00Z");
const pending = (attempts = 0, retryFrom = 0): DeliveryProgress => ({
	status: "PENDING",
	attempts,
	retryFrom,
	lastStatusCode: null,
	lastError: null,
	nextAttemptAt: new Date(NOW).toISOString(),
});

describe("webhook delivery state machine", () => {
	it.each<[string, DeliveryProgress, AttemptOutcome, Partial<DeliveryProgress>]>([
		["200 succeeds", pending(), { statusCode: 200 }, { status: "SUCCEEDED", attempts: 1, nextAttemptAt: null }],
		["204 succeeds", pending(1), { statusCode: 204 }, { status: "SUCCEEDED", attempts: 2, lastError: null }],
		[
			"500 is retried",
			pending(),
			{ statusCode: 500 },
			{
				status: "PENDING",
				attempts: 1,
				lastStatusCode: 500,
				lastError: "HTTP 500",
				nextAttemptAt: "2026-01-01T00:00:01.000Z",
			},
		],
		["301 is a failure", pending(), { statusCode: 301 }, { status: "PENDING", lastError: "HTTP 301" }],
		[
			"a timeout is retried",
			pending(1),
			{ error: "timeout after 5000 ms" },
			{ status: "PENDING", attempts: 2, lastStatusCode: null, nextAttemptAt: "2026-01-01T00:00:02.350Z" },
		],
		[
			"the last attempt fails for good",
			pending(2),
			{ statusCode: 503 },
			{ status: "FAILED", attempts: 3, nextAttemptAt: null },
		],
		["a redelivery gets a fresh schedule", pending(3, 3), { statusCode: 503 }, { status: "PENDING", attempts: 4 }],
	])("%s", (_name, before, outcome, expected) => {
		expect(afterAttempt(before, outcome, SCHEDULE, NOW, 0.5)).toMatchObject(expected);
	});

	it.each(["SUCCEEDED", "FAILED"] as const)("never sends a %s delivery", status => {
		expect(() => afterAttempt({ ...pending(1), status }, { statusCode: 200 }, SCHEDULE, NOW, 0.5)).toThrow(
			expect.objectContaining({ code: 409, type: "INVALID_TRANSITION" }),
		);
	});

	it("redelivers a finished delivery now, and refuses a queued one", () => {
		const failed: DeliveryProgress = { ...pending(3), status: "FAILED", nextAttemptAt: null };
		expect(redeliver(failed, NOW)).toMatchObject({
			status: "PENDING",
			retryFrom: 3,
			nextAttemptAt: "2026-01-01T00:00:00.000Z",
		});
		expect(() => redeliver(pending(1), NOW)).toThrow(expect.objectContaining({ code: 409, type: "DELIVERY_PENDING" }));
	});

	it.each([
		[null, 0, false],
		["2026-01-01T00:00:00Z", 71 * 3_600_000, false],
		["2026-01-01T00:00:00Z", 72 * 3_600_000, true],
		["2026-01-01T00:00:00Z", 100 * 3_600_000, true],
	])("failing since %s, %i ms later: disable %s", (since, later, expected) => {
		expect(shouldDisable(since, NOW + later, 72)).toBe(expected);
	});
});
