// The order saga: reserve, charge, commit, confirm; compensation; idempotent replay; lease recovery. Everything it
// touches (the order store, the calls to other actors, the event outbox, the clock) is handed in by the service.
import { createHash } from "node:crypto";
import type { CallingOptions, LoggerInstance, MetricRegistry } from "moleculer";
import type { Transaction } from "sequelize";
import { call, type ActionParams, type ActionResult, type Caller } from "../../lib/actor";
import { ConflictError, NotFoundError } from "../../lib/errors";
import type { EventPayload } from "../../lib/events";
import type { Store } from "../../lib/storage";
import type { CreateOrderParams, Order, OrderEventData, OrderEventType } from "./contract";
import { classifyFailure, errorLike, type OrderFailure, type SagaStep } from "./order-failure";
import type { OrderStatus } from "./order-state";
import { stockKey } from "./pricing";

/** How long a client repeating a request waits for the first one to settle before hearing 409. */
export const REPLAY_WAIT_MS = 8000;
const REPLAY_POLL_MS = 25;
const REFUND_TIMEOUT_MS = 1500;
const RECOVERY_BATCH = 50;
const RECOVERY_PARALLEL = 8;

/** The actions the saga calls, each with its contract's params and result. */
type SagaAction =
	"inventory.reserve" | "inventory.commit" | "inventory.release" | "payments.charge" | "payments.refund";
export type SagaCalls = {
	[N in SagaAction]: (params: ActionParams<N>, opts?: CallingOptions) => Promise<ActionResult<N>>;
};

/** The saga's calls made through a request's context (keeps meta and the trace) or the broker (recovery). */
export function actorCalls(caller: Caller): SagaCalls {
	return {
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

/** What one run of the saga works with; the service builds it for each request and for recovery. */
export interface SagaDeps {
	store: OrderStore;
	calls: SagaCalls;
	publish: PublishOrderEvent;
	/** The clock (ms since the epoch) and a pause on it. */
	now(): number;
	sleep(ms: number): Promise<void>;
	/** How long a run holds an order before recovery may take it over. */
	leaseMs: number;
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
		currency: order.currency,
		items: order.items,
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
	| "paymentToken"
	| "shippingAddress"
	| "idempotencyKey"
	| "requestHash"
>;

/**
 * Stores a new order, leased to this node, with order.created in the same transaction. An order `refused` before it
 * starts is stored FAILED and settled at once, with order.failed too. Throws DuplicateKeyError for a known key.
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
		paymentToken: draft.paymentToken,
		shippingAddress: draft.shippingAddress,
		failure: refused,
		failureReason: refused?.type ?? null,
		idempotencyKey: draft.idempotencyKey,
		requestHash: draft.requestHash,
		settled: !!refused,
		leaseOwner: deps.nodeID,
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

export function reserve({ calls }: SagaDeps, order: Order): Promise<unknown> {
	return calls["inventory.reserve"]({ orderId: order.id, items: stockLines(order) });
}

export function charge({ calls }: SagaDeps, order: Order): Promise<unknown> {
	const { id: orderId, userId, total: amount, currency, paymentToken } = order;
	return calls["payments.charge"]({ orderId, userId, amount, currency, paymentToken });
}

export function commit({ calls }: SagaDeps, order: Order): Promise<unknown> {
	// Inventory refuses a commit its reservations do not cover, so an order can never confirm with stock unheld.
	return calls["inventory.commit"]({ orderId: order.id, items: stockLines(order) });
}

/** PENDING → CONFIRMED once every step is done; null if the order moved on meanwhile (another run finished it). */
export async function confirm(deps: SagaDeps, order: Order): Promise<Order | null> {
	const confirmed = await transition(deps, order, "PENDING", { status: "CONFIRMED", settled: true });
	if (confirmed) {
		deps.metrics.increment("emporium.orders.total", { status: "CONFIRMED" });
		deps.metrics.increment("emporium.orders.value", { currency: order.currency }, order.total);
	}
	return confirmed;
}

/** In order; the name is the step a failure is recorded at (it decides what compensation undoes). */
export const STEPS: readonly [SagaStep, (deps: SagaDeps, order: Order) => Promise<unknown>][] = [
	["reserve", reserve],
	["payment", charge],
	["commit", commit],
];

/**
 * Runs the saga of a PENDING order held by this node, from the first step, and returns the order as it ends: CONFIRMED,
 * FAILED (compensated), or as another run left it if that run took the lease over meanwhile.
 */
export async function advance(deps: SagaDeps, order: Order): Promise<Order> {
	let leaseUntil = Date.parse(order.leaseUntil);
	for (const [step, run] of STEPS) {
		// A slow saga renews its lease; if another node has taken the order over meanwhile, this run stops.
		if (deps.now() > leaseUntil - deps.leaseMs / 2) {
			const renewed = await renewLease(deps, order);
			if (renewed === null) return reload(deps.store, order.id);
			leaseUntil = renewed;
		}
		try {
			await run(deps, order);
		} catch (err) {
			const { type, name, message } = errorLike(err);
			deps.logger.info(`Order ${order.id} failed at ${step}: ${type ?? name} ${message}`);
			return fail(deps, order, classifyFailure(step, err, order.id));
		}
	}
	return (await confirm(deps, order)) ?? reload(deps.store, order.id);
}

/** Extends this node's lease on a PENDING order; the new expiry (ms), or null if another node holds it now. */
export async function renewLease(deps: SagaDeps, order: Order): Promise<number | null> {
	const until = deps.now() + deps.leaseMs;
	const renewed = await deps.store.update(
		{ id: order.id, status: "PENDING", leaseOwner: deps.nodeID },
		{ set: { leaseUntil: iso(until) } },
	);
	return renewed ? until : null;
}

/** PENDING → FAILED, then compensation; the order as it ends (as another run left it if that run got there first). */
export async function fail(deps: SagaDeps, order: Order, failure: OrderFailure): Promise<Order> {
	const failed = await transition(deps, order, "PENDING", { status: "FAILED", failure, failureReason: failure.type });
	if (!failed) return reload(deps.store, order.id);
	deps.metrics.increment("emporium.orders.total", { status: "FAILED" });
	await compensate(deps, failed);
	return failed;
}

/**
 * Gives back what a failed or cancelled order holds: its stock, and its charge if one may exist. If a call fails the
 * order stays unsettled and recovery retries.
 */
export async function compensate(deps: SagaDeps, order: Order): Promise<void> {
	try {
		await deps.calls["inventory.release"]({ orderId: order.id });
		const cancelled = order.status === "CANCELLED";
		if (cancelled || order.failure?.chargeMayExist) {
			// Short and without retries: the client is waiting, and recovery retries an unsettled order anyway.
			await deps.calls["payments.refund"](
				{ orderId: order.id, reason: cancelled ? "cancelled" : order.failure?.type },
				{ timeout: REFUND_TIMEOUT_MS, retries: 0 },
			);
		}
		await settle(deps, order);
	} catch (err) {
		deps.logger.warn(`Compensation of order ${order.id} incomplete, recovery will retry: ${errorLike(err).message}`);
	}
}

/**
 * CONFIRMED → CANCELLED, leased to this node while it gives back the stock and the charge; null if the order moved
 * on meanwhile. If compensation does not complete, recovery finishes it once the lease expires.
 */
export async function cancel(deps: SagaDeps, order: Order): Promise<Order | null> {
	const lease = { leaseOwner: deps.nodeID, leaseUntil: iso(deps.now() + deps.leaseMs) };
	const cancelled = await transition(deps, order, "CONFIRMED", { status: "CANCELLED", settled: false, ...lease });
	if (cancelled) await compensate(deps, cancelled);
	return cancelled;
}

/** Marks the order as having nothing left to do or undo. */
export async function settle(deps: SagaDeps, order: Order): Promise<void> {
	await deps.store.update({ id: order.id }, { set: { settled: true } });
}

/**
 * Compare-and-set of the status from `from`, with the status's domain event in the same transaction; the order as
 * changed, or null if it was no longer in `from`.
 */
export async function transition(
	deps: OrderWrites,
	order: Order,
	from: OrderStatus,
	set: Partial<Omit<Order, "id">> & { status: Exclude<OrderStatus, "PENDING"> },
): Promise<Order | null> {
	const next: Order = { ...order, ...set, updatedAt: iso(deps.now()) };
	const changed = await deps.store.transaction(async tx => {
		if (!(await deps.store.update({ id: order.id, status: from }, { set: { ...set, updatedAt: next.updatedAt } }, tx)))
			return false;
		await deps.publish(EVENT_OF[set.status], eventData(next), { id: `${order.id}:${set.status.toLowerCase()}`, tx });
		return true;
	});
	return changed ? next : null;
}

/** Digest of what a create request asks for: the same key with a different request is refused. */
export function requestHash(request: CreateOrderParams): string {
	const { items, paymentToken, shippingAddress } = request;
	return createHash("sha256")
		.update(JSON.stringify([items, paymentToken, shippingAddress ?? null]))
		.digest("hex");
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
	let order = existing;
	for (const deadline = deps.now() + REPLAY_WAIT_MS; order.status === "PENDING" && deps.now() < deadline;) {
		await deps.sleep(REPLAY_POLL_MS);
		order = await reload(deps.store, existing.id);
	}
	if (order.status === "PENDING")
		throw new ConflictError(
			"The first request with this Idempotency-Key is still in progress",
			"IDEMPOTENT_REQUEST_IN_PROGRESS",
			{ orderId: order.id },
		);
	return order;
}

/** Picks up orders whose node died or gave up mid-way (lease expired) and finishes or compensates them. */
export async function recoverStale(deps: SagaDeps): Promise<void> {
	const stale = await deps.store.find(
		{ settled: false, leaseUntil: { $lt: iso(deps.now()) } },
		{ sort: ["leaseUntil"], limit: RECOVERY_BATCH },
	);
	for (let i = 0; i < stale.length; i += RECOVERY_PARALLEL)
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

/** Leases an order whose lease expired to this node; null if another node took it first. */
export async function takeOver(deps: SagaDeps, order: Order): Promise<Order | null> {
	const lease = { leaseOwner: deps.nodeID, leaseUntil: iso(deps.now() + deps.leaseMs) };
	const taken = await deps.store.update({ id: order.id, leaseUntil: order.leaseUntil }, { set: lease });
	return taken ? { ...order, ...lease } : null;
}
