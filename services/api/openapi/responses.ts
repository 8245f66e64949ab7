/**
 * What each action behind a route answers: its success status and body, a summary, and the error types it adds to
 * the ones every route of its kind has (openapi.ts derives those: validation, auth, not found...). The one place
 * answers are declared; an action routed without an entry here fails test/services/api/openapi.test.ts.
 */
import type { JsonSchema } from "./json-schema";
import { pageOf, ref } from "./schemas";

export interface ActionResponse {
	summary: string;
	/** The usual success status; `also` lists the others (a replay, an order still being placed...). */
	status: 200 | 201 | 202;
	also?: Partial<Record<200 | 201 | 202, string>>;
	schema: JsonSchema;
	/** Error types of this action beyond those of every route, by HTTP status. */
	errors?: Partial<Record<number, string[]>>;
	/** A guest may call it; a bearer token makes it act for that user. */
	optionalUser?: true;
	/** Reads the `Idempotency-Key` header. */
	idempotencyKey?: true;
	/** Headers of the success answers, with what they say. */
	headers?: Record<string, string>;
}

const list = (summary: string, item: string): ActionResponse => ({ summary, status: 200, schema: pageOf(item) });
const one = (summary: string, item: string, errors?: ActionResponse["errors"]): ActionResponse => ({
	summary,
	status: 200,
	schema: ref(item),
	errors,
});
const created = (summary: string, item: string, errors?: ActionResponse["errors"]): ActionResponse => ({
	summary,
	status: 201,
	schema: ref(item),
	errors,
});

const ORDER_ERRORS = {
	402: ["PAYMENT_DECLINED"],
	409: ["OUT_OF_STOCK", "DISCOUNT_EXHAUSTED"],
	422: [
		"UNKNOWN_PRODUCT",
		"VARIANT_REQUIRED",
		"MIXED_CURRENCY",
		"QUANTITY_TOO_LARGE",
		"DISCOUNT_NOT_APPLICABLE",
		"SHIPPING_NOT_AVAILABLE",
	],
	503: ["PAYMENT_UNAVAILABLE"],
};
const PLACED = { 202: "The order is still being placed (PENDING): poll `GET /orders/{id}`." };
const REPLAYED = { "Idempotent-Replayed": "`true` when this answers an earlier request again (same key or cart)." };
const CART_LINE_ERRORS = {
	409: ["CHECKOUT_IN_PROGRESS", "CART_COMPLETED", "CART_CHANGED"],
	422: ["UNKNOWN_PRODUCT", "VARIANT_REQUIRED", "MIXED_CURRENCY", "TOO_MANY_LINES", "QUANTITY_TOO_LARGE"],
};
const CART = { optionalUser: true } as const;

export const RESPONSES: Record<string, ActionResponse> = {
	"users.register": {
		...created("Create a customer account and sign in", "Session", { 409: ["EMAIL_TAKEN"], 503: ["OVERLOADED"] }),
	},
	"users.login": one("Sign in", "Session", { 401: ["INVALID_CREDENTIALS"], 503: ["OVERLOADED"] }),
	"users.me": one("The signed-in user", "User"),
	"users.updateMe": one("Change the signed-in user's name or address", "User"),
	"users.list": list("Every user (admin)", "User"),

	"products.list": list("Browse and search the catalogue", "Product"),
	"products.get": one("A product with its variants", "Product"),
	"products.create": created("Create a product (one variant, or options and variants)", "Product", {
		409: ["SKU_TAKEN"],
	}),
	"products.update": one("Change a product", "Product", { 409: ["SKU_TAKEN"] }),
	"products.remove": one("Delete a product and its variants", "Product"),
	"products.addVariant": created("Add a variant to a product", "Product", { 409: ["SKU_TAKEN"] }),
	"products.updateVariant": one("Change a variant", "Product", { 409: ["SKU_TAKEN"] }),
	"products.removeVariant": one("Delete a variant", "Product", { 409: ["LAST_VARIANT"] }),

	"inventory.get": one("A variant's stock", "Stock"),
	"inventory.setStock": one("Set a variant's available stock", "Stock"),
	"inventory.restock": one("Add received units to a variant's stock", "Stock"),

	"orders.create": {
		...created("Place an order", "Order", ORDER_ERRORS),
		also: PLACED,
		idempotencyKey: true,
		headers: { ...REPLAYED, Location: "The order's URL." },
		errors: { ...ORDER_ERRORS, 409: [...ORDER_ERRORS[409], "IDEMPOTENCY_KEY_REUSED"] },
	},
	"orders.list": list("The caller's orders (an admin: everyone's, filtered)", "Order"),
	"orders.get": one("An order", "Order"),
	"orders.cancel": one("Cancel a confirmed order (refunded, stock released)", "Order", { 409: ["INVALID_TRANSITION"] }),
	"orders.updateStatus": one("Ship or deliver an order", "Order", { 409: ["INVALID_TRANSITION"] }),
	"orders.requestReturn": created("Request a return of part of a shipped order", "Return", {
		422: ["RETURN_NOT_ALLOWED"],
	}),
	"orders.returns": list("An order's returns", "Return"),
	"orders.listReturns": list("Every return, newest first (admin)", "Return"),
	"orders.receiveReturn": one("Receive a return: stock back, refund", "Return", { 409: ["INVALID_TRANSITION"] }),
	"orders.rejectReturn": one("Reject a return", "Return", { 409: ["INVALID_TRANSITION"] }),

	"payments.list": list("An order's charge and refunds", "PaymentRow"),
	"notifications.list": list("The caller's notifications", "Notification"),

	"carts.create": {
		...created("Create a cart (a signed-in customer's current cart)", "Cart"),
		...CART,
		also: { 200: "The signed-in customer's existing current cart." },
	},
	"carts.mine": one("The signed-in customer's current cart", "Cart"),
	"carts.get": { ...one("A cart", "Cart"), ...CART },
	"carts.update": {
		...one("Set a cart's email, shipping address and shipping method", "Cart", {
			...CART_LINE_ERRORS,
			422: [...CART_LINE_ERRORS[422], "SHIPPING_REQUIRED", "SHIPPING_NOT_AVAILABLE"],
		}),
		...CART,
	},
	"carts.applyDiscount": {
		...one("Apply a discount code to a cart (replacing its code)", "Cart", {
			409: CART_LINE_ERRORS[409],
			422: ["DISCOUNT_NOT_APPLICABLE"],
		}),
		...CART,
	},
	"carts.removeDiscount": {
		...one("Remove the cart's discount code", "Cart", { 409: CART_LINE_ERRORS[409] }),
		...CART,
	},
	"carts.shippingMethods": {
		summary: "The shipping methods for the cart's country, priced for this cart",
		status: 200,
		schema: { type: "array", items: ref("ShippingOption") },
		errors: { 422: ["SHIPPING_REQUIRED"] },
		...CART,
	},
	"carts.addItem": { ...one("Add a variant to a cart", "Cart", CART_LINE_ERRORS), ...CART },
	"carts.updateItem": { ...one("Change a line's quantity", "Cart", CART_LINE_ERRORS), ...CART },
	"carts.removeItem": { ...one("Remove a line", "Cart", CART_LINE_ERRORS), ...CART },
	"carts.claim": one("Make a guest cart the caller's (merged into their current cart)", "Cart", {
		409: ["CHECKOUT_IN_PROGRESS", "CART_COMPLETED"],
	}),
	"carts.checkout": {
		...created("Check a cart out: places its order", "Order"),
		headers: { ...REPLAYED, Location: "The order's URL." },
		errors: {
			...ORDER_ERRORS,
			409: [...ORDER_ERRORS[409], ...CART_LINE_ERRORS[409]],
			422: [...ORDER_ERRORS[422], "EMPTY_CART", "SHIPPING_REQUIRED"],
		},
	},

	"webhooks.create": created("Subscribe a URL to domain events", "WebhookWithSecret", {
		422: ["INVALID_WEBHOOK_URL"],
	}),
	"webhooks.list": list("Every webhook", "Webhook"),
	"webhooks.get": one("A webhook", "Webhook"),
	"webhooks.update": one("Change a webhook", "Webhook", { 422: ["INVALID_WEBHOOK_URL"] }),
	"webhooks.remove": one("Delete a webhook", "Removed"),
	"webhooks.rotateSecret": one("Replace a webhook's signing secret", "WebhookWithSecret"),
	"webhooks.deliveries": list("A webhook's deliveries", "Delivery"),
	"webhooks.redeliver": one("Send a delivery again", "Delivery", { 409: ["DELIVERY_PENDING"] }),

	"promotions.create": created("Create a discount code", "Promotion", { 409: ["CODE_TAKEN"] }),
	"promotions.list": list("Every discount code", "Promotion"),
	"promotions.get": one("A discount code", "Promotion"),
	"promotions.update": one("Change a discount code", "Promotion", { 409: ["CODE_TAKEN"] }),
	"promotions.remove": one("Delete a discount code", "Promotion"),

	"shipping.createMethod": created("Create a shipping method", "ShippingMethod"),
	"shipping.listMethods": list("Every shipping method", "ShippingMethod"),
	"shipping.updateMethod": one("Change a shipping method", "ShippingMethod"),
	"shipping.removeMethod": one("Delete a shipping method", "ShippingMethod"),
	"shipping.listRates": list("Every tax rate", "TaxRate"),
	"shipping.putRate": one("Set a country's tax rate", "TaxRate"),
	"shipping.removeRate": one("Delete a country's tax rate", "TaxRate"),
};
