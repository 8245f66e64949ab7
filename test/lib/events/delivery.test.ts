import { describe, expect, it } from "vitest";
import { afterFailure, type AfterFailure } from "../../../lib/events";

describe("afterFailure: what the in-process bus does with a message whose handler failed", () => {
	const cases: [attempt: number, maxRetries: number, deadLettering: boolean, dlq: boolean, expected: AfterFailure][] = [
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
	it.each(cases)("delivery %i of %i (dead-lettering %s, dead-letter channel %s): %s", (attempt, max, dl, dlq, out) => {
		expect(afterFailure(attempt, { maxRetries: max, deadLettering: dl, isDeadLetterChannel: dlq })).toBe(out);
	});
});
