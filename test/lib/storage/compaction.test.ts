import { describe, expect, it } from "vitest";
import { MIN_COMPACTION_LINES, linesBeforeCompaction } from "../../../lib/storage";

describe("linesBeforeCompaction: when a NeDB file is rewritten", () => {
	const cases: [live: number, lines: number][] = [
		[0, MIN_COMPACTION_LINES],
		[10, MIN_COMPACTION_LINES],
		[500, MIN_COMPACTION_LINES],
		[501, 1002],
		[100_000, 200_000],
	];
	it.each(cases)("%i live documents: after %i appended lines", (live, lines) => {
		expect(linesBeforeCompaction(live)).toBe(lines);
	});
});
