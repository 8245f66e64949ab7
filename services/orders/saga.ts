// The order saga: reserve the code's use, reserve stock, charge, commit, confirm; compensation; idempotent replay;
// lease recovery. Everything it touches (the order store, the calls to other actors, the event outbox, the clock) is
// handed in by the service.
import { createHash } from "node:crypto";
import type { CallingOptions, LoggerInstance, MetricRegistry } from "moleculer";
import type { Transaction } from "sequelize";
import { call, IDEMPOTENT_RETRY, type ActionParams, type ActionResult, type Caller } from "../../lib/actor";
import { ConflictError, NotFoundError, UnprocessableError } from "../../lib/errors";
import type { EventPayload } from "../../lib/events";
import type { Store, Where } from "../../lib/storage";
import type { CreateOrderParams, Order, OrderEventData, OrderEventType } from "./contract";
import { classifyFailure, errorLike, type OrderFailure, type SagaStep } from "./order-failure";
import type { OrderStatus } from "./order-state";
import { stockKey } from "./pricing";

/** How long a client repeating a request waits for the first one to settle before hearing 409. */
export const REPLAY_WAIT_MS = 8000;
const REPLAY_POLL_MS = 25;
const RECOVERY_BATCH = 50;
const RECOVERY_PARALLEL = 8;

/** The actions the saga calls, each with its contract's params and result. */
type SagaAction =
	| "promotions.reserve"
	| "promotions.release"
	| "inventory.reserve"
	| "inventory.commit"
	| "inventory.release"
	| "payments.charge"
	| "payments.refund";
export type SagaCalls = {
	[N in SagaAction]: (params: ActionParams<N>, opts?: CallingOptions) => Promise<ActionResult<N>>;
};

/** The saga's calls made through a request's context (keeps meta and the trace) or the broker (recovery). */
export function actorCalls(caller: Caller): SagaCalls {
	return {
		"promotions.reserve": (params, opts) => call(caller, "promotions.reserve", params, opts),
		"promotions.release": (params, opts) => call(caller, "promotions.release", params, opts),
		"inventory.reserve": (params, opts) => call(caller, "inventory.reserve", params, opts),
		"inventory.commit": (params, opts) => call(caller, "inventory.commit", params, opts),
		"inventory.release": (params, opts) => call(caller, "inventory.release", params, opts),
		"payments.charge": (params, opts) => call(caller, "payments.charge", params, opts),
		"payments.refund": (params, opts) => call(caller, "payments.refund", params, opts),
	};
}

/** The order collection's operations the saga uses. */
export type OrderStore = Pick<Store<Order>, "insert" | "findOne" | "find" | "update" | "transaction">;

/** Writes an event to the service's outbox, inside the transaction `tx` when given (mixins/events.mixin.ts). */
export type PublishOrderEvent = <E extends OrderEventType>(
	type: E,
	data: EventPayload<E>,
	opts: { id: string; tx?: Transaction },
) => Promise<unknown>;

/**
 * How long things may take. A run renews its lease before a step once half of it is used, so a step whose attempts
 * all fit in half the lease ends before the lease does (assertTimings checks this at start). Another node takes an
 * expired lease over only `clockSkewMs` after it expired on its own clock: the nodes' clocks must agree within that.
 */
export interface SagaTimings {
	/** How long a run holds an order before recovery may take it over. */
	leaseMs: number;
	/** Each call's timeout, set explicitly (a call would otherwise inherit the request's remaining time). */
	stepTimeoutMs: number;
	/** Further attempts of a step's call after a timeout or a retryable failure; compensation calls make one. */
	stepRetries: number;
	/** The margin for the nodes' clocks: how far past a lease's expiry recovery waits. */
	clockSkewMs: number;
}

/** What one run of the saga works with; the service builds it for each request and for recovery. */
export interface SagaDeps extends SagaTimings {
	store: OrderStore;
	calls: SagaCalls;
	publish: PublishOrderEvent;
	/** The clock (ms since the epoch) and a pause on it. */
	now(): number;
	sleep(ms: number): Promise<void>;
	/** A token unique to one run: written when the run takes the order, required by each of its writes. */
	newToken(): string;
	/** This node: the owner written on the leases it takes. */
	nodeID: string;
	logger: Pick<LoggerInstance, "info" | "warn">;
	metrics: Pick<MetricRegistry, "increment">;
}
/** The part of SagaDeps that a status change needs. */
export type OrderWrites = Pick<SagaDeps, "store" | "publish" | "now">;

const EVENT_OF: Record<Exclude<OrderStatus, "PENDING">, OrderEventType> = {
	CONFIRMED: "order.confirmed",
	FAILED: "order.failed",
	CANCELLED: "order.cancelled",
	SHIPPED: "order.shipped",
	DELIVERED: "order.delivered",
	PARTIALLY_RETURNED: "order.returned",
	RETURNED: "order.returned",
};

function iso(ms: number): string {
	return new Date(ms).toISOString();
}

export function eventData(order: Order): OrderEventData {
	return {
		orderId: order.id,
		userId: order.userId,
		status: order.status,
		total: order.total,
		totals: order.totals,
		currency: order.currency,
		items: order.items,
		discountCode: order.discountCode,
		failureReason: order.failure?.type ?? null,
	};
}

export async function reload(store: OrderStore, orderId: string): Promise<Order> {
	const order = await store.findOne({ id: orderId });
	if (!order) throw new NotFoundError("Order", { id: orderId });
	return order;
}

/** What a new order is made of; the saga adds its status, lease and timestamps. */
export type OrderDraft = Pick<
	Order,
	| "id"
	| "userId"
	| "items"
	| "currency"
	| "total"
	| "totals"
	| "discountCode"
	| "discount"
	| "shippingMethod"
	| "taxRate"
	| "paymentToken"
	| "shippingAddress"
	| "idempotencyKey"
	| "requestHash"
>;

/** The time one step may take with all its attempts: each attempt's timeout, and the retry delays in between. */
export function stepBudgetMs({
	stepTimeoutMs,
	stepRetries,
}: Pick<SagaTimings, "stepTimeoutMs" | "stepRetries">): number {
	let total = stepTimeoutMs * (stepRetries + 1);
	for (let retry = 0; retry < stepRetries; retry++)
		total += Math.min(IDEMPOTENT_RETRY.delay * IDEMPOTENT_RETRY.factor ** retry, IDEMPOTENT_RETRY.maxDelay);
	return total;
}

/** Refuses timings under which one step could outlast the lease it started with (see SagaTimings). */
export function assertTimings(timings: SagaTimings): void {
	const { leaseMs, stepTimeoutMs, stepRetries, clockSkewMs } = timings;
	if (!(leaseMs > 0)) throw new Error(`ORDER_LEASE_SECONDS must be a positive number, got ${leaseMs / 1000}`);
	if (!(stepTimeoutMs > 0)) throw new Error(`ORDER_STEP_TIMEOUT_MS must be a positive number, got ${stepTimeoutMs}`);
	if (!(Number.isInteger(stepRetries) && stepRetries >= 0))
		throw new Error(`ORDER_STEP_RETRIES must be an integer >= 0, got ${stepRetries}`);
	if (!(clockSkewMs >= 0)) throw new Error(`ORDER_CLOCK_SKEW_MS must be a number >= 0, got ${clockSkewMs}`);
	const budget = stepBudgetMs(timings);
	if (budget >= leaseMs / 2)
		throw new Error(
			`A saga step may take ${budget} ms (ORDER_STEP_TIMEOUT_MS=${stepTimeoutMs} × ${stepRetries + 1} attempts, ` +
				`ORDER_STEP_RETRIES=${stepRetries}, with retry delays): it must stay under half the lease ` +
				`(ORDER_LEASE_SECONDS=${leaseMs / 1000}), or a slow step could outlast it`,
		);
}

/** A step's call: its own timeout and retries. */
function stepCall(deps: SagaTimings): CallingOptions {
	return { timeout: deps.stepTimeoutMs, retries: deps.stepRetries };
}

/** A compensation call: one attempt, as the client is waiting; recovery retries an order left unsettled. */
function undoCall(deps: SagaTimings): CallingOptions {
	return { timeout: deps.stepTimeoutMs, retries: 0 };
}

/**
 * Stores a new order, leased to this node under a new run token, with order.created in the same transaction. An
 * order `refused` before it starts is stored FAILED and settled at once, with order.failed too. Throws
 * DuplicateKeyError for a known key.
 */
export async function start(deps: SagaDeps, draft: OrderDraft, refused: OrderFailure | null): Promise<Order> {
	const now = deps.now();
	const order: Order = {
		id: draft.id,
		userId: draft.userId,
		status: refused ? "FAILED" : "PENDING",
		items: draft.items,
		currency: draft.currency,
		total: draft.total,
		totals: draft.totals,
		discountCode: draft.discountCode,
		discount: draft.discount,
		shippingMethod: draft.shippingMethod,
		taxRate: draft.taxRate,
		shippedAt: null,
		deliveredAt: null,
		paymentToken: draft.paymentToken,
		shippingAddress: draft.shippingAddress,
		failure: refused,
		failureReason: refused?.type ?? null,
		idempotencyKey: draft.idempotencyKey,
		requestHash: draft.requestHash,
		settled: !!refused,
		leaseOwner: deps.nodeID,
		leaseToken: deps.newToken(),
		leaseUntil: iso(now + deps.leaseMs),
		createdAt: iso(now),
		updatedAt: iso(now),
	};
	await deps.store.transaction(async tx => {
		await deps.store.insert(order, tx);
		const created = eventData({ ...order, status: "PENDING", failure: null });
		await deps.publish("order.created", created, { id: `${order.id}:created`, tx });
		if (refused) await deps.publish("order.failed", eventData(order), { id: `${order.id}:failed`, tx });
	});
	if (refused) deps.metrics.increment("emporium.orders.total", { status: "FAILED" });
	return order;
}

// The steps. Each is idempotent per order, so a run that takes over an abandoned order simply runs them again.

/** The stock lines of an order, as inventory reserves and commits them: keyed by variant id. */
function stockLines(order: Order) {
	return order.items.map(item => ({ productId: stockKey(item), quantity: item.quantity }));
}

/** Holds one use of the order's code, before anything else: a code used up fails the order before any charge. */
export async function reservePromotion(deps: SagaDeps, order: Order): Promise<unknown> {
	if (!order.discountCode) return;
	const { id: orderId, discountCode: code, userId } = order;
	return deps.calls["promotions.reserve"]({ orderId, code, userId }, stepCall(deps));
}

export function reserve(deps: SagaDeps, order: Order): Promise<unknown> {
	return deps.calls["inventory.reserve"]({ orderId: order.id, items: stockLines(order) }, stepCall(deps));
}

export function charge(deps: SagaDeps, order: Order): Promise<unknown> {
	const { id: orderId, userId, total: amount, currency, paymentToken } = order;
	return deps.calls["payments.charge"]({ orderId, userId, amount, currency, paymentToken }, stepCall(deps));
}

export function commit(deps: SagaDeps, order: Order): Promise<unknown> {
	// Inventory refuses a commit its reservations do not cover, so an order can never confirm with stock unheld.
	return deps.calls["inventory.commit"]({ orderId: order.id, items: stockLines(order) }, stepCall(deps));
}

/** PENDING → CONFIRMED once every step is done; null if this run no longer holds the order. */
export async function confirm(deps: SagaDeps, order: Order): Promise<Order | null> {
	const confirmed = await transition(deps, order, "PENDING", { status: "CONFIRMED", settled: true }, { fenced: true });
	if (confirmed) {
		deps.metrics.increment("emporium.orders.total", { status: "CONFIRMED" });
		deps.metrics.increment("emporium.orders.value", { currency: order.currency }, order.total);
	}
	return confirmed;
}

/** In order; the name is the step a failure is recorded at. */
export const STEPS: readonly [SagaStep, (deps: SagaDeps, order: Order) => Promise<unknown>][] = [
	["promotion", reservePromotion],
	["reserve", reserve],
	["payment", charge],
	["commit", commit],
];

/**
 * Runs the saga of a PENDING order this run holds (`order.leaseToken`), from the first step, and returns the order as
 * it ends: CONFIRMED, FAILED (compensated), or as another run left it if that run took the order over meanwhile.
 * `first`: this run created the order (no run held it before).
 */
export async function advance(deps: SagaDeps, order: Order, { first = false } = {}): Promise<Order> {
	let leaseUntil = Date.parse(order.leaseUntil);
	for (const [step, run] of STEPS) {
		// Before a step, at least half the lease is left: enough for the step's every attempt (assertTimings).
		if (deps.now() > leaseUntil - deps.leaseMs / 2) {
			const renewed = await renewLease(deps, order);
			if (renewed === null) return lost(deps, order);
			leaseUntil = renewed;
		}
		try {
			await run(deps, order);
		} catch (err) {
			const { type, name, message } = errorLike(err);
			deps.logger.info(`Order ${order.id} failed at ${step}: ${type ?? name} ${message}`);
			// Only the run that created the order, failing before its charge, knows that no charge was ever asked for:
			// a run that took the order over would hold the token its FAILED write requires.
			const payment = first && (step === "promotion" || step === "reserve") ? "none asked" : "may exist";
			return fail(deps, order, classifyFailure(step, err, order.id), payment);
		}
	}
	return (await confirm(deps, order)) ?? lost(deps, order);
}

/** The order as the run that took it over from this one left it; this run stops there, having written nothing. */
async function lost(deps: SagaDeps, order: Order): Promise<Order> {
	deps.logger.info(`Order ${order.id}: another run holds it now, this one stops`);
	return reload(deps.store, order.id);
}

/** Extends this run's lease on a PENDING order; the new expiry (ms), or null if another run holds the order now. */
export async function renewLease(deps: SagaDeps, order: Order): Promise<number | null> {
	const until = deps.now() + deps.leaseMs;
	const renewed = await deps.store.update(
		{ id: order.id, status: "PENDING", leaseToken: order.leaseToken },
		{ set: { leaseUntil: iso(until) } },
	);
	return renewed ? until : null;
}

/** Whether a charge may exist for an order: "none asked" only when no run of it has ever called payments.charge. */
export type PaymentState = "may exist" | "none asked";

/**
 * PENDING → FAILED with a fresh lease for the compensation, then compensation; the order as it ends (as another run
 * left it if this run no longer holds the order: then it neither fails nor undoes anything).
 */
export async function fail(
	deps: SagaDeps,
	order: Order,
	failure: OrderFailure,
	payment: PaymentState = "may exist",
): Promise<Order> {
	const leaseUntil = iso(deps.now() + deps.leaseMs);
	const set = { status: "FAILED", failure, failureReason: failure.type, leaseUntil } as const;
	const failed = await transition(deps, order, "PENDING", set, { fenced: true });
	if (!failed) return lost(deps, order);
	deps.metrics.increment("emporium.orders.total", { status: "FAILED" });
	await compensate(deps, failed, payment);
	return failed;
}

/**
 * Gives back what a failed or cancelled order holds: its stock, its code's use, and its payment whatever step failed
 * (another run of the order may have charged; payments turns "no charge yet" into a void that refuses a late charge),
 * unless no charge was ever asked for. If a call fails the order stays unsettled, and recovery retries with a refund.
 */
export async function compensate(deps: SagaDeps, order: Order, payment: PaymentState = "may exist"): Promise<void> {
	try {
		await deps.calls["inventory.release"]({ orderId: order.id }, undoCall(deps));
		// Idempotent, and nothing to give back when the use was never reserved (the order failed at that step).
		if (order.discountCode) await deps.calls["promotions.release"]({ orderId: order.id }, undoCall(deps));
		const reason = order.status === "CANCELLED" ? "cancelled" : order.failure?.type;
		if (payment === "may exist") await deps.calls["payments.refund"]({ orderId: order.id, reason }, undoCall(deps));
		if (!(await settle(deps, order))) await lost(deps, order);
	} catch (err) {
		deps.logger.warn(`Compensation of order ${order.id} incomplete, recovery will retry: ${errorLike(err).message}`);
	}
}

/**
 * CONFIRMED → CANCELLED, leased to a new run on this node while it gives back the stock and the charge; null if the
 * order moved on meanwhile. If compensation does not complete, recovery finishes it once the lease expires.
 */
export async function cancel(deps: SagaDeps, order: Order): Promise<Order | null> {
	const lease = { leaseOwner: deps.nodeID, leaseToken: deps.newToken(), leaseUntil: iso(deps.now() + deps.leaseMs) };
	const cancelled = await transition(deps, order, "CONFIRMED", { status: "CANCELLED", settled: false, ...lease });
	if (cancelled) await compensate(deps, cancelled);
	return cancelled;
}

/** Marks the order as having nothing left to do or undo; false if this run no longer holds it. */
export async function settle(deps: SagaDeps, order: Order): Promise<boolean> {
	return (await deps.store.update({ id: order.id, leaseToken: order.leaseToken }, { set: { settled: true } })) > 0;
}

/**
 * Compare-and-set of the status from `from` (and, `fenced`, of the run token `order.leaseToken`), with the status's
 * domain event in the same transaction; the order as changed, or null if the stored order no longer matched.
 */
export async function transition(
	deps: OrderWrites,
	order: Order,
	from: OrderStatus,
	set: Partial<Omit<Order, "id">> & { status: Exclude<OrderStatus, "PENDING"> },
	{ fenced = false } = {},
): Promise<Order | null> {
	const next: Order = { ...order, ...set, updatedAt: iso(deps.now()) };
	const where: Where<Order> = { id: order.id, status: from };
	if (fenced) where.leaseToken = order.leaseToken;
	const changed = await deps.store.transaction(async tx => {
		if (!(await deps.store.update(where, { set: { ...set, updatedAt: next.updatedAt } }, tx))) return false;
		await deps.publish(EVENT_OF[set.status], eventData(next), { id: `${order.id}:${set.status.toLowerCase()}`, tx });
		return true;
	});
	return changed ? next : null;
}

/** What an admin's status change writes: the status, and when the order was shipped or delivered (ISO). */
export function shipmentChange(status: "SHIPPED" | "DELIVERED", now: number) {
	return status === "SHIPPED" ? { status, shippedAt: iso(now) } : { status, deliveredAt: iso(now) };
}

/**
 * Digest of what a create request asks for: the same key with a different request is refused. The code (compared
 * upper case, as it applies) and the shipping method count only when given, so a request without them keeps the
 * digest it had before they existed (a retry across the upgrade still replays).
 */
export function requestHash(request: CreateOrderParams): string {
	const { items, paymentToken, shippingAddress, discountCode, shippingMethodId } = request;
	const asked: unknown[] = [items, paymentToken, shippingAddress ?? null];
	if (discountCode !== undefined || shippingMethodId !== undefined)
		asked.push(discountCode?.toUpperCase() ?? null, shippingMethodId ?? null);
	return createHash("sha256").update(JSON.stringify(asked)).digest("hex");
}

/** The longest Idempotency-Key a client may send (README, API). */
export const IDEMPOTENCY_KEY_MAX = 255;

/**
 * What the orders store keeps of a request's Idempotency-Key: a digest of user and key, 64 hex characters whatever
 * the key's length; null without a key. A key over IDEMPOTENCY_KEY_MAX is refused (422), never ignored: ignoring it
 * would charge a retrying client twice.
 */
export function idempotencyKey(userId: string, key: string | undefined): string | null {
	if (key === undefined || key === "") return null;
	if (key.length > IDEMPOTENCY_KEY_MAX)
		throw new UnprocessableError("Parameters validation error!", "VALIDATION_ERROR", [
			{
				type: "stringMax",
				field: "Idempotency-Key",
				expected: IDEMPOTENCY_KEY_MAX,
				actual: key.length,
				message: `The 'Idempotency-Key' header must be at most ${IDEMPOTENCY_KEY_MAX} characters long.`,
			},
		]);
	return createHash("sha256")
		.update(JSON.stringify([userId, key]))
		.digest("hex");
}

/** The order once no run is working on it (not PENDING), or as it is after REPLAY_WAIT_MS. */
export async function outcome(deps: Pick<SagaDeps, "store" | "now" | "sleep">, orderId: string): Promise<Order> {
	let order = await reload(deps.store, orderId);
	for (const deadline = deps.now() + REPLAY_WAIT_MS; order.status === "PENDING" && deps.now() < deadline;) {
		await deps.sleep(REPLAY_POLL_MS);
		order = await reload(deps.store, orderId);
	}
	return order;
}

/**
 * The order a repeated request (same user and Idempotency-Key) is answered with: the first one, once it has
 * settled, so a client is never charged twice; null if the key is new. Throws 409 when the key came with a
 * different request, or when the first request is still running after REPLAY_WAIT_MS.
 */
export async function replay(
	deps: Pick<SagaDeps, "store" | "now" | "sleep">,
	idempotencyKey: string,
	requestHash: string,
): Promise<Order | null> {
	const existing = await deps.store.findOne({ idempotencyKey });
	if (!existing) return null;
	if (existing.requestHash !== requestHash)
		throw new ConflictError("This Idempotency-Key was used for a different request", "IDEMPOTENCY_KEY_REUSED");
	const order = existing.status === "PENDING" ? await outcome(deps, existing.id) : existing;
	if (order.status === "PENDING")
		throw new ConflictError(
			"The first request with this Idempotency-Key is still in progress",
			"IDEMPOTENT_REQUEST_IN_PROGRESS",
			{ orderId: order.id },
		);
	return order;
}

/**
 * Picks up orders whose run died or gave up mid-way (lease expired, by more than the clock margin) and finishes or
 * compensates them; starts no further order once `active()` turns false (the node is stopping).
 */
export async function recoverStale(deps: SagaDeps, active: () => boolean = () => true): Promise<void> {
	const stale = await deps.store.find(
		{ settled: false, leaseUntil: { $lt: iso(deps.now() - deps.clockSkewMs) } },
		{ sort: ["leaseUntil"], limit: RECOVERY_BATCH },
	);
	for (let i = 0; i < stale.length && active(); i += RECOVERY_PARALLEL)
		await Promise.all(stale.slice(i, i + RECOVERY_PARALLEL).map(order => recover(deps, order)));
}

/** Takes an abandoned order over (unless another node just did), then runs its saga again or compensates it. */
export async function recover(deps: SagaDeps, order: Order): Promise<void> {
	const taken = await takeOver(deps, order);
	if (!taken) return;
	deps.logger.info(`Recovering order ${order.id} (${order.status})`);
	if (taken.status === "PENDING") await advance(deps, taken);
	else await compensate(deps, taken);
}

/**
 * Compare-and-set of the lease as it was read (its run token and expiry) to a new run on this node, with a new
 * token: the run it replaces can no longer write. Null if another node took the order first, or its run renewed.
 */
export async function takeOver(deps: SagaDeps, order: Order): Promise<Order | null> {
	const lease = { leaseOwner: deps.nodeID, leaseToken: deps.newToken(), leaseUntil: iso(deps.now() + deps.leaseMs) };
	const taken = await deps.store.update(
		{ id: order.id, leaseToken: order.leaseToken, leaseUntil: order.leaseUntil },
		{ set: lease },
	);
	return taken ? { ...order, ...lease } : null;
}
