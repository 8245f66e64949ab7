import { money, plainText } from "../../lib/actor";
import { UnprocessableError } from "../../lib/errors";
import { shippingOf, type DiscountRule, type ShippingCharge, type TaxRule } from "../orders/totals";
import type { ShippingMethod, ShippingMethodInput, ShippingOption, TaxRate, TaxRateView } from "./contract";

/** The shipping actor's input rules and who may ship where: pure, so table tests cover them. */

/** A method for every destination. */
export const EVERY_COUNTRY = "*";
const COUNTRY_CODE = /^[A-Za-z]{2}$/;
/** The longest list an admin can send: there are 249 ISO 3166-1 codes. */
const MAX_COUNTRIES = 250;

export const methodFields = {
	name: plainText({ type: "string", min: 1, max: 100, trim: true } as const),
	price: money,
	currency: { type: "string", pattern: /^[A-Z]{3}$/ },
	countries: { type: "array", min: 1, max: MAX_COUNTRIES, items: { type: "string", min: 1, max: 56, trim: true } },
	freeOver: { ...money, optional: true, nullable: true },
	active: { type: "boolean", optional: true },
} as const;

export const rateFields = {
	country: { type: "string", pattern: COUNTRY_CODE, trim: true },
	rate: { type: "number", integer: true, min: 0, max: 10_000 },
	shippingTaxable: { type: "boolean", optional: true },
} as const;

/** What createMethod needs; the rest has defaults. */
export type NewMethodParams = Pick<ShippingMethod, "name" | "price" | "currency" | "countries"> & ShippingMethodInput;

/** The one spelling countries are stored and compared in. */
export function countryKey(country: string): string {
	return country.trim().toUpperCase();
}

/** ["*"], or ISO 3166-1 alpha-2 codes stored upper case without repeats; anything else is a 422 INVALID_COUNTRIES. */
export function normalizeCountries(countries: readonly string[]): string[] {
	if (countries.length === 1 && countries[0] === EVERY_COUNTRY) return [EVERY_COUNTRY];
	const bad = countries.filter(c => !COUNTRY_CODE.test(c));
	if (countries.length === 0 || bad.length > 0)
		throw new UnprocessableError(
			'countries must be ISO 3166-1 alpha-2 codes (e.g. ["DE", "FR"]) or exactly ["*"] for every country',
			"INVALID_COUNTRIES",
			{ field: "countries", invalid: bad },
		);
	return [...new Set(countries.map(countryKey))];
}

/** A new method from the create params: every country normalised, active unless said otherwise, never free. */
export function newMethod(input: NewMethodParams, id: string, now: string): ShippingMethod {
	return {
		id,
		name: input.name,
		price: input.price,
		currency: input.currency,
		countries: normalizeCountries(input.countries),
		freeOver: input.freeOver ?? null,
		active: input.active ?? true,
		createdAt: now,
		updatedAt: now,
	};
}

/** PATCH: the fields sent (countries normalised, `freeOver: null` clears the threshold), and the time of the change. */
export function methodChanges(changes: ShippingMethodInput, now: string): Partial<Omit<ShippingMethod, "id">> {
	const set: Partial<Omit<ShippingMethod, "id">> = { ...changes, updatedAt: now };
	if (changes.countries !== undefined) set.countries = normalizeCountries(changes.countries);
	return set;
}

export function shipsTo(method: Pick<ShippingMethod, "countries">, country: string): boolean {
	const key = countryKey(country);
	return method.countries.some(c => c === EVERY_COUNTRY || c === key);
}

/** Why a method cannot carry an order in `currency` to `country`, or null when it can. */
export function unavailability(method: ShippingMethod | null, country: string, currency: string): string | null {
	if (!method) return "no such shipping method";
	if (!method.active) return "the shipping method is not active";
	if (method.currency !== currency) return `the shipping method is priced in ${method.currency}, not ${currency}`;
	if (!shipsTo(method, country)) return `the shipping method does not ship to ${countryKey(country)}`;
	return null;
}

/** The method as an order keeps it. */
export function chargeOf(method: ShippingMethod): ShippingCharge {
	return { id: method.id, name: method.name, price: method.price, freeOver: method.freeOver };
}

/** A free-shipping code as totals.ts's `shippingOf` takes it (its code and value play no part in shipping). */
const FREE_SHIPPING: DiscountRule = { code: "", type: "FREE_SHIPPING", value: null };

/**
 * The methods a cart of `afterDiscount` (subtotal after discount) can choose for `country` in `currency`, each with
 * `price` what the cart pays and `listPrice` the method's own; cheapest first, then by name.
 */
export function optionsFor(
	methods: readonly ShippingMethod[],
	cart: { country: string; currency: string; afterDiscount: number; free?: boolean },
): ShippingOption[] {
	return methods
		.filter(m => unavailability(m, cart.country, cart.currency) === null)
		.map(m => ({
			...m,
			price: shippingOf(chargeOf(m), cart.afterDiscount, cart.free ? FREE_SHIPPING : null),
			listPrice: m.price,
		}))
		.sort((a, b) => a.price - b.price || compare(a.name, b.name) || compare(a.id, b.id));
}

function compare(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}

export function newRate(input: { country: string; rate: number; shippingTaxable?: boolean }, now: string): TaxRate {
	const country = countryKey(input.country);
	// The country is the id: a second insert of one country is a duplicate key, whatever the store.
	return { id: country, country, rate: input.rate, shippingTaxable: input.shippingTaxable ?? false, updatedAt: now };
}

export function rateView({ country, rate, shippingTaxable, updatedAt }: TaxRate): TaxRateView {
	return { country, rate, shippingTaxable, updatedAt };
}

/** The country's tax as an order keeps it; null (no tax) without a rate. */
export function taxRuleOf(rate: TaxRate | null): TaxRule | null {
	return rate && { country: rate.country, rate: rate.rate, shippingTaxable: rate.shippingTaxable };
}
