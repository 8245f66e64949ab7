import { describe, expect, it } from "vitest";
import type { ShippingMethod } from "../../../services/shipping/contract";
import {
	chargeOf,
	methodChanges,
	newMethod,
	newRate,
	normalizeCountries,
	optionsFor,
	rateView,
	shipsTo,
	taxRuleOf,
	unavailability,
} from "../../../services/shipping/shipping-rules";

const NOW = "2026-11-30T12:00:00.000Z";

function method(overrides: Partial<ShippingMethod> = {}): ShippingMethod {
	return {
		id: "m",
		name: "Standard",
		price: 499,
		currency: "USD",
		countries: ["*"],
		freeOver: null,
		active: true,
		createdAt: NOW,
		updatedAt: NOW,
		...overrides,
	};
}

describe("countries of a shipping method", () => {
	it.each([
		[["*"], ["*"]],
		[["de"], ["DE"]],
		[
			["DE", "fr", "Gb"],
			["DE", "FR", "GB"],
		],
		[
			["de", "DE", "fr"],
			["DE", "FR"],
		],
	])("%j is stored as %j", (given, stored) => {
		expect(normalizeCountries(given)).toEqual(stored);
	});

	it.each([
		[[], []],
		[["DEU"], ["DEU"]],
		[["D"], ["D"]],
		[["D1"], ["D1"]],
		[["*", "DE"], ["*"]],
		[["DE", "*"], ["*"]],
		[
			["*", "*"],
			["*", "*"],
		],
		[["Germany", "FR"], ["Germany"]],
		[["ÄÖ"], ["ÄÖ"]],
	])("%j is refused with 422 INVALID_COUNTRIES naming %j", (given, invalid) => {
		let thrown: unknown;
		try {
			normalizeCountries(given);
		} catch (err) {
			thrown = err;
		}
		expect(thrown).toMatchObject({ code: 422, type: "INVALID_COUNTRIES", data: { field: "countries", invalid } });
	});
});

describe("a new method and its changes", () => {
	it("defaults to active and never free; countries are normalised", () => {
		const made = newMethod({ name: "Post", price: 300, currency: "EUR", countries: ["de", "at"] }, "id-1", NOW);
		expect(made).toEqual({
			id: "id-1",
			name: "Post",
			price: 300,
			currency: "EUR",
			countries: ["DE", "AT"],
			freeOver: null,
			active: true,
			createdAt: NOW,
			updatedAt: NOW,
		});
	});

	it("keeps an explicit threshold and inactive flag", () => {
		const made = newMethod(
			{ name: "P", price: 1, currency: "USD", countries: ["*"], freeOver: 0, active: false },
			"i",
			NOW,
		);
		expect(made).toMatchObject({ freeOver: 0, active: false });
	});

	it.each([
		[{}, { updatedAt: "later" }],
		[{ price: 1 }, { price: 1, updatedAt: "later" }],
		[{ freeOver: null }, { freeOver: null, updatedAt: "later" }],
		[{ countries: ["fr", "FR"] }, { countries: ["FR"], updatedAt: "later" }],
		[
			{ active: false, name: "X" },
			{ active: false, name: "X", updatedAt: "later" },
		],
	])("PATCH %j sets %j", (changes, set) => {
		expect(methodChanges(changes, "later")).toEqual(set);
	});

	it("refuses a PATCH with bad countries", () => {
		expect(() => methodChanges({ countries: ["*", "DE"] }, "later")).toThrow(/alpha-2/);
	});
});

describe("where a method ships", () => {
	it.each([
		[["*"], "DE", true],
		[["*"], "anything", true],
		[["DE", "FR"], "DE", true],
		[["DE", "FR"], "de", true],
		[["DE", "FR"], " fr ", true],
		[["DE", "FR"], "GB", false],
		[["DE"], "Germany", false],
	])("%j to %s: %s", (countries, country, ships) => {
		expect(shipsTo({ countries }, country)).toBe(ships);
	});

	it.each([
		["an active method for every country", "DE", "USD", null, method()],
		["a missing method", "DE", "USD", "no such shipping method", null],
		["an inactive method", "DE", "USD", "the shipping method is not active", method({ active: false })],
		["a USD method", "DE", "EUR", "the shipping method is priced in USD, not EUR", method()],
		["a method for FR", "de", "USD", "the shipping method does not ship to DE", method({ countries: ["FR"] })],
		["a method for FR", "fr", "USD", null, method({ countries: ["FR"] })],
	])("%s to %s in %s: %s", (_label, country, currency, why, m) => {
		expect(unavailability(m, country, currency)).toBe(why);
	});
});

describe("the options of a cart", () => {
	const standard = method({ id: "s", name: "Standard", price: 499, freeOver: 5000 });
	const express = method({ id: "e", name: "Express", price: 1499 });
	const local = method({ id: "l", name: "Local", price: 499, countries: ["DE"] });
	const euro = method({ id: "x", name: "Euro", price: 100, currency: "EUR" });
	const off = method({ id: "o", name: "Off", price: 1, active: false });
	const all = [express, standard, local, euro, off];
	const prices = (country: string, afterDiscount: number, free?: boolean) =>
		optionsFor(all, { country, currency: "USD", afterDiscount, free }).map(o => [o.name, o.price, o.listPrice]);

	it.each([
		[
			"US",
			4999,
			undefined,
			[
				["Standard", 499, 499],
				["Express", 1499, 1499],
			],
		],
		[
			"US",
			5000,
			undefined,
			[
				["Standard", 0, 499],
				["Express", 1499, 1499],
			],
		],
		[
			"de",
			4999,
			undefined,
			[
				["Local", 499, 499],
				["Standard", 499, 499],
				["Express", 1499, 1499],
			],
		],
		[
			"DE",
			5000,
			undefined,
			[
				["Standard", 0, 499],
				["Local", 499, 499],
				["Express", 1499, 1499],
			],
		],
		[
			"US",
			0,
			true,
			[
				["Express", 0, 1499],
				["Standard", 0, 499],
			],
		],
	])("to %s after discount %i (free code %s): %j", (country, afterDiscount, free, expected) => {
		expect(prices(country, afterDiscount, free)).toEqual(expected);
	});

	it("offers only methods in the cart's currency", () => {
		const options = optionsFor(all, { country: "FR", currency: "EUR", afterDiscount: 0 });
		expect(options).toEqual([{ ...euro, listPrice: 100 }]);
	});
});

describe("what an order keeps", () => {
	it("keeps the method's charge", () => {
		expect(chargeOf(method({ id: "s", freeOver: 5000 }))).toEqual({
			id: "s",
			name: "Standard",
			price: 499,
			freeOver: 5000,
		});
	});

	it.each([
		[
			{ country: "gb", rate: 2000, shippingTaxable: true },
			{ country: "GB", rate: 2000, shippingTaxable: true },
		],
		[
			{ country: "DE", rate: 1900 },
			{ country: "DE", rate: 1900, shippingTaxable: false },
		],
	])("rate %j: %j", (input, rule) => {
		const rate = newRate(input, NOW);
		expect(rate.id).toBe(rule.country);
		expect(taxRuleOf(rate)).toEqual(rule);
		expect(rateView(rate)).toEqual({ ...rule, updatedAt: NOW });
	});

	it("no rate, no tax", () => {
		expect(taxRuleOf(null)).toBeNull();
	});
});
