/**
 * The money rules' invariants (issue 13), over what orders, payments, promotions and inventory hold: every paid order
 * was charged its total and refunded exactly what its received returns gave back; a code's uses are held by exactly
 * the orders that carry it; returned units came back to stock once, and no order returns more than it bought.
 */

export interface ReturnRow {
	id: string;
	orderId: string;
	status: string;
	items: { variantId: string; quantity: number; refundAmount: number }[];
	refundAmount: number;
	refundStatus: string | null;
}
export interface UseRow {
	orderId: string;
	code: string;
	userId: string;
}
export interface ReturnedStockRow {
	returnId: string;
	productId: string;
	quantity: number;
}
/** What the money checks read of an order (a subset of the audit's order row). */
export interface MoneyOrder {
	id: string;
	status: string;
	settled: boolean;
	total: number;
	discountCode?: string | null;
	items: { productId: string; quantity: number }[];
}
/** What the money checks read of a payment: its charge and what was given back of it. */
export interface MoneyPayment {
	orderId: string;
	status: string;
	amount: number;
	refunded?: number;
}

/** Orders that hold what they bought (and the use of their code). */
const HOLDING = new Set(["PENDING", "CONFIRMED", "SHIPPED", "DELIVERED", "PARTIALLY_RETURNED", "RETURNED"]);
/** Payment statuses of a charge the provider made and may have partly given back. */
export const CHARGED = new Set(["SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDED"]);

function sum<T>(rows: T[], value: (row: T) => number): number {
	return rows.reduce((s, row) => s + value(row), 0);
}

/**
 * For every settled order still holding its goods: charged minus refunded equals the order's total minus what its
 * received returns gave back, i.e. what the customer owes for what they kept; at rest no refund is left pending.
 */
export function checkRefunds(
	orders: MoneyOrder[],
	payments: Map<string, MoneyPayment[]>,
	returns: Map<string, ReturnRow[]>,
	settled: boolean,
	violations: string[],
): void {
	for (const o of orders) {
		const received = (returns.get(o.id) ?? []).filter(r => r.status === "RECEIVED");
		const pending = received.filter(r => r.refundStatus !== "DONE");
		if (settled && pending.length)
			violations.push(`order ${o.id}: ${pending.length} received return(s) with the refund still pending at rest`);
		if (!o.settled || o.status === "PENDING" || !HOLDING.has(o.status) || pending.length) continue;
		const charge = (payments.get(o.id) ?? []).find(p => CHARGED.has(p.status));
		if (!charge) continue;
		const kept = o.total - sum(received, r => r.refundAmount);
		const paid = charge.amount - (charge.refunded ?? 0);
		if (paid !== kept)
			violations.push(
				`order ${o.id}: charged ${charge.amount} minus refunded ${charge.refunded ?? 0} is ${paid}, ` +
					`but the customer owes ${kept} for what they kept (total ${o.total})`,
			);
	}
}

/** No order returns more of a variant than it bought; its status says whether everything came back. */
export function checkReturns(orders: Map<string, MoneyOrder>, returns: ReturnRow[], violations: string[]): void {
	const byOrder = new Map<string, ReturnRow[]>();
	for (const r of returns) byOrder.set(r.orderId, [...(byOrder.get(r.orderId) ?? []), r]);
	for (const [orderId, rows] of byOrder) {
		const order = orders.get(orderId);
		if (!order) {
			violations.push(`returns of unknown order ${orderId}`);
			continue;
		}
		const bought = new Map(order.items.map(i => [i.productId, i.quantity]));
		const held = new Map<string, number>();
		const received = new Map<string, number>();
		for (const r of rows)
			for (const item of r.items) {
				if (r.status !== "REJECTED") held.set(item.variantId, (held.get(item.variantId) ?? 0) + item.quantity);
				if (r.status === "RECEIVED") received.set(item.variantId, (received.get(item.variantId) ?? 0) + item.quantity);
			}
		for (const [variantId, quantity] of held)
			if (quantity > (bought.get(variantId) ?? 0))
				violations.push(
					`order ${orderId}: returns hold ${quantity} of ${variantId}, bought ${bought.get(variantId) ?? 0}`,
				);
		const everything = [...bought].every(([variantId, quantity]) => (received.get(variantId) ?? 0) === quantity);
		const anything = received.size > 0;
		const expected = everything ? "RETURNED" : anything ? "PARTIALLY_RETURNED" : null;
		if (expected && order.status !== expected)
			violations.push(`order ${orderId}: ${order.status} but its received returns make it ${expected}`);
	}
}

/** Every use of a code is held by an order carrying that code and holding its goods; each such order holds one. */
export function checkUses(orders: MoneyOrder[], uses: UseRow[], settled: boolean, violations: string[]): void {
	const byOrder = new Map<string, UseRow[]>();
	for (const u of uses) byOrder.set(u.orderId, [...(byOrder.get(u.orderId) ?? []), u]);
	const known = new Set(orders.map(o => o.id));
	for (const [orderId, held] of byOrder)
		if (!known.has(orderId))
			violations.push(`${held.length} use(s) of ${held[0].code} held by unknown order ${orderId}`);
	for (const o of orders) {
		const held = byOrder.get(o.id) ?? [];
		if (!o.settled && !settled) continue;
		const expected = o.discountCode && HOLDING.has(o.status) ? 1 : 0;
		if (held.length !== expected)
			violations.push(`order ${o.id}: ${o.status} with code ${o.discountCode ?? "none"} holds ${held.length} use(s)`);
		else if (expected && held[0].code !== o.discountCode)
			violations.push(`order ${o.id}: carries ${o.discountCode} but holds a use of ${held[0].code}`);
	}
}

/** The units inventory took back for each variant are the units of the received returns, each return once. */
export function checkReturnedStock(
	returns: ReturnRow[],
	returned: ReturnedStockRow[],
	settled: boolean,
	violations: string[],
): void {
	const expected = new Map<string, number>();
	for (const r of returns)
		if (r.status === "RECEIVED" && (settled || r.refundStatus === "DONE"))
			for (const item of r.items) expected.set(item.variantId, (expected.get(item.variantId) ?? 0) + item.quantity);
	const got = new Map<string, number>();
	for (const row of returned) got.set(row.productId, (got.get(row.productId) ?? 0) + row.quantity);
	const receivedIds = new Set(returns.filter(r => r.status === "RECEIVED").map(r => r.id));
	for (const row of returned)
		if (!receivedIds.has(row.returnId))
			violations.push(`stock ${row.productId}: ${row.quantity} taken back for return ${row.returnId}, not received`);
	for (const variantId of new Set([...expected.keys(), ...got.keys()])) {
		const [want, have] = [expected.get(variantId) ?? 0, got.get(variantId) ?? 0];
		if (settled ? want !== have : have < want)
			violations.push(`stock ${variantId}: received returns hold ${want} units but inventory took back ${have}`);
	}
}
