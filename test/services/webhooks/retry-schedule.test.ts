import { describe, expect, it } from "vitest";
import { retryDelayMs, type RetrySchedule } from "../../../services/webhooks/retry-schedule";

const DEFAULTS: RetrySchedule = { baseMs: 10_000, maxMs: 24 * 3_600_000, maxAttempts: 12 };

describe("webhook retry schedule", () => {
	it.each([
		[1, 0.5, 10_000],
		[2, 0.5, 23_500],
		[3, 0.5, 55_225],
		[1, 0, 8_000],
		[1, 0.999999, 12_000],
		[11, 0.5, Math.round(10_000 * 2.35 ** 10)],
		[12, 0.5, null],
		[13, 0.5, null],
	])("after attempt %i (random %f): %s ms", (attempt, random, expected) => {
		expect(retryDelayMs(DEFAULTS, attempt, random)).toBe(expected);
	});

	it("spreads the default 12 attempts over about a day", () => {
		let total = 0;
		for (let a = 1; a < 12; a++) total += retryDelayMs(DEFAULTS, a, 0.5)!;
		expect(total / 3_600_000).toBeGreaterThan(20);
		expect(total / 3_600_000).toBeLessThan(30);
	});

	it("caps every delay, jitter included", () => {
		const short = { baseMs: 200, maxMs: 1000, maxAttempts: 50 };
		expect(retryDelayMs(short, 10, 0.999)).toBe(1000);
		expect(retryDelayMs(short, 1, 0.999)).toBeLessThanOrEqual(240);
	});

	it.each([0, -1, 1.5])("refuses attempt %s", attempt => {
		expect(() => retryDelayMs(DEFAULTS, attempt, 0.5)).toThrow(RangeError);
	});
});
