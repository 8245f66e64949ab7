import { ConflictError } from "../../lib/errors";
import { retryDelayMs, type RetrySchedule } from "./retry-schedule";

export const DELIVERY_STATUSES = ["PENDING", "SUCCEEDED", "FAILED"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** The fields of a delivery the state machine reads and writes. */
export interface DeliveryProgress {
	status: DeliveryStatus;
	/** Attempts made in all, redeliveries included. */
	attempts: number;
	/** `attempts` when the delivery was last queued: a redelivery gets the full schedule again. */
	retryFrom: number;
	lastStatusCode: number | null;
	lastError: string | null;
	/** When the next attempt is due (ISO); null once SUCCEEDED or FAILED. */
	nextAttemptAt: string | null;
}

/** What one attempt gave: a status code (any, 2xx is success) or an error before an answer (timeout, refused...). */
export type AttemptOutcome = { statusCode: number } | { error: string };

export function isSuccess(outcome: AttemptOutcome): boolean {
	return "statusCode" in outcome && outcome.statusCode >= 200 && outcome.statusCode < 300;
}

/**
 * PENDING -> SUCCEEDED on a 2xx (never sent again unless an admin asks), PENDING -> PENDING with the next attempt
 * scheduled on a failure, PENDING -> FAILED after the last attempt of the schedule. Only a PENDING delivery is sent.
 */
export function afterAttempt(
	d: DeliveryProgress,
	outcome: AttemptOutcome,
	schedule: RetrySchedule,
	nowMs: number,
	random: number,
): DeliveryProgress {
	if (d.status !== "PENDING") throw new ConflictError(`A ${d.status} delivery is not sent`, "INVALID_TRANSITION");
	const attempts = d.attempts + 1;
	const lastStatusCode = "statusCode" in outcome ? outcome.statusCode : null;
	if (isSuccess(outcome))
		return { ...d, status: "SUCCEEDED", attempts, lastStatusCode, lastError: null, nextAttemptAt: null };
	const lastError = "error" in outcome ? outcome.error : `HTTP ${outcome.statusCode}`;
	const delay = retryDelayMs(schedule, attempts - d.retryFrom, random);
	if (delay === null) return { ...d, status: "FAILED", attempts, lastStatusCode, lastError, nextAttemptAt: null };
	return { ...d, attempts, lastStatusCode, lastError, nextAttemptAt: new Date(nowMs + delay).toISOString() };
}

/** An admin's redelivery: a SUCCEEDED or FAILED delivery is queued again, due now, with a fresh schedule. */
export function redeliver(d: DeliveryProgress, nowMs: number): DeliveryProgress {
	if (d.status === "PENDING") throw new ConflictError("The delivery is already queued", "DELIVERY_PENDING");
	return { ...d, status: "PENDING", retryFrom: d.attempts, nextAttemptAt: new Date(nowMs).toISOString() };
}

/**
 * Auto-disable: a webhook whose deliveries have failed since `failingSince` (the first failure after its last
 * success; null while it succeeds) with no success for `disableAfterHours` is set inactive.
 */
export function shouldDisable(failingSince: string | null, nowMs: number, disableAfterHours: number): boolean {
	if (!failingSince) return false;
	return nowMs - Date.parse(failingSince) >= disableAfterHours * 3_600_000;
}
