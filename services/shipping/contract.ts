// The shipping actor's contract: shipping methods and the tax rates of destination countries.
import type { Page } from "../../lib/actor";
import type { CollectionSpec, Doc } from "../../lib/storage";
import type { ShippingCharge, TaxRule } from "../orders/totals";

export interface ShippingMethod extends Doc {
	name: string;
	/** Minor units of `currency`. */
	price: number;
	currency: string;
	/** ISO 3166-1 alpha-2 codes (upper case), or ["*"] for every country. */
	countries: string[];
	/** Free from this subtotal (after discount) up; null: never free. */
	freeOver: number | null;
	active: boolean;
	createdAt: string;
	updatedAt: string;
}

/** A tax rate by destination country (its id is the country code). */
export interface TaxRate extends Doc {
	country: string;
	/** Basis points, 0 to 10000. */
	rate: number;
	shippingTaxable: boolean;
	updatedAt: string;
}
export type TaxRateView = Omit<TaxRate, "id">;

/** A method offered to a cart: the method, and `price` what this cart pays for it (0 over its threshold). */
export type ShippingOption = ShippingMethod & { listPrice: number };

export type ShippingMethodInput = Partial<Omit<ShippingMethod, "id" | "createdAt" | "updatedAt">>;

/** What a cart or an order is priced with for a destination: the chosen method (if any) and the country's tax. */
export interface Quote {
	/** The chosen method, as the order keeps it; null when none was asked for. */
	shipping: ShippingCharge | null;
	/** The country's tax; null when it has no rate (no tax). */
	tax: TaxRule | null;
}

export const SHIPPING_METHODS: CollectionSpec<ShippingMethod> = {
	name: "shipping_methods",
	fields: {
		name: "string",
		price: "money",
		currency: "string",
		countries: "json",
		freeOver: "money",
		active: "bool",
		createdAt: "string",
		updatedAt: "string",
	},
};

export const TAX_RATES: CollectionSpec<TaxRate> = {
	name: "tax_rates",
	fields: { country: "string", rate: "int", shippingTaxable: "bool", updatedAt: "string" },
	unique: ["country"],
};

declare module "../../lib/actor" {
	interface ActionContracts {
		/** Admin. */
		"shipping.createMethod": { params: ShippingMethodInput; result: ShippingMethod };
		"shipping.listMethods": { params: { page?: number; pageSize?: number }; result: Page<ShippingMethod> };
		"shipping.updateMethod": { params: ShippingMethodInput & { id: string }; result: ShippingMethod };
		"shipping.removeMethod": { params: { id: string }; result: ShippingMethod };
		/**
		 * The active methods for a destination country in a currency, each with `price` for a cart of `afterDiscount`
		 * (subtotal after discount), `free` when a free-shipping code applies.
		 */
		"shipping.options": {
			params: { country: string; currency: string; afterDiscount: number; free?: boolean };
			result: ShippingOption[];
		};
		/**
		 * Internal: what an order to `country` is priced with. With `methodId`: 422 SHIPPING_NOT_AVAILABLE unless that
		 * method is active, in `currency` and ships to `country`.
		 */
		"shipping.quote": { params: { country: string; currency: string; methodId?: string }; result: Quote };
		/** Admin: the standard list shape. */
		"shipping.listRates": { params: { page?: number; pageSize?: number }; result: Page<TaxRateView> };
		"shipping.putRate": {
			params: { country: string; rate: number; shippingTaxable?: boolean };
			result: TaxRateView;
		};
		"shipping.removeRate": { params: { country: string }; result: TaxRateView };
	}
}
