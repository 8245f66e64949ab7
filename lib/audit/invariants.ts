import type { ServiceBroker } from "moleculer";
import { call } from "../actor";
import {
	CHARGED,
	checkRefunds,
	checkReturnedStock,
	checkReturns,
	checkUses,
	type ReturnRow,
	type ReturnedStockRow,
	type UseRow,
} from "./money";

/**
 * The shop's stock and money invariants, checked over what inventory, orders and payments hold.
 * Used by the tests after every scenario and by operators from the REPL (`emporium check`).
 */
export interface StockRow {
	productId: string;
	available: number;
	reserved: number;
	sold: number;
	received: number;
}
export interface ReservationRow {
	orderId: string;
	productId: string;
	quantity: number;
	status: string;
}
export interface OrderLine {
	productId: string;
	quantity: number;
}
export interface OrderRow {
	id: string;
	status: string;
	settled: boolean;
	items: OrderLine[];
	total: number;
	currency: string;
	/** The code the order carries (upper case); null or absent without one. */
	discountCode?: string | null;
}
/** The payment provider's books for a payment's charge; `charged` null: the provider has no record of the charge. */
export interface ProviderRow {
	charged: number | null;
	refunded: number;
	currency: string;
}
export interface PaymentRow {
	orderId: string;
	status: string;
	amount: number;
	currency: string;
	/** What was given back of the charge (returns' refunds, or all of it); 0 or absent when nothing. */
	refunded?: number;
	/** Null when the provider has no record of the payment (never charged, or its books were lost). */
	provider: ProviderRow | null;
}
export interface AuditData {
	stock: StockRow[];
	reservations: ReservationRow[];
	orders: OrderRow[];
	payments: PaymentRow[];
	/** Issue 13: returns, the uses of codes, and the units returns put back on the shelf (absent: none). */
	returns?: ReturnRow[];
	uses?: UseRow[];
	returnedStock?: ReturnedStockRow[];
}

export interface InvariantReport {
	ok: boolean;
	violations: string[];
	counts: { products: number; orders: Record<string, number>; payments: Record<string, number> };
}

const PAID = new Set(["CONFIRMED", "SHIPPED", "DELIVERED", "PARTIALLY_RETURNED", "RETURNED"]);
/** Orders that gave up: compensation gives their stock and money back. */
const GAVE_UP = new Set(["CANCELLED", "FAILED"]);
/** Reservation statuses each final order status may hold. */
const HOLDINGS: Record<string, Set<string>> = {
	CONFIRMED: new Set(["COMMITTED"]),
	SHIPPED: new Set(["COMMITTED"]),
	DELIVERED: new Set(["COMMITTED"]),
	PARTIALLY_RETURNED: new Set(["COMMITTED"]),
	RETURNED: new Set(["COMMITTED"]),
	CANCELLED: new Set(["RESTORED"]),
	// RESTORED: the order failed at its commit step though the commit went through (its answer was lost).
	FAILED: new Set(["RELEASED", "RESTORED"]),
};
/** Payment statuses of a charge or a refund under way: none may remain once the shop is at rest. */
const IN_FLIGHT = new Set(["PENDING", "REFUNDING"]);

function tally(values: string[]): Record<string, number> {
	const out: Record<string, number> = {};
	for (const v of values) out[v] = (out[v] ?? 0) + 1;
	return out;
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
	const groups = new Map<string, T[]>();
	for (const row of rows) groups.set(key(row), [...(groups.get(key(row)) ?? []), row]);
	return groups;
}

function quantities(lines: { productId: string; quantity: number }[]): Map<string, number> {
	const sums = new Map<string, number>();
	for (const { productId, quantity } of lines) sums.set(productId, (sums.get(productId) ?? 0) + quantity);
	return sums;
}

function checkStock(data: AuditData, settled: boolean, violations: string[]): void {
	const held = new Map<string, { reserved: number; sold: number }>();
	for (const r of data.reservations) {
		const h = held.get(r.productId) ?? { reserved: 0, sold: 0 };
		if (r.status === "RESERVED") h.reserved += r.quantity;
		if (r.status === "COMMITTED") h.sold += r.quantity;
		held.set(r.productId, h);
	}
	for (const s of data.stock) {
		if (s.available < 0 || s.reserved < 0 || s.sold < 0)
			violations.push(`stock ${s.productId}: negative counter ${JSON.stringify(s)}`);
		if (s.available + s.reserved + s.sold !== s.received)
			violations.push(
				`stock ${s.productId}: available+reserved+sold=${s.available + s.reserved + s.sold} != received=${s.received}`,
			);
		const h = held.get(s.productId) ?? { reserved: 0, sold: 0 };
		if (h.reserved !== s.reserved)
			violations.push(`stock ${s.productId}: reserved=${s.reserved} but reservations hold ${h.reserved}`);
		if (h.sold !== s.sold)
			violations.push(`stock ${s.productId}: sold=${s.sold} but committed reservations hold ${h.sold}`);
		if (settled && s.reserved !== 0) violations.push(`stock ${s.productId}: ${s.reserved} still reserved at rest`);
	}
}

/** A settled order holds what its status says: its lines committed and one charge if paid, nothing if it gave up. */
function checkOrder(
	o: OrderRow,
	payments: PaymentRow[],
	reservations: ReservationRow[],
	settled: boolean,
	violations: string[],
): void {
	if (o.status === "PENDING" || !o.settled) {
		if (settled) violations.push(`order ${o.id}: ${o.status}${o.settled ? "" : " (unsettled)"} at rest`);
		return;
	}
	const succeeded = payments.filter(p => CHARGED.has(p.status) && !(GAVE_UP.has(o.status) && p.status === "REFUNDED"));
	if (PAID.has(o.status) && succeeded.length !== 1)
		violations.push(`order ${o.id}: ${o.status} with ${succeeded.length} succeeded payments`);
	if (PAID.has(o.status) && o.status !== "RETURNED" && succeeded.some(p => p.status === "REFUNDED"))
		violations.push(`order ${o.id}: ${o.status} but its charge is REFUNDED`);
	if (GAVE_UP.has(o.status) && succeeded.length > 0)
		violations.push(`order ${o.id}: ${o.status} and settled but still holds a SUCCEEDED charge (not compensated)`);
	if (o.status === "CANCELLED" && !payments.some(p => p.status === "REFUNDED"))
		violations.push(`order ${o.id}: CANCELLED without a refund`);
	for (const r of reservations) {
		if (HOLDINGS[o.status]?.has(r.status)) continue;
		const held = GAVE_UP.has(o.status) && (r.status === "RESERVED" || r.status === "COMMITTED");
		violations.push(
			`order ${o.id}: ${o.status} with a ${r.status} reservation of ${r.productId}${held ? " (not compensated)" : ""}`,
		);
	}
	if (!PAID.has(o.status)) return;
	// What was sold for the order is exactly its lines: no line unheld, none held twice, nothing else.
	const committed = quantities(reservations.filter(r => r.status === "COMMITTED"));
	const lines = quantities(o.items);
	for (const productId of new Set([...lines.keys(), ...committed.keys()])) {
		const [ordered, sold] = [lines.get(productId) ?? 0, committed.get(productId) ?? 0];
		if (ordered !== sold)
			violations.push(`order ${o.id}: ${o.status} with ${ordered} of ${productId} ordered but ${sold} committed`);
	}
}

/**
 * A payment is for its order's total, refunded only for an order that gave up, and agrees with the provider's books.
 */
function checkPayment(p: PaymentRow, order: OrderRow | undefined, settled: boolean, violations: string[]): void {
	const what = `payment of order ${p.orderId} (${p.status})`;
	if (!order) {
		violations.push(`payment of unknown order ${p.orderId} (${p.status})`);
		return;
	}
	// A VOIDED payment may never have been asked to charge anything.
	if (p.status !== "VOIDED" && (p.amount !== order.total || p.currency !== order.currency))
		violations.push(`${what}: ${p.amount} ${p.currency} but the order totals ${order.total} ${order.currency}`);
	if (p.status === "REFUNDING" && !GAVE_UP.has(order.status))
		violations.push(`${what}: refund of an order that is ${order.status}`);
	const returned = order.status === "PARTIALLY_RETURNED" || order.status === "RETURNED";
	if ((p.status === "PARTIALLY_REFUNDED" || p.status === "REFUNDED") && !GAVE_UP.has(order.status) && !returned)
		violations.push(`${what}: refund of an order that is ${order.status}`);
	if ((p.refunded ?? 0) > p.amount) violations.push(`${what}: refunded ${p.refunded} of a charge of ${p.amount}`);
	if (settled && IN_FLIGHT.has(p.status)) violations.push(`${what}: still in flight at rest`);
	const books = p.provider;
	if (!books || books.charged === null || IN_FLIGHT.has(p.status)) return;
	const held = books.charged - books.refunded;
	const expected = CHARGED.has(p.status) ? p.amount - (p.refunded ?? (p.status === "REFUNDED" ? p.amount : 0)) : 0;
	if (held !== expected || (books.charged > 0 && books.currency !== p.currency))
		violations.push(
			`${what}: the provider holds ${held} ${books.currency} (charged ${books.charged}, ` +
				`refunded ${books.refunded}), expected ${expected} ${p.currency}`,
		);
}

/** `settled`: the system is at rest, so nothing may stay reserved or pending. */
export function checkInvariants(data: AuditData, opts: { settled?: boolean } = {}): InvariantReport {
	const settled = opts.settled ?? true;
	const violations: string[] = [];
	checkStock(data, settled, violations);

	const paymentsByOrder = groupBy(data.payments, p => p.orderId);
	const reservationsByOrder = groupBy(data.reservations, r => r.orderId);
	const orders = new Map(data.orders.map(o => [o.id, o]));
	for (const o of data.orders)
		checkOrder(o, paymentsByOrder.get(o.id) ?? [], reservationsByOrder.get(o.id) ?? [], settled, violations);
	for (const p of data.payments) checkPayment(p, orders.get(p.orderId), settled, violations);
	for (const r of data.reservations) {
		if (!orders.has(r.orderId) && (r.status === "RESERVED" || r.status === "COMMITTED"))
			violations.push(`reservation of unknown order ${r.orderId} holds ${r.quantity} of ${r.productId}`);
	}
	const returns = data.returns ?? [];
	checkRefunds(
		data.orders,
		paymentsByOrder,
		groupBy(returns, r => r.orderId),
		settled,
		violations,
	);
	checkReturns(orders, returns, violations);
	checkUses(data.orders, data.uses ?? [], settled, violations);
	checkReturnedStock(returns, data.returnedStock ?? [], settled, violations);

	return {
		ok: violations.length === 0,
		violations,
		counts: {
			products: data.stock.length,
			orders: tally(data.orders.map(o => o.status)),
			payments: tally(data.payments.map(p => p.status)),
		},
	};
}

/**
 * Rows per audit call: a page stays well under a transporter message's limit (NATS: 1 MB, about 10,000 small rows);
 * an order row carries its lines (up to 50).
 */
const AUDIT_PAGE = 2000;
const ORDERS_PAGE = 200;

async function allPages<T>(
	fetchPage: (offset: number, limit: number) => Promise<T[]>,
	size = AUDIT_PAGE,
): Promise<T[]> {
	const rows: T[] = [];
	for (;;) {
		const page = await fetchPage(rows.length, size);
		rows.push(...page);
		if (page.length < size) return rows;
	}
}

/**
 * One row per payment (as the first view has them), with the provider's books merged over every view: a simulated
 * provider keeps its books per payments node, so each node may know only the charges and refunds it made.
 */
export function mergeProviderViews(views: PaymentRow[][]): PaymentRow[] {
	const books = new Map<string, ProviderRow>();
	for (const { orderId, provider } of views.flat()) {
		if (!provider) continue;
		const seen = books.get(orderId) ?? { charged: null, refunded: 0, currency: provider.currency };
		const charged = [seen.charged, provider.charged].filter((n): n is number => n !== null);
		const refunded = Math.max(seen.refunded, provider.refunded);
		books.set(orderId, { charged: charged.length ? Math.max(...charged) : null, refunded, currency: seen.currency });
	}
	return (views[0] ?? []).map(p => ({ ...p, provider: books.get(p.orderId) ?? null }));
}

/** The nodes running `service` now; [undefined] when none is known (the call then fails as usual). */
async function nodesOf(broker: ServiceBroker, service: string): Promise<(string | undefined)[]> {
	const list = await broker.call<{ name: string; nodes?: string[] }[], object>("$node.services", {
		onlyAvailable: true,
		skipInternal: true,
	});
	const nodes = list.find(s => s.name === service)?.nodes ?? [];
	return nodes.length ? nodes : [undefined];
}

/**
 * The payments as every payments node answers them, for the provider's books. A node that does not answer (gone but
 * not yet dropped from the registry) is left out, unless none answers.
 */
async function paymentsOfEveryNode(broker: ServiceBroker): Promise<PaymentRow[]> {
	const views = await Promise.allSettled(
		(await nodesOf(broker, "payments")).map(nodeID =>
			allPages((offset, limit) => call(broker, "payments.audit", { offset, limit }, { nodeID })),
		),
	);
	const answered = views.flatMap(view => (view.status === "fulfilled" ? [view.value] : []));
	if (!answered.length) throw (views[0] as PromiseRejectedResult).reason as Error;
	return mergeProviderViews(answered);
}

/** Gathers the audit data from the running services (over the transporter when split across nodes), page by page. */
export async function auditShop(broker: ServiceBroker, opts: { settled?: boolean } = {}): Promise<InvariantReport> {
	let stock: StockRow[] = [];
	let returnedStock: ReturnedStockRow[] = [];
	const [reservations, orders, payments, returns, uses] = await Promise.all([
		allPages(async (offset, limit) => {
			const page = await call(broker, "inventory.audit", { offset, limit });
			stock = page.stock;
			returnedStock = page.returns;
			return page.reservations;
		}),
		allPages((offset, limit) => call(broker, "orders.audit", { offset, limit }), ORDERS_PAGE),
		paymentsOfEveryNode(broker),
		allPages((offset, limit) => call(broker, "orders.auditReturns", { offset, limit }), ORDERS_PAGE),
		allPages((offset, limit) => call(broker, "promotions.audit", { offset, limit })),
	]);
	return checkInvariants({ stock, reservations, orders, payments, returns, uses, returnedStock }, opts);
}
