// The returns flow: a return is requested, then received (the order moves on, the units go back to stock and the
// customer gets the refund) or rejected; a sweep finishes refunds left pending. Everything it touches (the stores,
// the calls to inventory and payments, the outbox, the clock) is handed in by the service (return-actions.ts).
import type { CallingOptions, LoggerInstance } from "moleculer";
import type { Transaction } from "sequelize";
import { call, type ActionParams, type ActionResult, type Caller } from "../../lib/actor";
import { ConflictError, DuplicateKeyError, NotFoundError } from "../../lib/errors";
import type { EventPayload } from "../../lib/events";
import type { Store } from "../../lib/storage";
import type { Order, ReturnEventData, ReturnStatus } from "./contract";
import { errorLike } from "./order-failure";
import type { OrderStatus } from "./order-state";
import type { VariantQuantity } from "./pricing";
import { eventData, type SagaTimings } from "./saga";
import { checkReturn, receiptAmounts, requestAmounts, statusAfterReceipt, type StoredReturn } from "./returns";

/** Reads and writes of one request or receipt before it gives up on an order whose returns keep changing. */
const ATTEMPTS = 50;
/** The longest pause before another attempt: losers spread out instead of all trying again at once. */
const BACKOFF_MAX_MS = 200;
const SWEEP_BATCH = 50;

type ReturnAction = "inventory.returnStock" | "payments.refundPart";
export type ReturnCalls = {
	[N in ReturnAction]: (params: ActionParams<N>, opts?: CallingOptions) => Promise<ActionResult<N>>;
};

/** The flow's calls, through a request's context or the broker (the sweep). */
export function returnCalls(caller: Caller): ReturnCalls {
	return {
		"inventory.returnStock": (params, opts) => call(caller, "inventory.returnStock", params, opts),
		"payments.refundPart": (params, opts) => call(caller, "payments.refundPart", params, opts),
	};
}

type ReturnEventType = "order.returned" | "return.requested" | "return.received" | "return.rejected";
/** Writes an event to the orders outbox, inside the transaction `tx` when given. */
export type PublishReturnEvent = <E extends ReturnEventType>(
	type: E,
	data: EventPayload<E>,
	opts: { id: string; tx?: Transaction },
) => Promise<unknown>;

/** Runs `work` once the works queued before it under the same key have settled. */
export type KeyedQueue = <T>(key: string, work: () => Promise<T>) => Promise<T>;

/**
 * A queue per key, in arrival order. The requests and receipts of one order on this node wait their turn in it, rather
 * than all read the same returns and lose the order's next number to each other (the unique numbers still decide
 * between nodes).
 */
export function keyedQueue(): KeyedQueue {
	const tails = new Map<string, Promise<unknown>>();
	return <T>(key: string, work: () => Promise<T>): Promise<T> => {
		const run = (tails.get(key) ?? Promise.resolve()).then(work, work);
		const tail = run.then(
			() => undefined,
			() => undefined,
		);
		tails.set(key, tail);
		void tail.then(() => tails.get(key) === tail && tails.delete(key));
		return run;
	};
}

export interface ReturnDeps extends SagaTimings {
	orders: Pick<Store<Order>, "findOne" | "update">;
	/** Shares the orders' SQL connection: its transactions cover both collections and the outbox. */
	returns: Pick<Store<StoredReturn>, "insert" | "findOne" | "find" | "update" | "transaction">;
	calls: ReturnCalls;
	/** One queue per orders node (keyed by order). */
	queue: KeyedQueue;
	publish: PublishReturnEvent;
	now(): number;
	sleep(ms: number): Promise<void>;
	newId(): string;
	/** RETURN_WINDOW_DAYS. */
	windowDays: number;
	logger: Pick<LoggerInstance, "warn">;
}

function iso(ms: number): string {
	return new Date(ms).toISOString();
}

export function returnEventData(ret: StoredReturn): ReturnEventData {
	const { id: returnId, orderId, userId, status, items, refundAmount, currency } = ret;
	return { returnId, orderId, userId, status, items, refundAmount, currency };
}

const invalidTransition = (from: ReturnStatus, to: ReturnStatus) =>
	new ConflictError(`A return cannot go from ${from} to ${to}`, "INVALID_TRANSITION", { from, to });
/** A random pause, growing with the attempts lost, before reading the order's returns again. */
function backoff(deps: ReturnDeps, attempt: number): Promise<void> {
	return deps.sleep(Math.random() * Math.min(BACKOFF_MAX_MS, 5 * 2 ** attempt));
}
const busy = () => new ConflictError("The order's returns kept changing meanwhile, try again", "CONFLICT");

async function findOrder(deps: ReturnDeps, orderId: string): Promise<Order> {
	const order = await deps.orders.findOne({ id: orderId });
	if (!order) throw new NotFoundError("Order", { id: orderId });
	return order;
}

export async function findReturn(deps: Pick<ReturnDeps, "returns">, returnId: string): Promise<StoredReturn> {
	const ret = await deps.returns.findOne({ id: returnId });
	if (!ret) throw new NotFoundError("Return", { id: returnId });
	return ret;
}

/**
 * Stores a REQUESTED return of `lines` of the order (checked by returns.ts checkReturn), with return.requested. It
 * takes the slot after the order's returns it read: if another request took it first, it reads them again, so two
 * concurrent requests never hold more than was bought.
 */
export async function requestReturn(
	deps: ReturnDeps,
	order: Order,
	lines: readonly VariantQuantity[],
	reason: string | null,
): Promise<StoredReturn> {
	return deps.queue(order.id, () => requestOnce(deps, order, lines, reason));
}

async function requestOnce(
	deps: ReturnDeps,
	order: Order,
	lines: readonly VariantQuantity[],
	reason: string | null,
): Promise<StoredReturn> {
	for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
		const returns = await deps.returns.find({ orderId: order.id });
		const merged = checkReturn(order, returns, lines, deps.now(), deps.windowDays);
		const now = iso(deps.now());
		const ret: StoredReturn = {
			id: deps.newId(),
			orderId: order.id,
			userId: order.userId,
			status: "REQUESTED",
			...requestAmounts(order, returns, merged),
			currency: order.currency,
			reason,
			refundStatus: null,
			slot: `${order.id}:${returns.length + 1}`,
			receipt: null,
			createdAt: now,
			updatedAt: now,
		};
		try {
			await deps.returns.transaction(async tx => {
				await deps.returns.insert(ret, tx);
				await deps.publish("return.requested", returnEventData(ret), { id: `${ret.id}:requested`, tx });
			});
			return ret;
		} catch (err) {
			if (!(err instanceof DuplicateKeyError)) throw err;
			await backoff(deps, attempt);
			order = await findOrder(deps, order.id);
		}
	}
	throw busy();
}

/**
 * Moves the order on after a receipt, with order.returned, unless it is there already (a later receipt of a partly
 * returned order; the sweep repeating it). RETURNED is final: a late PARTIALLY_RETURNED never overwrites it.
 */
async function moveOrder(
	deps: ReturnDeps,
	order: Order,
	target: "PARTIALLY_RETURNED" | "RETURNED",
	tx?: Transaction,
): Promise<void> {
	const from: OrderStatus[] = ["SHIPPED", "DELIVERED"];
	if (target === "RETURNED") from.push("PARTIALLY_RETURNED");
	const updatedAt = iso(deps.now());
	const where = { id: order.id, status: { $in: from } };
	if (!(await deps.orders.update(where, { set: { status: target, updatedAt } }, tx))) return;
	const data = eventData({ ...order, status: target, updatedAt });
	await deps.publish("order.returned", data, { id: `${order.id}:${target.toLowerCase()}`, tx });
}

/**
 * REQUESTED → RECEIVED, else 409 INVALID_TRANSITION. The final amounts are priced after the order's RECEIVED returns
 * (returns.ts receiptAmounts), and the receipt takes the number after theirs (a concurrent receipt of the order makes
 * it read again), so the refunds add up to the order's total once all is back. With it, in one transaction on SQL:
 * return.received, and the order's move with order.returned. Then the refund (`refund`); if that does not go through
 * the return stays RECEIVED with its refund PENDING, and the sweep finishes it.
 */
export async function receiveReturn(deps: ReturnDeps, returnId: string): Promise<StoredReturn> {
	const { orderId } = await findReturn(deps, returnId);
	const received = await deps.queue(orderId, () => recordReceipt(deps, returnId));
	return (await refund(deps, received)) ? { ...received, refundStatus: "DONE" } : received;
}

/** The receipt of `receiveReturn`, up to the refund. */
async function recordReceipt(deps: ReturnDeps, returnId: string): Promise<StoredReturn> {
	for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
		const ret = await findReturn(deps, returnId);
		if (ret.status !== "REQUESTED") throw invalidTransition(ret.status, "RECEIVED");
		const order = await findOrder(deps, ret.orderId);
		const received = await deps.returns.find({ orderId: ret.orderId, status: "RECEIVED" });
		const next: StoredReturn = {
			...ret,
			...receiptAmounts(order, received, ret.items),
			status: "RECEIVED",
			refundStatus: "PENDING",
			receipt: `${ret.orderId}:${received.length + 1}`,
			updatedAt: iso(deps.now()),
		};
		const { items, refundAmount, status, refundStatus, receipt, updatedAt } = next;
		let moved: boolean;
		try {
			moved = await deps.returns.transaction(async tx => {
				const set = { items, refundAmount, status, refundStatus, receipt, updatedAt };
				if (!(await deps.returns.update({ id: ret.id, status: "REQUESTED" }, { set }, tx))) return false;
				await deps.publish("return.received", returnEventData(next), { id: `${ret.id}:received`, tx });
				await moveOrder(deps, order, statusAfterReceipt(order, [...received, next]), tx);
				return true;
			});
		} catch (err) {
			if (!(err instanceof DuplicateKeyError)) throw err;
			await backoff(deps, attempt); // another receipt of the order took this number: read again
			continue;
		}
		// Not moved: rejected or received meanwhile, which the next read reports.
		if (!moved) continue;
		return next;
	}
	throw busy();
}

/** REQUESTED → REJECTED with return.rejected, else 409 INVALID_TRANSITION; nothing moves. */
export async function rejectReturn(deps: ReturnDeps, returnId: string): Promise<StoredReturn> {
	const ret = await findReturn(deps, returnId);
	if (ret.status !== "REQUESTED") throw invalidTransition(ret.status, "REJECTED");
	const next: StoredReturn = { ...ret, status: "REJECTED", updatedAt: iso(deps.now()) };
	const rejected = await deps.returns.transaction(async tx => {
		const set = { status: next.status, updatedAt: next.updatedAt };
		if (!(await deps.returns.update({ id: ret.id, status: "REQUESTED" }, { set }, tx))) return false;
		await deps.publish("return.rejected", returnEventData(next), { id: `${ret.id}:rejected`, tx });
		return true;
	});
	if (!rejected) throw invalidTransition((await findReturn(deps, returnId)).status, "REJECTED");
	return next;
}

/**
 * The refund of a RECEIVED return: its units back to stock, its `refundAmount` back through payments, then DONE. Both
 * calls are idempotent per return, so repeating them (the sweep) moves nothing twice. True once DONE; false, and still
 * PENDING, if a call failed (payments down: 503 PAYMENT_UNAVAILABLE).
 */
export async function refund(deps: ReturnDeps, ret: StoredReturn): Promise<boolean> {
	const opts = { timeout: deps.stepTimeoutMs, retries: deps.stepRetries };
	try {
		const items = ret.items.map(i => ({ productId: i.variantId, quantity: i.quantity }));
		await deps.calls["inventory.returnStock"]({ returnId: ret.id, items }, opts);
		const { orderId, id: returnId, refundAmount: amount } = ret;
		const done = await deps.calls["payments.refundPart"]({ orderId, returnId, amount, reason: "return" }, opts);
		if (done.status !== "SUCCEEDED") throw new Error(`payments answered ${done.status}`);
		const set = { refundStatus: "DONE", updatedAt: iso(deps.now()) } as const;
		await deps.returns.update({ id: ret.id, status: "RECEIVED", refundStatus: "PENDING" }, { set });
		return true;
	} catch (err) {
		deps.logger.warn(`Refund of return ${ret.id} is pending, the sweep retries it: ${errorLike(err).message}`);
		return false;
	}
}

/**
 * Finishes the refunds of RECEIVED returns still PENDING and untouched for a lease (their receipt's run is over or
 * dead: its calls fit in half a lease, saga.ts assertTimings). Each is claimed by compare-and-set of its `updatedAt`,
 * so one node retries it; the order's move is repeated first, for a store without transactions that lost it in a
 * crash. Stops at the first refund that fails (payments is likely down) and never rejects.
 */
export async function retryRefunds(deps: ReturnDeps, active: () => boolean = () => true): Promise<void> {
	try {
		const stale = await deps.returns.find(
			{
				status: "RECEIVED",
				refundStatus: "PENDING",
				updatedAt: { $lt: iso(deps.now() - deps.leaseMs - deps.clockSkewMs) },
			},
			{ sort: ["updatedAt"], limit: SWEEP_BATCH },
		);
		for (const ret of stale) {
			if (!active()) return;
			const claim = { id: ret.id, status: "RECEIVED", refundStatus: "PENDING", updatedAt: ret.updatedAt } as const;
			const updatedAt = iso(deps.now());
			if (!(await deps.returns.update(claim, { set: { updatedAt } }))) continue;
			const order = await findOrder(deps, ret.orderId);
			const received = await deps.returns.find({ orderId: ret.orderId, status: "RECEIVED" });
			await moveOrder(deps, order, statusAfterReceipt(order, received));
			if (!(await refund(deps, { ...ret, updatedAt }))) return;
		}
	} catch (err) {
		deps.logger.warn(`Retrying pending refunds failed: ${errorLike(err).message}`);
	}
}
