import { createRequire } from "node:module";

/**
 * kafkajs 2.2.4 (the latest release) keeps a 1 ms timer loop running on every broker connection whose request queue
 * is empty: `scheduleCheckPendingRequests` schedules itself with a negative delay when nothing is pending
 * (tulios/kafkajs#1556, #1604; the fix, PR #1667, is not released). Each node with a producer and a consumer burned
 * several percent of a core idle and more under load. With nothing pending there is nothing to schedule: a new
 * request (`push`) and every response check the queue again, so this returns early then, as PR #1667 does.
 */
interface RequestQueueLike {
	pending: unknown[];
	scheduleCheckPendingRequests: (this: RequestQueueLike) => void;
}

const requireFromHere = createRequire(__filename);
const RequestQueue = requireFromHere("kafkajs/src/network/requestQueue") as { prototype: RequestQueueLike };
const scheduleWithPending = RequestQueue.prototype.scheduleCheckPendingRequests;

RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueLike) {
	if (this.pending.length === 0) return;
	scheduleWithPending.call(this);
};

/** kafkajs' request queue, patched (for the test). */
export const KafkaRequestQueue = RequestQueue;
