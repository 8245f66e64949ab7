import type { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../../mixins/db.mixin";
import { EventsMixin, consume, outboxCollection } from "../../mixins/events.mixin";
import { AuthMixin } from "../../mixins/auth.mixin";
import { loadConfig } from "../../lib/config";
import { IDEMPOTENT_RETRY } from "../../lib/actor";
import { DuplicateKeyError, NotFoundError, OutOfStockError } from "../../lib/errors";
import { params, id, quantity, stockLevel, auditPage } from "../../lib/actor";
import type { DomainEvent } from "../../lib/events";
import type { Doc, Store } from "../../lib/storage";
import { crossedLowThreshold, movements, type Movement } from "./stock";

interface Line {
	productId: string;
	quantity: number;
}
type ReservationStatus = "RESERVED" | "COMMITTED" | "RELEASED" | "RESTORED";

class Shortage extends Error {}

const STOCK = {
	name: "stock",
	fields: { productId: "string", available: "int", reserved: "int", sold: "int", received: "int", updatedAt: "string" },
	unique: ["productId"],
} as const;
const RESERVATIONS = {
	name: "reservations",
	fields: { orderId: "string", productId: "string", quantity: "int", status: "string", updatedAt: "string" },
	indexes: ["orderId"],
} as const;

const InventoryService: ServiceSchema = {
	name: "inventory",
	mixins: [DbMixin(STOCK, RESERVATIONS, outboxCollection("inventory")), EventsMixin, AuthMixin],

	actions: {
		get: {
			params: params({ productId: id }),
			async handler(ctx: Context<{ productId: string }>) {
				const { productId, available, reserved } = await this.findStock(ctx.params.productId);
				return { productId, available, reserved };
			},
		},

		setStock: {
			auth: "admin",
			params: params({ productId: id, available: stockLevel }),
			async handler(ctx: Context<{ productId: string; available: number }>) {
				await this.ensureProductStock(ctx, ctx.params.productId);
				// Compare-and-set on the current level keeps `received` exact under concurrent writers.
				for (;;) {
					const current = await this.findStock(ctx.params.productId);
					const delta = ctx.params.available - current.available;
					const applied = await this.stock.update(
						{ productId: current.productId, available: current.available },
						{ set: { available: ctx.params.available, updatedAt: new Date().toISOString() }, inc: { received: delta } },
					);
					if (applied) return this.stockView(ctx, ctx.params.productId, current.available);
				}
			},
		},

		restock: {
			auth: "admin",
			params: params({ productId: id, quantity: stockLevel }),
			async handler(ctx: Context<{ productId: string; quantity: number }>) {
				await this.ensureProductStock(ctx, ctx.params.productId);
				if (ctx.params.quantity > 0) await this.move(ctx.params.productId, movements.restock(ctx.params.quantity));
				return this.stockView(ctx, ctx.params.productId);
			},
		},

		/** Internal: the first stock of a product the caller has just created (catalogue seeding). */
		initStock: {
			params: params({ productId: id, available: stockLevel }),
			async handler(ctx: Context<{ productId: string; available: number }>) {
				await this.ensureStock(ctx.params.productId);
				if (ctx.params.available > 0) await this.move(ctx.params.productId, movements.restock(ctx.params.available));
				return this.stockView(ctx, ctx.params.productId);
			},
		},

		/** Internal: all lines or none. Reserving the same order again has no further effect. */
		reserve: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({
				orderId: id,
				items: {
					type: "array",
					min: 1,
					max: 100,
					items: { type: "object", strict: "remove", props: { productId: id, quantity } },
				},
			}),
			async handler(ctx: Context<{ orderId: string; items: Line[] }>) {
				const { orderId } = ctx.params;
				// A fixed order of products keeps concurrent SQL transactions from deadlocking.
				const lines = [...ctx.params.items].sort((a, b) => a.productId.localeCompare(b.productId));
				const done: Line[] = [];
				const short: { productId: string; requested: number; available: number }[] = [];
				for (const line of lines) {
					try {
						await this.reserveLine(orderId, line);
						done.push(line);
					} catch (err) {
						if (!(err instanceof Shortage)) {
							await this.settle(ctx, orderId, "RESERVED", "RELEASED", movements.release);
							throw err;
						}
						const stock = await this.stock.findOne({ productId: line.productId });
						short.push({
							productId: line.productId,
							requested: line.quantity,
							available: (stock?.available as number) ?? 0,
						});
					}
				}
				if (short.length) {
					await this.settle(ctx, orderId, "RESERVED", "RELEASED", movements.release);
					this.broker.metrics.increment("emporium.inventory.rejections");
					throw new OutOfStockError({ orderId, lines: short });
				}
				await this.publishEvent(ctx, "inventory.reserved", { orderId, items: lines }, { id: `${orderId}:reserved` });
				await this.checkLowStock(ctx, orderId, done);
				return { orderId, items: lines };
			},
		},

		/** Internal: reserved stock of the order becomes sold. */
		commit: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id }),
			async handler(ctx: Context<{ orderId: string }>) {
				return {
					orderId: ctx.params.orderId,
					committed: await this.settle(ctx, ctx.params.orderId, "RESERVED", "COMMITTED", movements.commit),
				};
			},
		},

		/** Internal: everything the order holds goes back to available, reserved or already sold (cancellation). */
		release: {
			retryPolicy: IDEMPOTENT_RETRY,
			params: params({ orderId: id }),
			async handler(ctx: Context<{ orderId: string }>) {
				const { orderId } = ctx.params;
				const released =
					(await this.settle(ctx, orderId, "RESERVED", "RELEASED", movements.release)) +
					(await this.settle(ctx, orderId, "COMMITTED", "RESTORED", movements.restore));
				if (released) await this.publishEvent(ctx, "inventory.released", { orderId }, { id: `${orderId}:released` });
				return { orderId, released };
			},
		},

		/** Internal: every stock counter, and the reservations (paged with `offset`/`limit`), for the invariant check (`emporium check`). */
		audit: {
			params: params(auditPage),
			async handler(ctx: Context<{ offset?: number; limit?: number }>) {
				const { offset = 0, limit = 10_000_000 } = ctx.params;
				const [stock, reservations] = await Promise.all([
					this.stock.find({}, { limit: 1_000_000 }),
					this.reservations.find({}, { sort: ["id"], offset, limit }),
				]);
				return {
					stock: stock.map(({ productId, available, reserved, sold, received }: Doc) => ({
						productId,
						available,
						reserved,
						sold,
						received,
					})),
					reservations: reservations.map(({ orderId, productId, quantity, status }: Doc) => ({
						orderId,
						productId,
						quantity,
						status,
					})),
				};
			},
		},
	},

	channels: {
		"product.created": consume(async function (this: any, ctx: Context<DomainEvent>) {
			await this.ensureStock(ctx.params.data.productId);
		}),
	},

	methods: {
		async findStock(productId: string): Promise<Doc & { productId: string; available: number; reserved: number }> {
			const doc = await this.stock.findOne({ productId });
			if (!doc) throw new NotFoundError("Stock for product", { productId });
			return doc;
		},

		async stockView(ctx: Context, productId: string, before?: number) {
			const { available, reserved } = await this.findStock(productId);
			if (before !== undefined && crossedLowThreshold(before, available, this.config.lowStockThreshold)) {
				await this.publishEvent(ctx, "inventory.low", {
					productId,
					available,
					threshold: this.config.lowStockThreshold,
				});
			}
			return { productId, available, reserved };
		},

		/** For admin changes: the product must exist in the catalogue (404 otherwise); its counters are created if missing. */
		async ensureProductStock(ctx: Context, productId: string): Promise<void> {
			await ctx.call("products.get", { id: productId });
			await this.ensureStock(productId);
		},

		/** Creates the product's counters at zero if they do not exist yet. */
		async ensureStock(productId: string): Promise<void> {
			try {
				await this.stock.insert({
					id: productId,
					productId,
					available: 0,
					reserved: 0,
					sold: 0,
					received: 0,
					updatedAt: new Date().toISOString(),
				});
			} catch (err) {
				if (!(err instanceof DuplicateKeyError)) throw err;
			}
		},

		/** One guarded, atomic counter update; false when the guard did not hold. */
		async move(productId: string, movement: Movement, tx?: unknown): Promise<boolean> {
			const where: Record<string, unknown> = { productId };
			if (movement.guard) where[movement.guard.counter] = { $gte: movement.guard.min };
			return (
				(await this.stock.update(where, { inc: movement.inc, set: { updatedAt: new Date().toISOString() } }, tx)) === 1
			);
		},

		/** The reservation row and the stock movement commit together (one SQL transaction). */
		async reserveLine(orderId: string, line: Line): Promise<void> {
			await this.stock.transaction(async (tx: unknown) => {
				const row = {
					id: `${orderId}:${line.productId}`,
					orderId,
					productId: line.productId,
					quantity: line.quantity,
					status: "RESERVED",
					updatedAt: new Date().toISOString(),
				};
				try {
					await this.reservations.insert(row, tx);
				} catch (err) {
					if (err instanceof DuplicateKeyError) return; // this line is already held for this order
					throw err;
				}
				if (!(await this.move(line.productId, movements.reserve(line.quantity), tx))) {
					if (!tx) await this.reservations.remove({ id: row.id });
					throw new Shortage();
				}
			});
		},

		/**
		 * Moves every reservation of the order from one status to the next, applying its stock movement once. All rows
		 * of the order go in one SQL transaction: two statements fewer per extra line, and the order settles whole.
		 */
		async settle(
			ctx: Context,
			orderId: string,
			from: ReservationStatus,
			to: ReservationStatus,
			movement: (q: number) => Movement,
		): Promise<number> {
			const rows = await this.reservations.find({ orderId, status: from }, { limit: 1000 });
			if (rows.length === 0) return 0;
			return this.stock.transaction(async (tx: unknown) => {
				let moved = 0;
				for (const row of rows) {
					// The status flip is the idempotency check: only one caller wins it.
					if (
						!(await this.reservations.update(
							{ id: row.id, status: from },
							{ set: { status: to, updatedAt: new Date().toISOString() } },
							tx,
						))
					)
						continue;
					if (!(await this.move(row.productId as string, movement(row.quantity as number), tx))) {
						throw new Error(`Stock counters of ${row.productId} do not cover reservation ${row.id}`);
					}
					moved++;
				}
				return moved;
			});
		},

		async checkLowStock(ctx: Context, orderId: string, lines: Line[]): Promise<void> {
			// One query for all lines, not one per line.
			const stock: Doc[] = await this.stock.find(
				{ productId: { $in: lines.map(line => line.productId) } },
				{ limit: lines.length },
			);
			const available = new Map(stock.map(row => [row.productId as string, row.available as number]));
			for (const line of lines) {
				const after = available.get(line.productId) ?? 0;
				if (crossedLowThreshold(after + line.quantity, after, this.config.lowStockThreshold)) {
					await this.publishEvent(
						ctx,
						"inventory.low",
						{ productId: line.productId, available: after, threshold: this.config.lowStockThreshold },
						{ id: `${orderId}:${line.productId}:low` },
					);
				}
			}
		},
	},

	created() {
		this.config = loadConfig();
		this.stock = this.stores.stock as Store;
		this.reservations = this.stores.reservations as Store;
	},
};

export default InventoryService;
