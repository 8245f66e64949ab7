/** The fewest appended lines worth rewriting a NeDB file for. */
export const MIN_COMPACTION_LINES = 1000;

/**
 * A NeDB file (DATA_DIR, nedb://) gets one appended line per document written, and is rewritten with only the live
 * documents when it is loaded. In between, a store compacts it once it has appended this many lines since the last
 * compaction: twice the documents it held then, so the file stays within about three times its live data (plus
 * MIN_COMPACTION_LINES), and rewriting it costs at most one document copy per two writes.
 */
export function linesBeforeCompaction(liveDocuments: number): number {
	return Math.max(MIN_COMPACTION_LINES, 2 * liveDocuments);
}
