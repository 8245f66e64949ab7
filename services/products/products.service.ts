import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import type { Transaction } from "sequelize";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { CacheCleanerMixin, type CacheCleanerThis } from "../../mixins/cache-cleaner.mixin";
import { loadConfig, type AppConfig } from "../../lib/config";
import { ConflictError } from "../../lib/errors";
import { call, defineService, params, id, pageOf } from "../../lib/actor";
import type { ActionName, ActionResult } from "../../lib/actor";
import type { Where } from "../../lib/storage";
import { SEED_PRODUCTS } from "./catalogue-seed";
import { Catalogue, PRODUCTS, VARIANTS } from "./catalogue";
import type { Product, ProductRecord } from "./contract";
import { PRODUCT_MIGRATIONS } from "./migrations";
import { createdEventData, productView } from "./variants";
import { addedVariant, buildProduct, changedProduct, changedVariant } from "./product-input";
import {
	SEARCH_FIELDS,
	SORTS,
	listFields,
	optional,
	productFields,
	updateFields,
	variantFields,
} from "./product-input";
import type { ListParams, ProductParams, VariantParams } from "./product-input";

type Created = { $statusCode?: number; $location?: string };
type VariantCtx<P = object> = Context<P & { id: string; variantId: string }, Created>;
type Change = (tx?: Transaction) => Promise<Product>;

interface ProductsMethods {
	createProduct(ctx: Context | null, input: ProductParams, productId?: string): Promise<Product>;
	change(ctx: Context, changes: string[], work: Change, removedVariantIds?: string[]): Promise<Product>;
	seedCatalogue(): Promise<void>;
}
interface ProductsState {
	config: AppConfig;
	catalogue: Catalogue;
}
type ProductsThis = Service & DbThis & EventsThis & AuthThis & CacheCleanerThis & ProductsMethods & ProductsState;
type Result<N extends ActionName> = Promise<ActionResult<N>>;

const ProductsService = defineService<ProductsThis>({
	name: "products",
	mixins: [DbMixin(PRODUCTS, VARIANTS, outboxCollection("products")), EventsMixin, AuthMixin, CacheCleanerMixin],

	actions: {
		list: {
			params: params(listFields),
			cache: { keys: ["page", "pageSize", "search", "category", "sort", "minPrice", "maxPrice"] },
			async handler(this: ProductsThis, ctx: Context<ListParams>) {
				const { page: p = 1, pageSize: size = 20, search, category, sort = "name" } = ctx.params;
				// Only the documented filters become a query; nothing from the client is passed through.
				const where: Where<ProductRecord> = category ? { category } : {};
				const priced = await this.catalogue.productIdsPricedIn(ctx.params.minPrice, ctx.params.maxPrice);
				if (priced) where.id = { $in: priced };
				const textSearch = search ? await this.catalogue.textSearch(search, SEARCH_FIELDS) : undefined;
				const store = this.catalogue.products;
				const [rows, total] = await Promise.all([
					store.find(where, { sort: SORTS[sort], limit: size, offset: (p - 1) * size, search: textSearch }),
					store.count(where, textSearch),
				]);
				return pageOf(await this.catalogue.views(rows), total, p, size);
			},
		},

		get: {
			params: params({ id }),
			cache: { keys: ["id"] },
			handler(this: ProductsThis, ctx: Context<{ id: string }>): Result<"products.get"> {
				return this.catalogue.product(ctx.params.id);
			},
		},

		/** Several products in one query. Missing ids are left out. */
		getMany: {
			cache: { keys: ["ids"] },
			params: params({ ids: { type: "array", items: id, min: 1, max: 100 } }),
			async handler(this: ProductsThis, ctx: Context<{ ids: string[] }>): Result<"products.getMany"> {
				const { ids } = ctx.params;
				return this.catalogue.views(await this.catalogue.products.find({ id: { $in: ids } }, { limit: ids.length }));
			},
		},

		/** Internal (orders, carts): the variants with these ids, and apart the multi-variant products named. */
		getVariants: {
			cache: { keys: ["ids"] },
			params: params({ ids: { type: "array", items: id, min: 1, max: 100 } }),
			handler(this: ProductsThis, ctx: Context<{ ids: string[] }>): Result<"products.getVariants"> {
				return this.catalogue.lines(ctx.params.ids);
			},
		},

		create: {
			auth: "admin",
			params: params(productFields),
			async handler(this: ProductsThis, ctx: Context<ProductParams, Created>): Promise<Product> {
				const product = await this.createProduct(ctx, ctx.params);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product.id}`;
				return product;
			},
		},

		update: {
			auth: "admin",
			params: params({ id, ...optional(updateFields) }),
			async handler(this: ProductsThis, ctx: Context<Partial<ProductParams> & { id: string }>): Promise<Product> {
				const { id: productId, ...changes } = ctx.params;
				const { record, variants } = await this.catalogue.load(productId);
				const next = changedProduct(record, variants, changes, new Date().toISOString());
				return this.change(ctx, Object.keys(changes), tx =>
					next.variant
						? this.catalogue.changeVariant(next.record, variants, next.variant, tx)
						: this.catalogue.refresh(next.record, variants, tx),
				);
			},
		},

		remove: {
			auth: "admin",
			params: params({ id }),
			async handler(this: ProductsThis, ctx: Context<{ id: string }>): Promise<Product> {
				const product = await this.catalogue.product(ctx.params.id);
				const variantIds = product.variants.map(v => v.id);
				await this.catalogue.transaction(async tx => {
					await this.catalogue.remove(product.id, tx);
					await this.publishEvent(
						ctx,
						"product.deleted",
						{ productId: product.id, sku: product.sku, variantIds },
						{ tx },
					);
				});
				await this.cleanCache();
				return product;
			},
		},

		addVariant: {
			auth: "admin",
			params: params({ id, ...variantFields }),
			async handler(this: ProductsThis, ctx: Context<VariantParams & { id: string }, Created>): Promise<Product> {
				const { id: productId, ...input } = ctx.params;
				const { record, variants } = await this.catalogue.load(productId);
				const variant = addedVariant(record, variants, input, randomUUID(), new Date().toISOString());
				const product = await this.change(ctx, ["variants"], tx =>
					this.catalogue.changeVariant(record, variants, variant, tx),
				);
				await call(ctx, "inventory.initStock", { productId: variant.id, available: 0 });
				ctx.meta.$statusCode = 201;
				return product;
			},
		},

		updateVariant: {
			auth: "admin",
			params: params({ id, variantId: id, ...optional(variantFields) }),
			async handler(this: ProductsThis, ctx: VariantCtx<Partial<VariantParams>>): Promise<Product> {
				const { id: productId, variantId, ...changes } = ctx.params;
				const { record, variants } = await this.catalogue.load(productId);
				const variant = changedVariant(record, variants, variantId, changes, new Date().toISOString());
				return this.change(ctx, ["variants"], tx => this.catalogue.changeVariant(record, variants, variant, tx));
			},
		},

		/** The variant's stock record stays (history and audit); the variant can no longer be ordered. */
		removeVariant: {
			auth: "admin",
			params: params({ id, variantId: id }),
			async handler(this: ProductsThis, ctx: VariantCtx): Promise<Product> {
				const { id: productId, variantId } = ctx.params;
				const { record, variants } = await this.catalogue.load(productId);
				const remove = (tx?: Transaction) => this.catalogue.removeVariant(record, variants, variantId, tx);
				return this.change(ctx, ["variants"], remove, [variantId]);
			},
		},
	},

	methods: {
		/** Runs the change and publishes product.updated in one transaction; then clears the cache. */
		async change(
			this: ProductsThis,
			ctx: Context,
			changes: string[],
			work: Change,
			removedVariantIds?: string[],
		): Promise<Product> {
			const product = await this.catalogue.transaction(async tx => {
				const after = await work(tx);
				const data = { productId: after.id, changes, product: after, ...(removedVariantIds && { removedVariantIds }) };
				await this.publishEvent(ctx, "product.updated", data, { tx });
				return after;
			});
			await this.cleanCache();
			return product;
		},

		async createProduct(
			this: ProductsThis,
			ctx: Context | null,
			input: ProductParams,
			productId: string = randomUUID(),
		): Promise<Product> {
			const { record, variants } = buildProduct(input, productId, new Date().toISOString(), randomUUID);
			const product = await this.catalogue.transaction(async tx => {
				await this.catalogue.insert(record, variants, tx);
				const created = productView(record, variants);
				const data = createdEventData(created, variants);
				await this.publishEvent(ctx, "product.created", data, { tx });
				return created;
			});
			await this.cleanCache();
			return product;
		},

		/** An empty catalogue gets the demo products, each with stock, so a fresh shop can take orders at once. */
		async seedCatalogue(this: ProductsThis): Promise<void> {
			if ((await this.catalogue.products.count({})) > 0) return;
			await this.broker.waitForServices(["inventory"], 60_000);
			for (const { stock, ...product } of SEED_PRODUCTS) {
				const productId = `seed-${product.sku.toLowerCase()}`;
				try {
					await this.createProduct(null, product, productId);
				} catch (err) {
					if (err instanceof ConflictError) continue; // another products node seeded it
					throw err;
				}
				await call(this.broker, "inventory.initStock", { productId, available: stock });
			}
			this.logger.info(`Seeded ${SEED_PRODUCTS.length} products`);
		},
	},

	created(this: ProductsThis) {
		this.config = loadConfig();
		this.catalogue = new Catalogue(this.storeFor(PRODUCTS), this.storeFor(VARIANTS));
	},

	async started(this: ProductsThis) {
		await this.migrate(PRODUCT_MIGRATIONS);
		if (this.config.seed) await this.seedCatalogue();
	},
});

export default ProductsService;
