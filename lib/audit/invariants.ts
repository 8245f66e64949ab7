import type { ServiceBroker } from "moleculer";
import { call } from "../actor";

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
export interface OrderRow {
	id: string;
	status: string;
	settled: boolean;
}
export interface PaymentRow {
	orderId: string;
	status: string;
}
export interface AuditData {
	stock: StockRow[];
	reservations: ReservationRow[];
	orders: OrderRow[];
	payments: PaymentRow[];
}

export interface InvariantReport {
	ok: boolean;
	violations: string[];
	counts: { products: number; orders: Record<string, number>; payments: Record<string, number> };
}

const PAID = new Set(["CONFIRMED", "SHIPPED", "DELIVERED"]);
/** Reservation statuses each final order status may hold. */
const HOLDINGS: Record<string, Set<string>> = {
	CONFIRMED: new Set(["COMMITTED"]),
	SHIPPED: new Set(["COMMITTED"]),
	DELIVERED: new Set(["COMMITTED"]),
	CANCELLED: new Set(["RESTORED"]),
	FAILED: new Set(["RELEASED"]),
};

function tally(values: string[]): Record<string, number> {
	const out: Record<string, number> = {};
	for (const v of values) out[v] = (out[v] ?? 0) + 1;
	return out;
}

/** `settled`: the system is at rest, so nothing may stay reserved or pending. */
export function checkInvariants(data: AuditData, opts: { settled?: boolean } = {}): InvariantReport {
	const settled = opts.settled ?? true;
	const violations: string[] = [];
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

	const paymentsByOrder = new Map<string, PaymentRow[]>();
	for (const p of data.payments) paymentsByOrder.set(p.orderId, [...(paymentsByOrder.get(p.orderId) ?? []), p]);
	const reservationsByOrder = new Map<string, ReservationRow[]>();
	for (const r of data.reservations)
		reservationsByOrder.set(r.orderId, [...(reservationsByOrder.get(r.orderId) ?? []), r]);
	const orderIds = new Set(data.orders.map(o => o.id));

	for (const o of data.orders) {
		const payments = paymentsByOrder.get(o.id) ?? [];
		const succeeded = payments.filter(p => p.status === "SUCCEEDED").length;
		if (o.status === "PENDING" || !o.settled) {
			if (settled) violations.push(`order ${o.id}: ${o.status}${o.settled ? "" : " (unsettled)"} at rest`);
			continue;
		}
		if (PAID.has(o.status) && succeeded !== 1)
			violations.push(`order ${o.id}: ${o.status} with ${succeeded} succeeded payments`);
		if (!PAID.has(o.status) && succeeded > 0)
			violations.push(`order ${o.id}: ${o.status} but holds a succeeded payment`);
		if (o.status === "CANCELLED" && !payments.some(p => p.status === "REFUNDED"))
			violations.push(`order ${o.id}: CANCELLED without a refund`);
		for (const r of reservationsByOrder.get(o.id) ?? []) {
			if (!HOLDINGS[o.status]?.has(r.status))
				violations.push(`order ${o.id}: ${o.status} with a ${r.status} reservation of ${r.productId}`);
		}
	}
	for (const p of data.payments) {
		if (!orderIds.has(p.orderId)) violations.push(`payment of unknown order ${p.orderId} (${p.status})`);
	}
	for (const r of data.reservations) {
		if (!orderIds.has(r.orderId) && (r.status === "RESERVED" || r.status === "COMMITTED"))
			violations.push(`reservation of unknown order ${r.orderId} holds ${r.quantity} of ${r.productId}`);
	}

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

/** Rows per audit call: a page stays well under a transporter message's limit (NATS: 1 MB, about 10,000 rows). */
const AUDIT_PAGE = 2000;

async function allPages<T>(fetchPage: (offset: number, limit: number) => Promise<T[]>): Promise<T[]> {
	const rows: T[] = [];
	for (;;) {
		const page = await fetchPage(rows.length, AUDIT_PAGE);
		rows.push(...page);
		if (page.length < AUDIT_PAGE) return rows;
	}
}

/** Gathers the audit data from the running services (over the transporter when split across nodes), page by page. */
export async function auditShop(broker: ServiceBroker, opts: { settled?: boolean } = {}): Promise<InvariantReport> {
	let stock: StockRow[] = [];
	const [reservations, orders, payments] = await Promise.all([
		allPages(async (offset, limit) => {
			const page = await call(broker, "inventory.audit", { offset, limit });
			stock = page.stock;
			return page.reservations;
		}),
		allPages((offset, limit) => broker.call<OrderRow[], object>("orders.audit", { offset, limit })),
		allPages((offset, limit) => call(broker, "payments.audit", { offset, limit })),
	]);
	return checkInvariants({ stock, reservations, orders, payments }, opts);
}
