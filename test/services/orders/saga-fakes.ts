// In-memory fakes of what the saga is given: the order store, the calls to other actors, the outbox, the clock.
import type { CallingOptions } from "moleculer";
import { DuplicateKeyError } from "../../../lib/errors";
import type { Change, Condition, FindOptions, Where } from "../../../lib/storage";
import type { PaymentView } from "../../../services/payments/contract";
import type { Order, OrderEventType } from "../../../services/orders/contract";
import type { OrderDraft, OrderStore, SagaCalls, SagaDeps } from "../../../services/orders/saga";

/** -1, 0 or 1; NaN when a value of another type is compared (which no condition then matches). */
function compare(value: unknown, bound: string | number): number {
	if (typeof value !== typeof bound || (typeof value !== "string" && typeof value !== "number")) return NaN;
	return value < bound ? -1 : value > bound ? 1 : 0;
}

function matches(value: unknown, cond: Condition | undefined): boolean {
	if (cond === undefined) return true;
	if (cond === null || typeof cond !== "object") return (value ?? null) === cond;
	const { $lt, $lte, $gt, $gte, $ne, $in } = cond;
	return (
		($lt === undefined || compare(value, $lt) < 0) &&
		($lte === undefined || compare(value, $lte) <= 0) &&
		($gt === undefined || compare(value, $gt) > 0) &&
		($gte === undefined || compare(value, $gte) >= 0) &&
		($ne === undefined || value !== $ne) &&
		($in === undefined || $in.some(x => x === value))
	);
}

type StoreOp = "insert" | "findOne" | "find" | "update";

/** The orders collection in memory, with conditional updates as atomic as the real stores' and injectable failures. */
export class FakeOrderStore implements OrderStore {
	readonly rows = new Map<string, Order>();
	private readonly failures: { op: StoreOp; err: Error }[] = [];

	/** The next call of `op` throws `err`. */
	failNext(op: StoreOp, err: Error): void {
		this.failures.push({ op, err });
	}

	/** The stored order (a copy). */
	get(id: string): Order {
		const order = this.rows.get(id);
		if (!order) throw new Error(`no order ${id}`);
		return structuredClone(order);
	}

	private check(op: StoreOp): void {
		const i = this.failures.findIndex(f => f.op === op);
		if (i >= 0) throw this.failures.splice(i, 1)[0].err;
	}

	private select(where: Where<Order>): Order[] {
		const fields = Object.keys(where) as (keyof Order)[];
		return [...this.rows.values()].filter(row => fields.every(f => matches(row[f], where[f])));
	}

	insert(doc: Order): Promise<Order> {
		this.check("insert");
		const key = doc.idempotencyKey;
		if (this.rows.has(doc.id) || (key !== null && this.select({ idempotencyKey: key }).length))
			return Promise.reject(new DuplicateKeyError("orders"));
		this.rows.set(doc.id, structuredClone(doc));
		return Promise.resolve(structuredClone(doc));
	}

	findOne(where: Where<Order>): Promise<Order | null> {
		this.check("findOne");
		const [row] = this.select(where);
		return Promise.resolve(row ? structuredClone(row) : null);
	}

	find(where: Where<Order>, opts: FindOptions<Order> = {}): Promise<Order[]> {
		this.check("find");
		const [sort] = opts.sort ?? [];
		const rows = this.select(where);
		if (sort === "leaseUntil") rows.sort((a, b) => a.leaseUntil.localeCompare(b.leaseUntil));
		else if (sort) throw new Error(`the fake store does not sort by ${sort}`);
		const offset = opts.offset ?? 0;
		return Promise.resolve(rows.slice(offset, offset + (opts.limit ?? rows.length)).map(r => structuredClone(r)));
	}

	update(where: Where<Order>, change: Change<Order>): Promise<number> {
		this.check("update");
		if (change.inc) throw new Error("the saga never increments an order field");
		const rows = this.select(where);
		for (const row of rows) this.rows.set(row.id, { ...row, ...structuredClone(change.set) });
		return Promise.resolve(rows.length);
	}

	/** Like the in-memory and MongoDB stores: the work runs as is, nothing is rolled back. */
	transaction<T>(work: () => Promise<T>): Promise<T> {
		return work();
	}
}

/** A settable clock; `sleep` moves it forward instead of waiting. */
export class FakeClock {
	constructor(public t = Date.parse("2030-01-01T00:00:00.000Z")) {}
	readonly now = (): number => this.t;
	readonly sleep = (ms: number): Promise<void> => {
		this.t += ms;
		return Promise.resolve();
	};
	advance(ms: number): void {
		this.t += ms;
	}
}

export interface MadeCall {
	action: keyof SagaCalls;
	params: unknown;
	opts?: CallingOptions;
}

function payment(p: { orderId: string; amount?: number; currency?: string }, status: "SUCCEEDED" | "REFUNDED") {
	const at = "2030-01-01T00:00:00.000Z";
	const view: PaymentView = {
		id: `pay-${p.orderId}`,
		orderId: p.orderId,
		userId: "u-1",
		amount: p.amount ?? 0,
		currency: p.currency ?? "EUR",
		status,
		failureReason: null,
		createdAt: at,
		updatedAt: at,
		refundedAt: status === "REFUNDED" ? at : null,
		refunded: status === "REFUNDED" ? (p.amount ?? 0) : 0,
	};
	return view;
}

/** The saga's calls of one node: each is recorded, then answered by `overrides` or by a successful default. */
export class FakeCalls {
	readonly made: MadeCall[] = [];

	constructor(private readonly overrides: Partial<SagaCalls> = {}) {}

	private run<P, R>(
		action: keyof SagaCalls,
		params: P,
		opts: CallingOptions | undefined,
		override: ((params: P, opts?: CallingOptions) => Promise<R>) | undefined,
		answer: () => R,
	): Promise<R> {
		this.made.push(
			opts ? { action, params: structuredClone(params), opts } : { action, params: structuredClone(params) },
		);
		return override ? override(params, opts) : Promise.resolve(answer());
	}

	readonly calls: SagaCalls = {
		"promotions.reserve": (p, o) =>
			this.run("promotions.reserve", p, o, this.overrides["promotions.reserve"], () => ({
				orderId: p.orderId,
				code: p.code,
			})),
		"promotions.release": (p, o) =>
			this.run("promotions.release", p, o, this.overrides["promotions.release"], () => ({ ...p, released: 1 })),
		"inventory.reserve": (p, o) => this.run("inventory.reserve", p, o, this.overrides["inventory.reserve"], () => p),
		"inventory.commit": (p, o) =>
			this.run("inventory.commit", p, o, this.overrides["inventory.commit"], () => ({
				orderId: p.orderId,
				committed: 1,
			})),
		"inventory.release": (p, o) =>
			this.run("inventory.release", p, o, this.overrides["inventory.release"], () => ({ ...p, released: 1 })),
		"payments.charge": (p, o) =>
			this.run("payments.charge", p, o, this.overrides["payments.charge"], () => payment(p, "SUCCEEDED")),
		"payments.refund": (p, o) =>
			this.run("payments.refund", p, o, this.overrides["payments.refund"], () => payment(p, "REFUNDED")),
	};

	actions(): (keyof SagaCalls)[] {
		return this.made.map(c => c.action);
	}
}

export interface Published {
	type: OrderEventType;
	id: string;
	status: string;
}

/** What every node of one test shares: the store, the clock, the outbox, the logs and the metrics. */
export class World {
	readonly store = new FakeOrderStore();
	readonly clock = new FakeClock();
	readonly events: Published[] = [];
	readonly logs: string[] = [];
	readonly metrics: { name: string; labels: unknown; value?: number }[] = [];
	readonly leaseMs = 15_000;
	readonly stepTimeoutMs = 1000;
	readonly stepRetries = 2;
	readonly clockSkewMs = 2000;
	/** Run tokens handed out so far: t1, t2, ... in the order runs take orders. */
	private tokens = 0;

	/** A node running the saga with its own calls; `clockOffsetMs` makes its clock run ahead (or behind) the others. */
	node(nodeID: string, overrides: Partial<SagaCalls> = {}, clockOffsetMs = 0): { deps: SagaDeps; calls: FakeCalls } {
		const calls = new FakeCalls(overrides);
		const deps: SagaDeps = {
			store: this.store,
			calls: calls.calls,
			publish: (type, data, opts) => {
				this.events.push({ type, id: opts.id, status: data.status });
				return Promise.resolve();
			},
			now: () => this.clock.now() + clockOffsetMs,
			sleep: this.clock.sleep,
			newToken: () => `t${++this.tokens}`,
			leaseMs: this.leaseMs,
			stepTimeoutMs: this.stepTimeoutMs,
			stepRetries: this.stepRetries,
			clockSkewMs: this.clockSkewMs,
			nodeID,
			logger: {
				info: (msg: string) => this.logs.push(`${nodeID} info ${msg}`),
				warn: (msg: string) => this.logs.push(`${nodeID} warn ${msg}`),
			},
			metrics: {
				increment: (name: string, labels?: unknown, value?: number) => {
					this.metrics.push(value === undefined ? { name, labels } : { name, labels, value });
				},
			},
		};
		return { deps, calls };
	}
}

export const DRAFT: OrderDraft = {
	id: "o-1",
	userId: "u-1",
	items: [
		{
			productId: "p-1",
			variantId: "p-1",
			sku: "MUG",
			options: {},
			name: "Mug",
			unitPrice: 1200,
			quantity: 2,
			lineTotal: 2400,
			discount: 0,
			tax: 0,
			total: 2400,
		},
		{
			productId: "p-2",
			variantId: "p-2",
			sku: "TEA",
			options: {},
			name: "Tea",
			unitPrice: 650,
			quantity: 1,
			lineTotal: 650,
			discount: 0,
			tax: 0,
			total: 650,
		},
	],
	currency: "EUR",
	total: 3050,
	totals: { subtotal: 3050, discount: 0, shipping: 0, tax: 0, total: 3050 },
	discountCode: null,
	discount: null,
	shippingMethod: null,
	taxRate: null,
	paymentToken: "tok_visa",
	shippingAddress: null,
	idempotencyKey: "u-1:key-1",
	requestHash: "hash-1",
};

/**
 * DRAFT priced with 10 % off (code SAVE10), shipping 500 and 20 % tax on lines and shipping: 3050 - 305 + 500 + 649.
 * The discount splits 240 / 65 over the lines; their tax is 432 and 117, shipping's 100.
 */
export const DRAFT_WITH_CODE: OrderDraft = {
	...DRAFT,
	items: [
		{ ...DRAFT.items[0], discount: 240, tax: 432, total: 2592 },
		{ ...DRAFT.items[1], discount: 65, tax: 117, total: 702 },
	],
	total: 3894,
	totals: { subtotal: 3050, discount: 305, shipping: 500, tax: 649, total: 3894 },
	discountCode: "SAVE10",
	discount: { code: "SAVE10", type: "PERCENTAGE", value: 10 },
	shippingMethod: { id: "ship-1", name: "Standard", price: 500, freeOver: null },
	taxRate: { country: "GB", rate: 2000, shippingTaxable: true },
	shippingAddress: { line1: "1 High St", city: "London", postalCode: "N1 1AA", country: "GB" },
};

/** A promise the test resolves when it wants. */
export function gate(): { promise: Promise<void>; open: () => void } {
	let open = () => {};
	const promise = new Promise<void>(resolve => (open = resolve));
	return { promise, open };
}

/** Lets every pending promise callback run. */
export function settle(): Promise<void> {
	return new Promise(resolve => setImmediate(resolve));
}
