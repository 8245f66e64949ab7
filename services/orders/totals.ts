/**
 * Money rules of a cart or an order, all in integer minor units: the discount of a code and its allocation to the
 * lines, shipping with its free threshold, tax per line and on shipping, and what a return of part of an order
 * gives back. Pure; carts price their view with it and orders price the order they place (README "Money rules").
 *
 *   total = subtotal - discount + shipping + tax, and every sum of parts adds up to the cent.
 */

export type DiscountType = "PERCENTAGE" | "FIXED" | "FREE_SHIPPING";

/** What a discount code takes off, as the order keeps it. */
export interface DiscountRule {
	code: string;
	type: DiscountType;
	/** PERCENTAGE: 1 to 100; FIXED: minor units; FREE_SHIPPING: null. */
	value: number | null;
}

/** The shipping method an order is priced with, as the order keeps it. */
export interface ShippingCharge {
	id: string;
	name: string;
	/** Its price before the free threshold and free-shipping codes, in minor units. */
	price: number;
	/** Shipping is free from this subtotal (after discount) up; null: never. */
	freeOver: number | null;
}

/** The tax of the destination country, as the order keeps it: `rate` in basis points (1900 = 19 %). */
export interface TaxRule {
	country: string;
	rate: number;
	shippingTaxable: boolean;
}

export interface Totals {
	subtotal: number;
	discount: number;
	shipping: number;
	tax: number;
	total: number;
}

/** A line's part of the totals: its share of the discount, its tax, and what it costs after both. */
export interface LineAmounts {
	discount: number;
	tax: number;
	total: number;
}

export interface PricedTotals {
	lines: LineAmounts[];
	totals: Totals;
	/** The part of `totals.tax` charged on shipping (0 unless the rate taxes shipping). */
	shippingTax: number;
}

export const NO_TOTALS: Totals = { subtotal: 0, discount: 0, shipping: 0, tax: 0, total: 0 };

/** `numerator / denominator` rounded half up, exactly (BigInt: amount × rate may pass 2^53). Both ≥ 0. */
export function divideHalfUp(numerator: number, denominator: number): number {
	if (!(Number.isSafeInteger(numerator) && numerator >= 0 && Number.isSafeInteger(denominator) && denominator > 0))
		throw new RangeError(`divideHalfUp needs integers n >= 0, d > 0; got ${numerator} / ${denominator}`);
	const n = BigInt(numerator);
	const d = BigInt(denominator);
	return Number((2n * n + d) / (2n * d));
}

/** `amount × multiplier / divisor`, rounded half up, without losing precision on large products. */
export function scaleHalfUp(amount: number, multiplier: number, divisor: number): number {
	const n = BigInt(amount) * BigInt(multiplier);
	const d = BigInt(divisor);
	return Number((2n * n + d) / (2n * d));
}

/** What a code takes off a subtotal: a percentage rounded half up, or a fixed amount capped at the subtotal. */
export function discountOf(rule: DiscountRule | null, subtotal: number): number {
	if (!rule || rule.type === "FREE_SHIPPING") return 0;
	if (rule.type === "PERCENTAGE") return scaleHalfUp(subtotal, rule.value ?? 0, 100);
	return Math.min(rule.value ?? 0, subtotal);
}

/**
 * Splits `amount` over parts in proportion to `weights` by the largest-remainder method: the parts add up to
 * `amount` exactly; ties go to the earlier part. All weights 0: everything on none (all parts 0, amount must be 0).
 */
export function allocate(amount: number, weights: readonly number[]): number[] {
	const sum = weights.reduce((s, w) => s + w, 0);
	if (sum === 0) {
		if (amount !== 0) throw new RangeError(`Cannot allocate ${amount} over weights that are all 0`);
		return weights.map(() => 0);
	}
	const a = BigInt(amount);
	const total = BigInt(sum);
	const exact = weights.map(w => a * BigInt(w));
	const parts = exact.map(x => x / total);
	let left = amount - parts.reduce((s, p) => s + Number(p), 0);
	const order = exact.map((x, i) => ({ i, rest: x % total })).sort((p, q) => (p.rest === q.rest ? p.i - q.i : p.rest > q.rest ? -1 : 1));
	for (const { i } of order) {
		if (left === 0) break;
		parts[i] += 1n;
		left--;
	}
	return parts.map(Number);
}

/** The shipping a cart pays: free with a FREE_SHIPPING code or from the method's threshold up; none without a method. */
export function shippingOf(method: ShippingCharge | null, afterDiscount: number, rule: DiscountRule | null): number {
	if (!method || rule?.type === "FREE_SHIPPING") return 0;
	if (method.freeOver !== null && afterDiscount >= method.freeOver) return 0;
	return method.price;
}

/** Tax on an amount at `rate` basis points, rounded half up. */
export function taxOf(amount: number, rate: number): number {
	return scaleHalfUp(amount, rate, 10_000);
}

/**
 * Prices lines (their totals before discount) with a code, a shipping method and a tax rule, each optional: the
 * discount is allocated to the lines, each line is taxed on its total after discount, shipping when the rule says so.
 */
export function priceTotals(
	lineTotals: readonly number[],
	opts: { discount: DiscountRule | null; shipping: ShippingCharge | null; tax: TaxRule | null },
): PricedTotals {
	const subtotal = lineTotals.reduce((s, t) => s + t, 0);
	const discount = discountOf(opts.discount, subtotal);
	const shares = allocate(discount, lineTotals);
	const rate = opts.tax?.rate ?? 0;
	const lines = lineTotals.map((lineTotal, i) => {
		const tax = taxOf(lineTotal - shares[i], rate);
		return { discount: shares[i], tax, total: lineTotal - shares[i] + tax };
	});
	const shipping = shippingOf(opts.shipping, subtotal - discount, opts.discount);
	const shippingTax = opts.tax?.shippingTaxable ? taxOf(shipping, rate) : 0;
	const tax = lines.reduce((s, l) => s + l.tax, 0) + shippingTax;
	return { lines, totals: { subtotal, discount, shipping, tax, total: subtotal - discount + shipping + tax }, shippingTax };
}

/** An order line as a return prices it: what it cost before and after the discount, and its tax. */
export interface RefundableLine {
	unitPrice: number;
	quantity: number;
	discount: number;
	tax: number;
}

/**
 * What returning units `(before, before + quantity]` of a line gives back: their price, minus their share of the
 * line's discount, plus their share of its tax. Shares are cumulative (the first n units' share, rounded half up,
 * minus the first `before` units'), so the returns of a whole line, in any split, add up to its total to the cent.
 */
export function refundOfUnits(line: RefundableLine, before: number, quantity: number): number {
	const after = before + quantity;
	if (!(Number.isInteger(before) && before >= 0 && Number.isInteger(quantity) && quantity > 0 && after <= line.quantity))
		throw new RangeError(`Cannot return units ${before}..${after} of a line of ${line.quantity}`);
	const share = (amount: number, units: number) => scaleHalfUp(amount, units, line.quantity);
	const discount = share(line.discount, after) - share(line.discount, before);
	const tax = share(line.tax, after) - share(line.tax, before);
	return line.unitPrice * quantity - discount + tax;
}
