import { Errors, type Context, type Service } from "moleculer";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { EventsMixin, consume, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { loadConfig, type AppConfig } from "../../lib/config";
import { ConflictError, NotFoundError, OutOfStockError, UnprocessableError } from "../../lib/errors";
import type { DomainEvent } from "../../lib/events";
import { call, defineService, IDEMPOTENT_RETRY, params, id, quantity, stockLevel, auditPage } from "../../lib/actor";
import type { ActionName, ActionParams, ActionResult } from "../../lib/actor";
import type { Reservation, StockLine, StockView } from "./contract";
import { crossedLowThreshold, movements } from "./stock";
import { SETTLEMENTS, lowStockAfterReserve, reservationOrder, shortLine, uncoveredLines } from "./reservations";
import type { ReservationStatus } from "./reservations";
import { RESERVATIONS, STOCK, StockLedger } from "./stock-ledger";
import { RETURNED_STOCK, ReturnedStockLedger } from "./returned-stock";

interface InventoryState {
	config: AppConfig;
	ledger: StockLedger;
	returns: ReturnedStockLedger;
}
interface InventoryMethods {
	stockView(ctx: Context, productId: string, before?: number): Promise<StockView>;
	ensureProductStock(ctx: Context, productId: string): Promise<void>;
	checkLowStock(ctx: Context, orderId: string, lines: StockLine[]): Promise<void>;
	/** The order's reservations, if those in `statuses` hold exactly its lines. */
	assertHeld(orderId: string, lines: StockLine[], statuses: ReservationStatus[]): Promise<Reservation[]>;
}
type InventoryThis = Service & DbThis & EventsThis & AuthThis & InventoryMethods & InventoryState;
type Ctx<N extends ActionName> = Context<ActionParams<N>>;
type Result<N extends ActionName> = Promise<ActionResult<N>>;

/**
 * product.created names the new product's variants (events before variants: the product, its one variant's id); the
 * envelope check of `consume` does not look inside `data`.
 */
function createdVariantIds(event: DomainEvent): string[] {
	const { productId, variants } = event.data;
	if (Array.isArray(variants)) return variants.map(v => String((v as { variantId: unknown }).variantId));
	if (typeof productId === "string") return [productId];
	throw new Errors.ValidationError("product.created without a productId", "VALIDATION_ERROR", event.data);
}

/** An order's lines, one per product (orders merges repeated products). */
const orderLines = {
	type: "array",
	min: 1,
	max: 100,
	items: { type: "object", strict: "remove", props: { productId: id, quantity } },
} as const;

const InventoryService = defineService<InventoryThis>({
	name: "inventory",
	mixins: [DbMixin(STOCK, RESERVATIONS, RETURNED_STOCK, outboxCollection("inventory")), EventsMixin, AuthMixin],

	actions: {
		get: {
			params: params({ productId: id }),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.get">): Result<"inventory.get"> {
				const { productId, available, reserved } = await this.ledger.find(ctx.params.productId);
				return { productId, available, reserved };
			},
		},

		setStock: {
			auth: "admin",
			params: params({ productId: id, available: stockLevel }),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.setStock">): Result<"inventory.setStock"> {
				const { productId, available } = ctx.params;
				await this.ensureProductStock(ctx, productId);
				return this.stockView(ctx, productId, await this.ledger.setAvailable(productId, available));
			},
		},

		restock: {
			auth: "admin",
			params: params({ productId: id, quantity: stockLevel }),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.restock">): Result<"inventory.restock"> {
				await this.ensureProductStock(ctx, ctx.params.productId);
				if (ctx.params.quantity > 0)
					await this.ledger.move(ctx.params.productId, movements.restock(ctx.params.quantity));
				return this.stockView(ctx, ctx.params.productId);
			},
		},

		/** Internal: the first stock of a product the caller has just created (catalogue seeding). */
		initStock: {
			params: params({ productId: id, available: stockLevel }),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.initStock">): Result<"inventory.initStock"> {
				await this.ledger.ensure(ctx.params.productId);
				if (ctx.params.available > 0)
					await this.ledger.move(ctx.params.productId, movements.restock(ctx.params.available));
				return this.stockView(ctx, ctx.params.productId);
			},
		},

		/** Internal: all lines or none. Reserving the same order again has no further effect. */
		reserve: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id, items: orderLines }),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.reserve">): Result<"inventory.reserve"> {
				const { orderId } = ctx.params;
				const lines = reservationOrder(ctx.params.items);
				const short = await this.ledger.reserve(orderId, lines);
				if (short.length) {
					this.broker.metrics.increment("emporium.inventory.rejections");
					const available = await this.ledger.available(short.map(line => line.productId));
					const shortLines = short.map(line => shortLine(line, available.get(line.productId)));
					throw new OutOfStockError({ orderId, lines: shortLines });
				}
				await this.publishEvent(ctx, "inventory.reserved", { orderId, items: lines }, { id: `${orderId}:reserved` });
				await this.checkLowStock(ctx, orderId, lines);
				return { orderId, items: lines };
			},
		},

		/** Internal: reserved stock of the order becomes sold, only if its reservations hold exactly its lines. */
		commit: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id, items: orderLines }),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.commit">): Result<"inventory.commit"> {
				const { orderId, items } = ctx.params;
				const holdings = await this.assertHeld(orderId, items, ["RESERVED", "COMMITTED"]);
				const committed = await this.ledger.settle(orderId, SETTLEMENTS.commit, holdings);
				// Again after, unless this call committed every reservation itself: a concurrent release of the order may
				// have won some of them.
				if (committed < holdings.length) await this.assertHeld(orderId, items, ["COMMITTED"]);
				return { orderId, committed };
			},
		},

		/** Internal: everything the order holds goes back to available, reserved or already sold (cancellation). */
		release: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id }),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.release">): Result<"inventory.release"> {
				const { orderId } = ctx.params;
				const released =
					(await this.ledger.settle(orderId, SETTLEMENTS.release)) +
					(await this.ledger.settle(orderId, SETTLEMENTS.restore));
				if (released) await this.publishEvent(ctx, "inventory.released", { orderId }, { id: `${orderId}:released` });
				return { orderId, released };
			},
		},

		/**
		 * Internal and idempotent per return: the returned units go back to available and count as received, once per
		 * return and variant (a repeat returns nothing more: `returned: 0`).
		 */
		returnStock: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ returnId: id, items: orderLines }),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.returnStock">): Result<"inventory.returnStock"> {
				const { returnId, items } = ctx.params;
				return { returnId, returned: await this.returns.returnStock(returnId, items) };
			},
		},

		/** Internal: every stock counter, the reservations page by page, and the returns, for the invariant check. */
		audit: {
			params: params(auditPage),
			async handler(this: InventoryThis, ctx: Ctx<"inventory.audit">): Result<"inventory.audit"> {
				const { offset = 0, limit = 10_000_000 } = ctx.params;
				const [audit, returns] = await Promise.all([this.ledger.audit(offset, limit), this.returns.audit()]);
				return { ...audit, returns };
			},
		},
	},

	channels: {
		"product.created": consume<InventoryThis>(async function (ctx) {
			for (const variantId of createdVariantIds(ctx.params)) await this.ledger.ensure(variantId);
		}),
	},

	methods: {
		async stockView(this: InventoryThis, ctx: Context, productId: string, before?: number): Promise<StockView> {
			const { available, reserved } = await this.ledger.find(productId);
			const threshold = this.config.lowStockThreshold;
			if (before !== undefined && crossedLowThreshold(before, available, threshold))
				await this.publishEvent(ctx, "inventory.low", { productId, available, threshold });
			return { productId, available, reserved };
		},

		/**
		 * For admin changes: the stock key must be a variant in the catalogue (a single-variant product's id is its
		 * variant's; 404 otherwise, 422 VARIANT_REQUIRED for a multi-variant product); counters are made if missing.
		 */
		async ensureProductStock(this: InventoryThis, ctx: Context, productId: string): Promise<void> {
			const found = await call(ctx, "products.getVariants", { ids: [productId] });
			if (found.multiVariantProductIds.length)
				throw new UnprocessableError("This product has several variants: name one", "VARIANT_REQUIRED", {
					productId,
				});
			if (!found.variants.length) throw new NotFoundError("Variant", { id: productId });
			await this.ledger.ensure(productId);
		},

		async checkLowStock(this: InventoryThis, ctx: Context, orderId: string, lines: StockLine[]): Promise<void> {
			const available = await this.ledger.available(lines.map(line => line.productId));
			const threshold = this.config.lowStockThreshold;
			for (const low of lowStockAfterReserve(lines, available, threshold)) {
				const data = { ...low, threshold };
				await this.publishEvent(ctx, "inventory.low", data, { id: `${orderId}:${low.productId}:low` });
			}
		},

		/** STOCK_NOT_RESERVED unless the order's reservations in `statuses` hold exactly its lines. */
		async assertHeld(this: InventoryThis, orderId: string, lines: StockLine[], statuses: ReservationStatus[]) {
			const holdings = await this.ledger.holdings(orderId);
			const uncovered = uncoveredLines(lines, holdings, statuses);
			if (uncovered.length === 0) return holdings;
			this.logger.warn("Commit refused: the order's reservations do not cover its lines", { orderId, uncovered });
			const data = { orderId, lines: uncovered };
			throw new ConflictError("The order's reservations do not hold its lines", "STOCK_NOT_RESERVED", data);
		},
	},

	created(this: InventoryThis) {
		this.config = loadConfig();
		this.ledger = new StockLedger(this.storeFor(STOCK), this.storeFor(RESERVATIONS));
		this.returns = new ReturnedStockLedger(this.storeFor(STOCK), this.storeFor(RETURNED_STOCK), this.ledger);
	},
});

export default InventoryService;
