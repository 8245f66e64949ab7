// The inventory actor's contract: its entities, the actions other actors call and the events it publishes.
import type { Doc } from "../../lib/storage";
import type { ReservationStatus } from "./reservations";
import type { StockCounters } from "./stock";

export interface StockLine {
	productId: string;
	quantity: number;
}

/** A product's stock counters, one record per product (its id is the product id). */
export interface StockRecord extends Doc, StockCounters {
	productId: string;
	updatedAt: string;
	/** memory:// and MongoDB only: units of settlements in flight (0 at rest), and their move markers. */
	pending?: number;
	moves?: string[];
}

/** One line of an order held by inventory; its id is `<orderId>:<productId>`. */
export interface Reservation extends Doc {
	orderId: string;
	productId: string;
	quantity: number;
	status: ReservationStatus;
	updatedAt: string;
	/** memory:// and MongoDB only: the markers of the stock moves its statuses rely on (reservations.ts). */
	moves?: string[];
}

/**
 * What clients and other actors see of a variant's stock. Stock is keyed by variant id (issue 12); `productId` is that
 * key under its name before variants (a single-variant product's variant has the product's id).
 */
export interface StockView {
	productId: string;
	available: number;
	reserved: number;
}

/** Units of a variant a return put back on the shelf; its id is `<returnId>:<productId>`. */
export interface ReturnedStock extends Doc {
	returnId: string;
	productId: string;
	quantity: number;
	updatedAt: string;
}

/** What the invariant check (lib/audit) reads: every counter, the reservations page by page, and the returns. */
export interface InventoryAudit {
	stock: Pick<StockRecord, "productId" | "available" | "reserved" | "sold" | "received">[];
	reservations: Pick<Reservation, "orderId" | "productId" | "quantity" | "status">[];
	returns: Pick<ReturnedStock, "returnId" | "productId" | "quantity">[];
}

declare module "../../lib/actor" {
	interface ActionContracts {
		"inventory.get": { params: { productId: string }; result: StockView };
		/** Admin: sets the available level; the difference counts as received. */
		"inventory.setStock": { params: { productId: string; available: number }; result: StockView };
		/** Admin: adds received units. */
		"inventory.restock": { params: { productId: string; quantity: number }; result: StockView };
		"inventory.initStock": { params: { productId: string; available: number }; result: StockView };
		/** All lines or none (OUT_OF_STOCK); reserving the same order again has no further effect. */
		"inventory.reserve": {
			params: { orderId: string; items: StockLine[] };
			result: { orderId: string; items: StockLine[] };
		};
		/**
		 * The order's reserved stock becomes sold; STOCK_NOT_RESERVED (409) when its reservations do not hold exactly
		 * `items` (nothing changes then). Repeating it has no further effect (`committed: 0`).
		 */
		"inventory.commit": {
			params: { orderId: string; items: StockLine[] };
			result: { orderId: string; committed: number };
		};
		"inventory.release": { params: { orderId: string }; result: { orderId: string; released: number } };
		/**
		 * Idempotent per return: the returned units go back to available stock (and count as received). Repeating it
		 * has no further effect (`returned: 0`).
		 */
		"inventory.returnStock": {
			params: { returnId: string; items: StockLine[] };
			result: { returnId: string; returned: number };
		};
		/** Paged over the reservations (`offset`/`limit`, default everything); `stock` is whole on every page. */
		"inventory.audit": { params: { offset?: number; limit?: number }; result: InventoryAudit };
	}
}

declare module "../../lib/events" {
	interface EventPayloads {
		"inventory.reserved": { orderId: string; items: StockLine[] };
		"inventory.released": { orderId: string };
		/** `available` dropped under `threshold` (LOW_STOCK_THRESHOLD). */
		"inventory.low": { productId: string; available: number; threshold: number };
	}
}
