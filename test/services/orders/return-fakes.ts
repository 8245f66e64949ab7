// In-memory fakes of what the returns flow is given (stores, calls to inventory and payments, the outbox, the
// clock), and orders priced by totals.ts to return.
import { DuplicateKeyError, PaymentUnavailableError } from "../../../lib/errors";
import type { Change, Condition, Doc, FindOptions, Where } from "../../../lib/storage";
import type { Order, OrderItem } from "../../../services/orders/contract";
import type { OrderStatus } from "../../../services/orders/order-state";
import {
	keyedQueue,
	type PublishReturnEvent,
	type ReturnCalls,
	type ReturnDeps,
} from "../../../services/orders/return-flow";
import { RETURNS, type StoredReturn } from "../../../services/orders/returns";
import { priceTotals, type DiscountRule, type ShippingCharge, type TaxRule } from "../../../services/orders/totals";
import type { Refund } from "../../../services/payments/contract";

function matches(value: unknown, cond: Condition | undefined): boolean {
	if (cond === undefined) return true;
	if (cond === null || typeof cond !== "object") return (value ?? null) === cond;
	const v = value as string | number;
	const { $lt, $lte, $gt, $gte, $ne, $in } = cond;
	return (
		($lt === undefined || v < $lt) &&
		($lte === undefined || v <= $lte) &&
		($gt === undefined || v > $gt) &&
		($gte === undefined || v >= $gte) &&
		($ne === undefined || value !== $ne) &&
		($in === undefined || $in.some(x => x === value))
	);
}

/** A collection in memory: unique fields and conditional updates as atomic as the real stores'; no transactions. */
export class FakeStore<T extends Doc> {
	readonly rows = new Map<string, T>();

	constructor(
		private readonly name: string,
		private readonly unique: readonly (keyof T & string)[] = [],
	) {}

	private select(where: Where<T>): T[] {
		const fields = Object.keys(where) as (keyof T & string)[];
		return [...this.rows.values()].filter(row => fields.every(f => matches(row[f], where[f])));
	}

	/** Whether `doc` would share a unique value with another row. */
	private clashes(doc: T): boolean {
		return [...this.rows.values()].some(
			row => row.id !== doc.id && this.unique.some(f => doc[f] != null && row[f] === doc[f]),
		);
	}

	get(id: string): T {
		const row = this.rows.get(id);
		if (!row) throw new Error(`no ${this.name} ${id}`);
		return structuredClone(row);
	}

	insert(doc: T): Promise<T> {
		if (this.rows.has(doc.id) || this.clashes(doc)) return Promise.reject(new DuplicateKeyError(this.name));
		this.rows.set(doc.id, structuredClone(doc));
		return Promise.resolve(structuredClone(doc));
	}

	findOne(where: Where<T>): Promise<T | null> {
		const [row] = this.select(where);
		return Promise.resolve(row ? structuredClone(row) : null);
	}

	find(where: Where<T>, opts: FindOptions<T> = {}): Promise<T[]> {
		const rows = this.select(where);
		for (const key of [...(opts.sort ?? [])].reverse()) {
			const desc = key.startsWith("-");
			const field = (desc ? key.slice(1) : key) as keyof T;
			rows.sort((a, b) => String(a[field]).localeCompare(String(b[field])) * (desc ? -1 : 1));
		}
		const offset = opts.offset ?? 0;
		return Promise.resolve(rows.slice(offset, offset + (opts.limit ?? rows.length)).map(r => structuredClone(r)));
	}

	count(where: Where<T>): Promise<number> {
		return Promise.resolve(this.select(where).length);
	}

	update(where: Where<T>, change: Change<T>): Promise<number> {
		const matched = this.select(where);
		const next = matched.map(row => {
			const doc = { ...row, ...structuredClone(change.set ?? {}) } as Record<string, unknown>;
			for (const [f, n] of Object.entries(change.inc ?? {})) doc[f] = (doc[f] as number) + (n as number);
			return doc as T;
		});
		if (next.some(doc => this.clashes(doc))) return Promise.reject(new DuplicateKeyError(this.name));
		for (const doc of next) this.rows.set(doc.id, doc);
		return Promise.resolve(matched.length);
	}

	/** As in memory and on MongoDB: the work runs as is, each write standing on its own. */
	transaction<R>(work: (tx?: undefined) => Promise<R>): Promise<R> {
		return work(undefined);
	}
}

export const DELIVERED_AT = "2026-11-01T10:00:00.000Z";
export const SHIPPED_AT = "2026-10-29T10:00:00.000Z";

export interface Line {
	variantId: string;
	unitPrice: number;
	quantity: number;
}
export interface PricingOpts {
	discount?: DiscountRule;
	shipping?: ShippingCharge;
	tax?: TaxRule;
	status?: OrderStatus;
}

/** A DELIVERED order priced by totals.ts, as the saga stores it. */
export function pricedOrder(lines: readonly Line[], opts: PricingOpts = {}, id = "o1"): Order {
	const priced = priceTotals(
		lines.map(l => l.unitPrice * l.quantity),
		{ discount: opts.discount ?? null, shipping: opts.shipping ?? null, tax: opts.tax ?? null },
	);
	const items: OrderItem[] = lines.map((l, i) => ({
		productId: `p-${l.variantId}`,
		variantId: l.variantId,
		sku: l.variantId.toUpperCase(),
		name: l.variantId,
		options: {},
		unitPrice: l.unitPrice,
		quantity: l.quantity,
		lineTotal: l.unitPrice * l.quantity,
		...priced.lines[i],
	}));
	return {
		id,
		userId: "u1",
		status: opts.status ?? "DELIVERED",
		items,
		currency: "USD",
		total: priced.totals.total,
		totals: priced.totals,
		discountCode: opts.discount?.code ?? null,
		discount: opts.discount ?? null,
		shippingMethod: opts.shipping ?? null,
		taxRate: opts.tax ?? null,
		shippedAt: SHIPPED_AT,
		deliveredAt: DELIVERED_AT,
		paymentToken: "tok_visa",
		shippingAddress: null,
		failure: null,
		failureReason: null,
		idempotencyKey: null,
		requestHash: "",
		settled: true,
		leaseOwner: "n1",
		leaseToken: "t1",
		leaseUntil: SHIPPED_AT,
		createdAt: SHIPPED_AT,
		updatedAt: DELIVERED_AT,
	};
}

/** Inventory and payments as the flow calls them: idempotent per return, payments can be down, a call can hang. */
export class FakeActors {
	/** Units put back per return, and refunds given per return: each at most once. */
	readonly stock = new Map<string, number>();
	readonly refunds = new Map<string, number>();
	readonly refundCalls: { returnId: string; amount: number }[] = [];
	paymentsDown = false;
	/** The next returnStock call never answers: the node running it died. */
	hangNextStock = false;

	readonly calls: ReturnCalls = {
		"inventory.returnStock": ({ returnId, items }) => {
			if (this.hangNextStock) {
				this.hangNextStock = false;
				return new Promise(() => undefined);
			}
			const returned = this.stock.has(returnId) ? 0 : items.reduce((s, i) => s + i.quantity, 0);
			if (returned) this.stock.set(returnId, returned);
			return Promise.resolve({ returnId, returned });
		},
		"payments.refundPart": ({ orderId, returnId, amount }) => {
			this.refundCalls.push({ returnId, amount });
			if (this.paymentsDown) return Promise.reject(new PaymentUnavailableError({ orderId }));
			if (!this.refunds.has(returnId)) this.refunds.set(returnId, amount);
			const refund: Refund = {
				id: `rf-${returnId}`,
				orderId,
				paymentId: `pay-${orderId}`,
				returnId,
				amount: this.refunds.get(returnId)!,
				currency: "USD",
				status: "SUCCEEDED",
				reason: "return",
				createdAt: DELIVERED_AT,
				updatedAt: DELIVERED_AT,
			};
			return Promise.resolve(refund);
		},
	};
}

export interface PublishedEvent {
	type: string;
	id: string;
	data: unknown;
}

/** Everything the flow works with, in memory, and the deps built on it. */
export class ReturnsWorld {
	readonly orders = new FakeStore<Order>("orders");
	readonly returns = new FakeStore<StoredReturn>(RETURNS.name, RETURNS.unique);
	readonly actors = new FakeActors();
	readonly events: PublishedEvent[] = [];
	readonly warnings: string[] = [];
	clock = Date.parse(DELIVERED_AT) + 86_400_000;
	private ids = 0;

	readonly deps: ReturnDeps;

	constructor() {
		const publish: PublishReturnEvent = (type, data, opts) => {
			// The outbox keeps one event per id.
			if (!this.events.some(e => e.id === opts.id)) this.events.push({ type, id: opts.id, data });
			return Promise.resolve();
		};
		this.deps = {
			orders: this.orders,
			returns: this.returns,
			calls: this.actors.calls,
			queue: keyedQueue(),
			publish,
			now: () => this.clock,
			sleep: () => Promise.resolve(),
			newId: () => `ret${++this.ids}`,
			windowDays: 30,
			logger: { warn: (msg: string) => void this.warnings.push(msg) },
			leaseMs: 15_000,
			stepTimeoutMs: 2000,
			stepRetries: 2,
			clockSkewMs: 2000,
		};
	}

	async addOrder(order: Order): Promise<Order> {
		return this.orders.insert(order);
	}

	/** Events of a type, in the order published. */
	eventsOf(type: string): PublishedEvent[] {
		return this.events.filter(e => e.type === type);
	}
}
