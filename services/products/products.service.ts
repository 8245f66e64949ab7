import { randomUUID } from "node:crypto";
import type { Context, Service } from "moleculer";
import type { Transaction } from "sequelize";
import { DbMixin, type DbThis } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection, type EventsThis } from "../../mixins/events.mixin";
import { AuthMixin, type AuthThis } from "../../mixins/auth.mixin";
import { CacheCleanerMixin, type CacheCleanerThis } from "../../mixins/cache-cleaner.mixin";
import { loadConfig, type AppConfig } from "../../lib/config";
import { ConflictError, DuplicateKeyError, NotFoundError } from "../../lib/errors";
import { call, defineService, params, id, money, currency, page, pageSize, pageOf } from "../../lib/actor";
import type { CollectionSpec, Store, Where } from "../../lib/storage";
import { SEED_PRODUCTS } from "./catalogue-seed";
import type { Product, ProductInput } from "./contract";

const PRODUCTS: CollectionSpec<Product> = {
	name: "products",
	fields: {
		name: "string",
		description: "text",
		price: "money",
		currency: "string",
		category: "string",
		sku: "string",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["sku"],
	indexes: ["category", "createdAt", "price", "name"],
};

const SORTS: Record<string, string[]> = {
	name: ["name", "id"],
	price: ["price", "id"],
	"-price": ["-price", "id"],
	"-createdAt": ["-createdAt", "id"],
};
const SEARCH_FIELDS: (keyof Product)[] = ["name", "description", "sku"];
const fields = {
	name: { type: "string", min: 1, max: 200, trim: true },
	description: { type: "string", max: 5000, optional: true },
	price: money,
	currency,
	category: { type: "string", min: 1, max: 50, trim: true, lowercase: true },
	sku: { type: "string", min: 1, max: 64, trim: true, pattern: /^[A-Za-z0-9._-]+$/ },
} as const;

function optionalFields<T extends Record<string, object>>(schema: T) {
	return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, { ...v, optional: true }])) as {
		[K in keyof T]: T[K] & { optional: true };
	};
}

interface ListParams {
	page?: number;
	pageSize?: number;
	search?: string;
	category?: string;
	sort?: string;
}
type Created = { $statusCode?: number; $location?: string };

interface ProductsMethods {
	findProduct(productId: string, tx?: Transaction): Promise<Product>;
	createProduct(ctx: Context | null, input: ProductInput, productId?: string): Promise<Product>;
	seedCatalogue(): Promise<void>;
}
interface ProductsState {
	config: AppConfig;
	store: Store<Product>;
}
type ProductsThis = Service & DbThis & EventsThis & AuthThis & CacheCleanerThis & ProductsMethods & ProductsState;

const ProductsService = defineService<ProductsThis>({
	name: "products",
	mixins: [DbMixin(PRODUCTS, outboxCollection("products")), EventsMixin, AuthMixin, CacheCleanerMixin],

	actions: {
		list: {
			params: params({
				page,
				pageSize,
				search: { type: "string", max: 100, trim: true, optional: true },
				category: { type: "string", max: 50, trim: true, lowercase: true, optional: true },
				sort: { type: "enum", values: Object.keys(SORTS), optional: true },
			}),
			cache: { keys: ["page", "pageSize", "search", "category", "sort"] },
			async handler(this: ProductsThis, ctx: Context<ListParams>) {
				const { page: p = 1, pageSize: size = 20, search, category, sort = "name" } = ctx.params;
				// Only the documented filters become a query; nothing from the client is passed through.
				const where: Where<Product> = category ? { category } : {};
				const textSearch = search ? { text: search, fields: SEARCH_FIELDS } : undefined;
				const [rows, total] = await Promise.all([
					this.store.find(where, { sort: SORTS[sort], limit: size, offset: (p - 1) * size, search: textSearch }),
					this.store.count(where, textSearch),
				]);
				return pageOf(rows, total, p, size);
			},
		},

		get: {
			params: params({ id }),
			cache: { keys: ["id"] },
			handler(this: ProductsThis, ctx: Context<{ id: string }>): Promise<Product> {
				return this.findProduct(ctx.params.id);
			},
		},

		/** Several products in one query (the order saga prices every line at once). Missing ids are left out. */
		getMany: {
			cache: { keys: ["ids"] },
			params: params({ ids: { type: "array", items: id, min: 1, max: 100 } }),
			handler(this: ProductsThis, ctx: Context<{ ids: string[] }>): Promise<Product[]> {
				return this.store.find({ id: { $in: ctx.params.ids } }, { limit: ctx.params.ids.length });
			},
		},

		// --- BEGIN carts-branch stand-in (issue 12): the variants branch's getVariants replaces this hunk at merge ---
		/** Today's products are single-variant: each is its own variant (variant id = product id, no options). */
		getVariants: {
			cache: { keys: ["ids"] },
			params: params({ ids: { type: "array", items: id, min: 1, max: 100 } }),
			async handler(this: ProductsThis, ctx: Context<{ ids: string[] }>) {
				const rows = await this.store.find({ id: { $in: ctx.params.ids } }, { limit: ctx.params.ids.length });
				const variants = rows.map(({ id: variantId, sku, name, price, currency: cur }) => {
					return { variantId, productId: variantId, sku, name, options: {}, price, currency: cur };
				});
				return { variants, multiVariantProductIds: [] };
			},
		},
		// --- END carts-branch stand-in ---

		create: {
			auth: "admin",
			params: params(fields),
			async handler(this: ProductsThis, ctx: Context<ProductInput, Created>): Promise<Product> {
				const product = await this.createProduct(ctx, ctx.params);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product.id}`;
				return product;
			},
		},

		update: {
			auth: "admin",
			params: params({ id, ...optionalFields(fields) }),
			async handler(this: ProductsThis, ctx: Context<Partial<ProductInput> & { id: string }>): Promise<Product> {
				const { id: productId, ...changes } = ctx.params;
				const set = { ...changes, updatedAt: new Date().toISOString() };
				const product = await this.store.transaction(async tx => {
					const matched = await this.store.update({ id: productId }, { set }, tx).catch((err: unknown) => {
						throw err instanceof DuplicateKeyError
							? new ConflictError("A product with this SKU already exists", "SKU_TAKEN")
							: err;
					});
					if (!matched) throw new NotFoundError("Product");
					const updated = await this.findProduct(productId, tx);
					await this.publishEvent(
						ctx,
						"product.updated",
						{ productId, changes: Object.keys(changes), product: updated },
						{ tx },
					);
					return updated;
				});
				await this.cleanCache();
				return product;
			},
		},

		remove: {
			auth: "admin",
			params: params({ id }),
			async handler(this: ProductsThis, ctx: Context<{ id: string }>): Promise<Product> {
				const product = await this.findProduct(ctx.params.id);
				await this.store.transaction(async tx => {
					await this.store.remove({ id: product.id }, tx);
					await this.publishEvent(ctx, "product.deleted", { productId: product.id, sku: product.sku }, { tx });
				});
				await this.cleanCache();
				return product;
			},
		},
	},

	methods: {
		async findProduct(this: ProductsThis, productId: string, tx?: Transaction): Promise<Product> {
			const product = await this.store.findOne({ id: productId }, tx);
			if (!product) throw new NotFoundError("Product", { id: productId });
			return product;
		},

		async createProduct(
			this: ProductsThis,
			ctx: Context | null,
			input: ProductInput,
			productId: string = randomUUID(),
		): Promise<Product> {
			const now = new Date().toISOString();
			const product: Product = {
				...input,
				description: input.description ?? "",
				currency: input.currency ?? "USD",
				id: productId,
				createdAt: now,
				updatedAt: now,
			};
			const { sku, name, price, currency, category } = product;
			await this.store.transaction(async tx => {
				try {
					await this.store.insert(product, tx);
				} catch (err) {
					if (err instanceof DuplicateKeyError)
						throw new ConflictError("A product with this SKU already exists", "SKU_TAKEN");
					throw err;
				}
				await this.publishEvent(ctx, "product.created", { productId, sku, name, price, currency, category }, { tx });
			});
			await this.cleanCache();
			return product;
		},

		/** An empty catalogue gets the demo products, each with stock, so a fresh shop can take orders at once. */
		async seedCatalogue(this: ProductsThis): Promise<void> {
			if ((await this.store.count({})) > 0) return;
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
		this.store = this.storeFor(PRODUCTS);
	},

	async started(this: ProductsThis) {
		if (this.config.seed) await this.seedCatalogue();
	},
});

export default ProductsService;
