/**
 * Response bodies of the REST API as a client sees them (README "API"), for `client`'s type parameter. Only what
 * the tests read is declared; the bodies are parsed JSON, and the tests' assertions are what check their shape.
 * Some come from the client types generated from the OpenAPI document (`npm run openapi:types`).
 */
import type { components } from "../../clients/emporium-api";

/** The shapes of the OpenAPI document's `components.schemas`. */
export type Schemas = components["schemas"];

/** Every list: `GET /api/products`, `/orders`, `/payments`, `/notifications`, `/users`. */
export interface Page<T> {
	rows: T[];
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

/** The one error shape; `data` depends on the type (validation: failing fields, OUT_OF_STOCK: lines, ...). */
export interface ApiError<D = unknown> {
	name: string;
	message: string;
	code: number;
	type: string;
	data: D;
}

/** What a failed order's error (PAYMENT_DECLINED, OUT_OF_STOCK) carries. */
export type OrderError = ApiError<{ orderId: string }>;

/** A user, as the OpenAPI document declares it (clients/emporium-api.d.ts, generated). */
export type User = Schemas["User"];

/** What register and login answer. */
export type Session = Schemas["Session"];

export interface Product {
	id: string;
	name: string;
	price: number;
	currency: string;
	category: string;
	/** Null for a multi-variant product. */
	sku: string | null;
	options: { name: string; values: string[] }[];
	variants: Variant[];
}

export interface Variant {
	id: string;
	sku: string;
	title: string;
	options: Record<string, string>;
	price: number;
	currency: string;
}

export interface Stock {
	productId: string;
	available: number;
	reserved: number;
}

export interface Order {
	id: string;
	userId: string;
	status: string;
	total: number;
	currency: string;
	items: {
		productId: string;
		variantId: string;
		sku: string;
		name: string;
		options: Record<string, string>;
		unitPrice: number;
		quantity: number;
		lineTotal: number;
	}[];
	failureReason?: string | null;
}

/** A row of `GET /api/payments?orderId=`: the order's charge, then its refunds. */
export interface Payment {
	kind: "CHARGE" | "REFUND";
	id: string;
	orderId: string;
	amount: number;
	status: string;
}

export interface Notification {
	id: string;
	userId: string;
	/** The domain event it tells about: one notification per event and recipient. */
	eventId: string;
	type: string;
	data: { orderId?: string };
}
