import { describe, expect, it } from "vitest";
import { afterFailure, type AfterFailure } from "../../../lib/events";

describe("afterFailure: what the in-process bus does with a message whose handler failed", () => {
	type Case = [attempt: number, maxRetries: number, deadLettering: boolean, dlq: boolean, expected: AfterFailure];
	const cases: Case[] = [
		[1, 5, true, false, "retry"],
		[4, 5, true, false, "retry"],
		[5, 5, true, false, "dead-letter"],
		[6, 5, true, false, "dead-letter"],
		[5, 5, false, false, "drop"],
		[1, 1, true, false, "dead-letter"],
		[1, 0, true, false, "dead-letter"],
		[1, 0, false, false, "drop"],
		[1, 5, true, true, "retry"],
		[5, 5, true, true, "drop"],
	];
	const stopping: Case[] = [
		[1, 5, true, false, "keep"],
		[5, 5, true, false, "keep"],
		[5, 5, false, true, "keep"],
	];
	it.each(cases)("delivery %i of %i (dead-lettering %s, dead-letter channel %s): %s", (attempt, max, dl, dlq, out) => {
		expect(afterFailure(attempt, { maxRetries: max, deadLettering: dl, isDeadLetterChannel: dlq })).toBe(out);
	});
	it.each(stopping)("while the broker stops, delivery %i of %i (%s, %s): %s", (attempt, max, dl, dlq, out) => {
		const opts = { maxRetries: max, deadLettering: dl, isDeadLetterChannel: dlq, stopping: true };
		expect(afterFailure(attempt, opts)).toBe(out);
	});
});
