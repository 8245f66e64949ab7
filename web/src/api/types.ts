// Hand-written shapes of the REST contract (README "API", issue 13 for totals, promotions, shipping and returns).
// When clients/emporium-api.d.ts (generated from /api/openapi.json) lands, each of these becomes an alias of its
// schema there (e.g. `export type Product = components["schemas"]["Product"]`) and the client keeps its signatures.

export interface Page<T> {
	rows: T[];
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

export interface ApiErrorBody {
	name: string;
	message: string;
	code: number;
	type: string;
	data?: unknown;
}

export interface User {
	id: string;
	email: string;
	name: string;
	role: string;
	address?: Address | null;
}

export interface Auth {
	token: string;
	user: User;
}

export interface Address {
	line1: string;
	line2?: string;
	city: string;
	postalCode: string;
	country: string;
}

export interface Variant {
	id: string;
	sku: string;
	title: string;
	options: Record<string, string>;
	price: number;
	currency: string;
}

export interface Product {
	id: string;
	name: string;
	description: string;
	category: string;
	options: { name: string; values: string[] }[];
	variants: Variant[];
	price: number;
	currency: string;
	sku: string | null;
	createdAt: string;
	updatedAt: string;
}

export interface Stock {
	productId: string;
	available: number;
	reserved: number;
}

/** Issue 13 adds discount, shipping and tax; carts of an older backend carry subtotal and total only. */
export interface Totals {
	subtotal: number;
	discount?: number;
	shipping?: number;
	tax?: number;
	total: number;
}

export interface CartItem {
	id: string;
	productId: string;
	variantId: string;
	sku: string | null;
	name: string | null;
	options: Record<string, string>;
	unitPrice: number;
	quantity: number;
	lineTotal: number;
	available: number;
}

export interface Cart {
	id: string;
	userId: string | null;
	status: "ACTIVE" | "CHECKING_OUT" | "COMPLETED" | "MERGED";
	currency: string;
	email: string | null;
	items: CartItem[];
	shippingAddress: Address | null;
	totals: Totals;
	discountCode?: string | null;
	shippingMethodId?: string | null;
	orderId: string | null;
}

export interface OrderItem {
	productId: string;
	variantId: string;
	sku: string;
	name: string;
	options: Record<string, string>;
	unitPrice: number;
	quantity: number;
	lineTotal: number;
}

export type OrderStatus =
	"PENDING" | "CONFIRMED" | "FAILED" | "CANCELLED" | "SHIPPED" | "DELIVERED" | "PARTIALLY_RETURNED" | "RETURNED";

export interface Order {
	id: string;
	userId: string;
	status: OrderStatus;
	items: OrderItem[];
	currency: string;
	total: number;
	totals?: Totals;
	discountCode?: string | null;
	shippingAddress: Address | null;
	failureReason: string | null;
	createdAt: string;
	updatedAt: string;
}

export interface ReturnItem {
	variantId: string;
	quantity: number;
	refundAmount: number;
}

export interface OrderReturn {
	id: string;
	orderId: string;
	userId: string;
	status: "REQUESTED" | "RECEIVED" | "REJECTED";
	items: ReturnItem[];
	refundAmount: number;
	currency?: string;
	reason: string | null;
	createdAt: string;
}

export interface Notification {
	id: string;
	type: string;
	title: string;
	body: string;
	createdAt: string;
}

export interface Promotion {
	id: string;
	code: string;
	type: "PERCENTAGE" | "FIXED" | "FREE_SHIPPING";
	value: number | null;
	currency: string | null;
	minSubtotal: number | null;
	usageLimit: number | null;
	perCustomerLimit: number | null;
	active: boolean;
	timesUsed: number;
}

export interface ShippingMethod {
	id: string;
	name: string;
	price: number;
	currency: string;
	countries: string[];
	freeOver: number | null;
	active: boolean;
}

export interface TaxRate {
	country: string;
	rate: number;
	shippingTaxable: boolean;
	updatedAt: string;
}
