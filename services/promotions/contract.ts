// The promotions actor's contract: discount codes, and their uses as a resource the order saga reserves.
import type { Page } from "../../lib/actor";
import type { CollectionSpec, Doc } from "../../lib/storage";
import type { DiscountRule, DiscountType } from "../orders/totals";

/** A discount code (README "Money rules"). `code` is stored upper case and unique. */
export interface Promotion extends Doc {
	code: string;
	type: DiscountType;
	/** PERCENTAGE: 1 to 100; FIXED: minor units of `currency`; FREE_SHIPPING: null. */
	value: number | null;
	/** FIXED: the currency of `value` (and of carts it applies to); null: any currency. */
	currency: string | null;
	/** The cart's subtotal must reach this (minor units) for the code to apply; null: no minimum. */
	minSubtotal: number | null;
	/** ISO times; null: no start / no end. */
	startsAt: string | null;
	endsAt: string | null;
	/** Uses by all customers; null: unlimited. */
	usageLimit: number | null;
	/** Uses by one customer; null: unlimited. */
	perCustomerLimit: number | null;
	active: boolean;
	createdAt: string;
	updatedAt: string;
}

/** What clients see: the promotion and how many orders hold a use of it now. */
export type PromotionView = Promotion & { timesUsed: number };

/** Why a code does not apply: `data.reason` of 422 DISCOUNT_NOT_APPLICABLE (and of 409 DISCOUNT_EXHAUSTED). */
export type NotApplicableReason =
	"UNKNOWN" | "INACTIVE" | "NOT_STARTED" | "EXPIRED" | "MIN_SUBTOTAL" | "CURRENCY" | "EXHAUSTED" | "CUSTOMER_LIMIT";

export type PromotionInput = Partial<Omit<Promotion, "id" | "createdAt" | "updatedAt">>;

/** What a cart or an order asks of a code: does it apply to this subtotal, in this currency, for this customer? */
export interface CheckParams {
	code: string;
	subtotal: number;
	currency: string;
	/** The customer; a guest cart has none (the per-customer limit is checked again at checkout). */
	userId?: string;
}

export const PROMOTIONS: CollectionSpec<Promotion> = {
	name: "promotions",
	fields: {
		code: "string",
		type: "string",
		value: "money",
		currency: "string",
		minSubtotal: "money",
		startsAt: "string",
		endsAt: "string",
		usageLimit: "int",
		perCustomerLimit: "int",
		active: "bool",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["code"],
};

declare module "../../lib/actor" {
	interface ActionContracts {
		/** Admin. 409 CODE_TAKEN when the code (case-insensitive) exists. */
		"promotions.create": { params: PromotionInput; result: PromotionView };
		/** Admin. */
		"promotions.list": {
			params: { page?: number; pageSize?: number; active?: boolean; code?: string };
			result: Page<PromotionView>;
		};
		"promotions.get": { params: { id: string }; result: PromotionView };
		"promotions.update": { params: PromotionInput & { id: string }; result: PromotionView };
		"promotions.remove": { params: { id: string }; result: PromotionView };
		/**
		 * Internal: the rule a code applies with for this subtotal, currency and customer, or 422
		 * DISCOUNT_NOT_APPLICABLE with `data.reason`.
		 */
		"promotions.check": { params: CheckParams; result: DiscountRule };
		/**
		 * Internal, idempotent per order: holds one use of the code for the order (global and per-customer limits), or
		 * 409 DISCOUNT_EXHAUSTED (`data.reason` EXHAUSTED or CUSTOMER_LIMIT, `data.orderId`). Reserving again holds
		 * nothing more.
		 */
		"promotions.reserve": {
			params: { orderId: string; code: string; userId: string };
			result: { orderId: string; code: string };
		};
		/** Internal, idempotent per order: gives the order's use back (nothing when it holds none). */
		"promotions.release": { params: { orderId: string }; result: { orderId: string; released: number } };
		/** Internal: every use held, for the invariant check (paged over the uses). */
		"promotions.audit": {
			params: { offset?: number; limit?: number };
			result: { orderId: string; code: string; userId: string }[];
		};
	}
}
