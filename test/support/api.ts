/**
 * Response bodies of the REST API as a client sees them, for `client`'s type parameter: the client types generated
 * from the OpenAPI document (`npm run openapi:types`), so a test reading a field the API does not declare fails the
 * type check. The bodies are parsed JSON; the tests' assertions are what check their shape.
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

export type Product = Schemas["Product"];
export type Variant = Schemas["Variant"];
export type Stock = Schemas["Stock"];
export type Order = Schemas["Order"];
/** A row of `GET /api/payments?orderId=`: the charge or one of its refunds. */
export type Payment = Schemas["PaymentRow"];
export type Notification = Schemas["Notification"];
