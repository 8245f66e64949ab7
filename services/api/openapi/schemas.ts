/**
 * The shapes of the API's answers as JSON Schema, the components of the OpenAPI document. They follow what clients
 * see in each actor's contract (services/<actor>/contract.ts: ProductView, OrderView, CartView...). Objects stay open
 * (no `additionalProperties: false`): a field added to an answer does not break a client.
 */
import { DELIVERY_STATUSES } from "../../webhooks/delivery-state";
import { ORDER_STATUSES } from "../../orders/order-state";
import { DOMAIN_EVENTS } from "../../../lib/events/catalog";
import type { JsonSchema } from "./json-schema";

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const string: JsonSchema = { type: "string" };
const int: JsonSchema = { type: "integer" };
const bool: JsonSchema = { type: "boolean" };
const time: JsonSchema = { type: "string", format: "date-time" };
/** Integer minor units of the currency (cents). */
const money: JsonSchema = { type: "integer", description: "Minor units of the currency (cents)." };
const nullable = (schema: JsonSchema): JsonSchema =>
	typeof schema.type === "string" ? { ...schema, type: [schema.type, "null"] } : { anyOf: [schema, { type: "null" }] };
const array = (items: JsonSchema): JsonSchema => ({ type: "array", items });
const oneOf = (values: readonly string[]): JsonSchema => ({ type: "string", enum: [...values] });
const stringMap: JsonSchema = { type: "object", additionalProperties: string };

/** An object whose every property is required except those named in `optional`. */
export function object(properties: Record<string, JsonSchema>, optional: string[] = []): JsonSchema {
	return { type: "object", properties, required: Object.keys(properties).filter(key => !optional.includes(key)) };
}

/** `Page<T>` of lib/actor: every list answers one. */
export function pageOf(item: string): JsonSchema {
	return object({ rows: array(ref(item)), total: int, page: int, pageSize: int, totalPages: int });
}

const address = object({ line1: string, line2: string, city: string, postalCode: string, country: string }, ["line2"]);
const variant = object({ id: string, sku: string, title: string, options: stringMap, price: money, currency: string });
const discountRule = object({
	code: string,
	type: oneOf(["PERCENTAGE", "FIXED", "FREE_SHIPPING"]),
	value: nullable(int),
});
const totals = object({ subtotal: money, discount: money, shipping: money, tax: money, total: money }, [
	"discount",
	"shipping",
	"tax",
]);
const orderItem = object({
	productId: string,
	variantId: string,
	sku: string,
	name: string,
	options: stringMap,
	unitPrice: money,
	quantity: int,
	lineTotal: money,
	discount: money,
	tax: money,
	total: money,
});
const promotion = object({
	id: string,
	code: string,
	type: oneOf(["PERCENTAGE", "FIXED", "FREE_SHIPPING"]),
	value: nullable(int),
	currency: nullable(string),
	minSubtotal: nullable(money),
	startsAt: nullable(time),
	endsAt: nullable(time),
	usageLimit: nullable(int),
	perCustomerLimit: nullable(int),
	active: bool,
	timesUsed: int,
	createdAt: time,
	updatedAt: time,
});
const shippingMethod = object({
	id: string,
	name: string,
	price: money,
	currency: string,
	countries: array(string),
	freeOver: nullable(money),
	active: bool,
	createdAt: time,
	updatedAt: time,
});
const refund = object({
	id: string,
	orderId: string,
	paymentId: string,
	returnId: nullable(string),
	amount: money,
	currency: string,
	status: oneOf(["PENDING", "SUCCEEDED", "FAILED"]),
	reason: nullable(string),
	createdAt: time,
	updatedAt: time,
});
const payment = object(
	{
		id: string,
		orderId: string,
		userId: string,
		amount: money,
		currency: string,
		status: oneOf([
			"PENDING",
			"SUCCEEDED",
			"DECLINED",
			"FAILED",
			"PARTIALLY_REFUNDED",
			"REFUNDING",
			"REFUNDED",
			"VOIDED",
		]),
		failureReason: nullable(string),
		createdAt: time,
		updatedAt: time,
		refundedAt: nullable(time),
	},
	["refundedAt"],
);
const webhook = object({
	id: string,
	url: { type: "string", format: "uri" },
	events: array(oneOf(["*", ...DOMAIN_EVENTS])),
	description: string,
	active: bool,
	failingSince: nullable(time),
	createdAt: time,
	updatedAt: time,
});

/** `components.schemas`: every shape an answer refers to, by name. */
export const SCHEMAS: Record<string, JsonSchema> = {
	Error: object(
		{
			name: string,
			message: string,
			code: { type: "integer", description: "The HTTP status." },
			type: { type: "string", description: "UPPER_SNAKE: what clients branch on (see each response)." },
			data: { description: "Depends on the type: VALIDATION_ERROR lists ValidationIssue, OUT_OF_STOCK lines..." },
		},
		["data"],
	),
	ValidationIssue: object({ field: string, type: string, message: string, expected: {} }, ["expected"]),
	User: object(
		{
			id: string,
			email: { type: "string", format: "email" },
			name: string,
			role: oneOf(["customer", "admin"]),
			address: nullable(address),
			createdAt: time,
			updatedAt: time,
		},
		["address"],
	),
	Session: object({ token: string, user: ref("User") }),
	Address: address,
	Product: object(
		{
			id: string,
			name: string,
			description: string,
			category: string,
			options: array(object({ name: string, values: array(string) })),
			price: { ...money, description: "The lowest price of its variants, in minor units." },
			currency: string,
			sku: { ...nullable(string), description: "Null for a multi-variant product." },
			variants: array(ref("Variant")),
			createdAt: time,
			updatedAt: time,
		},
		["description"],
	),
	Variant: variant,
	Stock: object({ productId: string, available: int, reserved: int }),
	Totals: totals,
	DiscountRule: discountRule,
	ShippingCharge: object({ id: string, name: string, price: money, freeOver: nullable(money) }),
	TaxRule: object({ country: string, rate: { type: "integer", description: "Basis points." }, shippingTaxable: bool }),
	OrderItem: orderItem,
	Order: object({
		id: string,
		userId: string,
		status: oneOf(ORDER_STATUSES),
		items: array(ref("OrderItem")),
		currency: string,
		total: money,
		totals: ref("Totals"),
		discountCode: nullable(string),
		discount: nullable(ref("DiscountRule")),
		shippingMethod: nullable(ref("ShippingCharge")),
		taxRate: nullable(ref("TaxRule")),
		shippedAt: nullable(time),
		deliveredAt: nullable(time),
		shippingAddress: nullable(ref("Address")),
		failureReason: nullable(string),
		createdAt: time,
		updatedAt: time,
	}),
	Return: object({
		id: string,
		orderId: string,
		userId: string,
		status: oneOf(["REQUESTED", "RECEIVED", "REJECTED"]),
		items: array(object({ variantId: string, quantity: int, refundAmount: money })),
		refundAmount: money,
		currency: string,
		reason: nullable(string),
		refundStatus: nullable(oneOf(["PENDING", "DONE"])),
		createdAt: time,
		updatedAt: time,
	}),
	Payment: payment,
	Refund: refund,
	PaymentRow: {
		oneOf: [
			{ allOf: [ref("Payment"), object({ kind: { const: "CHARGE" } })] },
			{ allOf: [ref("Refund"), object({ kind: { const: "REFUND" } })] },
		],
		description: "An order's charge (kind CHARGE) or one of its refunds (kind REFUND).",
	},
	Notification: object({
		id: string,
		userId: string,
		eventId: string,
		type: oneOf(DOMAIN_EVENTS),
		title: string,
		body: string,
		data: { type: "object" },
		createdAt: time,
	}),
	CartItem: object({
		id: string,
		productId: string,
		variantId: string,
		sku: nullable(string),
		name: nullable(string),
		options: stringMap,
		unitPrice: money,
		quantity: int,
		lineTotal: money,
		discount: money,
		tax: money,
		total: money,
		available: int,
	}),
	Cart: object(
		{
			id: string,
			userId: nullable(string),
			status: oneOf(["ACTIVE", "CHECKING_OUT", "COMPLETED", "MERGED"]),
			currency: string,
			email: nullable(string),
			items: array(ref("CartItem")),
			shippingAddress: nullable(ref("Address")),
			discountCode: nullable(string),
			shippingMethodId: nullable(string),
			discountProblem: {
				...string,
				description: "Why the cart's code does not apply now (DISCOUNT_NOT_APPLICABLE reasons); absent when it does.",
			},
			shippingProblem: { ...string, description: "SHIPPING_NOT_AVAILABLE when the chosen method no longer fits." },
			totals: ref("Totals"),
			orderId: nullable(string),
			createdAt: time,
			updatedAt: time,
		},
		["discountProblem", "shippingProblem"],
	),
	Webhook: webhook,
	WebhookWithSecret: {
		allOf: [ref("Webhook"), object({ secret: { type: "string", description: "Shown only by create and rotate." } })],
	},
	Delivery: object({
		id: string,
		webhookId: string,
		eventId: string,
		eventType: oneOf(DOMAIN_EVENTS),
		status: oneOf(DELIVERY_STATUSES),
		attempts: int,
		lastStatusCode: nullable(int),
		lastError: nullable(string),
		nextAttemptAt: nullable(time),
		createdAt: time,
		updatedAt: time,
	}),
	Removed: object({ id: string, removed: { const: true } }),
	Promotion: promotion,
	ShippingMethod: shippingMethod,
	ShippingOption: {
		allOf: [ref("ShippingMethod"), object({ listPrice: { ...money, description: "Before any free threshold." } })],
	},
	TaxRate: object({
		country: string,
		rate: { type: "integer", description: "Basis points." },
		shippingTaxable: bool,
		updatedAt: time,
	}),
};
