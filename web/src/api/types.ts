// The shapes of the REST contract, taken from the types generated from GET /api/openapi.json
// (clients/emporium-api.d.ts, `npm run openapi:types`). Hand-written only where the document has no named shape.
import type { components, operations } from "../../../clients/emporium-api";

type Schemas = components["schemas"];

/** The body a JSON operation takes. */
export type RequestBody<Op extends keyof operations> = operations[Op] extends {
	requestBody?: { content: { "application/json": infer B } };
}
	? B
	: never;

/** The query parameters a GET operation takes. */
export type QueryOf<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

/** The document spells every list's page out inline; one generic for all of them. */
export interface Page<T> {
	rows: T[];
	total: number;
	page: number;
	pageSize: number;
	totalPages: number;
}

export type ApiErrorBody = Schemas["Error"];
export type User = Schemas["User"];
export type Auth = Schemas["Session"];
export type Address = Schemas["Address"];
export type Variant = Schemas["Variant"];
export type Product = Schemas["Product"];
export type Stock = Schemas["Stock"];
export type Totals = Schemas["Totals"];
export type CartItem = Schemas["CartItem"];

export type Cart = Schemas["Cart"];

export type OrderItem = Schemas["OrderItem"];
export type Order = Schemas["Order"];
export type OrderStatus = Order["status"];
export type OrderReturn = Schemas["Return"];
export type ReturnItem = OrderReturn["items"][number];
export type Notification = Schemas["Notification"];
export type Promotion = Schemas["Promotion"];
export type ShippingMethod = Schemas["ShippingMethod"];
/** A method as priced for one cart (free over its threshold), with its list price. */
export type ShippingOption = Schemas["ShippingOption"];
export type TaxRate = Schemas["TaxRate"];
