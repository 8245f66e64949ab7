import { randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { DbMixin } from "../../mixins/db.mixin";
import { EventsMixin, outboxCollection } from "../../mixins/events.mixin";
import { AuthMixin } from "../../mixins/auth.mixin";
import { CacheCleanerMixin } from "../../mixins/cache-cleaner.mixin";
import { loadConfig } from "../../lib/config";
import { ConflictError, DuplicateKeyError, NotFoundError } from "../../lib/errors";
import { params, id, money, currency, page, pageSize, pageOf } from "../../lib/actor";
import type { Doc, Store, Where } from "../../lib/storage";
import { SEED_PRODUCTS } from "./catalogue-seed";

export interface Product {
	id: string;
	name: string;
	description: string;
	price: number;
	currency: string;
	category: string;
	sku: string;
	createdAt: string;
	updatedAt: string;
}

const SORTS: Record<string, string[]> = {
	name: ["name", "id"],
	price: ["price", "id"],
	"-price": ["-price", "id"],
	"-createdAt": ["-createdAt", "id"],
};
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

const ProductsService: ServiceSchema = {
	name: "products",
	mixins: [
		DbMixin(
			{
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
			},
			outboxCollection("products"),
		),
		EventsMixin,
		AuthMixin,
		CacheCleanerMixin,
	],

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
			async handler(
				ctx: Context<{ page?: number; pageSize?: number; search?: string; category?: string; sort?: string }>,
			) {
				const { page: p = 1, pageSize: size = 20, search, category, sort = "name" } = ctx.params;
				// Only the documented filters become a query; nothing from the client is passed through.
				const where: Where = category ? { category } : {};
				const textSearch = search ? { text: search, fields: ["name", "description", "sku"] } : undefined;
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
			async handler(ctx: Context<{ id: string }>) {
				return this.findProduct(ctx.params.id);
			},
		},

		/** Several products in one query (the order saga prices every line at once). Missing ids are left out. */
		getMany: {
			cache: { keys: ["ids"] },
			params: params({ ids: { type: "array", items: id, min: 1, max: 100 } }),
			async handler(ctx: Context<{ ids: string[] }>) {
				return this.store.find({ id: { $in: ctx.params.ids } }, { limit: ctx.params.ids.length });
			},
		},

		create: {
			auth: "admin",
			params: params(fields),
			async handler(
				ctx: Context<Omit<Product, "id" | "createdAt" | "updatedAt">, { $statusCode?: number; $location?: string }>,
			) {
				const product = await this.createProduct(ctx, ctx.params);
				ctx.meta.$statusCode = 201;
				ctx.meta.$location = `/api/products/${product.id}`;
				return product;
			},
		},

		update: {
			auth: "admin",
			params: params({ id, ...optionalFields(fields) }),
			async handler(ctx: Context<Partial<Product> & { id: string }>) {
				const { id: productId, ...changes } = ctx.params;
				const set = { ...changes, updatedAt: new Date().toISOString() };
				const matched = await this.store.update({ id: productId }, { set }).catch((err: unknown) => {
					throw err instanceof DuplicateKeyError
						? new ConflictError("A product with this SKU already exists", "SKU_TAKEN")
						: err;
				});
				if (!matched) throw new NotFoundError("Product");
				const product = await this.findProduct(productId);
				await this.publishEvent(ctx, "product.updated", { productId, changes: Object.keys(changes), product });
				await this.cleanCache();
				return product;
			},
		},

		remove: {
			auth: "admin",
			params: params({ id }),
			async handler(ctx: Context<{ id: string }>) {
				const product = await this.findProduct(ctx.params.id);
				await this.store.remove({ id: product.id });
				await this.publishEvent(ctx, "product.deleted", { productId: product.id, sku: product.sku });
				await this.cleanCache();
				return product;
			},
		},
	},

	methods: {
		async findProduct(productId: string): Promise<Product> {
			const doc: Doc | null = await this.store.findOne({ id: productId });
			if (!doc) throw new NotFoundError("Product", { id: productId });
			return doc as unknown as Product;
		},

		async createProduct(
			ctx: Context | null,
			input: Omit<Product, "id" | "createdAt" | "updatedAt">,
			productId: string = randomUUID(),
		): Promise<Product> {
			const now = new Date().toISOString();
			const doc = {
				...input,
				description: input.description ?? "",
				currency: input.currency ?? "USD",
				id: productId,
				createdAt: now,
				updatedAt: now,
			};
			try {
				await this.store.insert(doc);
			} catch (err) {
				if (err instanceof DuplicateKeyError)
					throw new ConflictError("A product with this SKU already exists", "SKU_TAKEN");
				throw err;
			}
			await this.publishEvent(ctx, "product.created", {
				productId,
				sku: doc.sku,
				name: doc.name,
				price: doc.price,
				currency: doc.currency,
				category: doc.category,
			});
			await this.cleanCache();
			return doc as Product;
		},

		/** An empty catalogue gets the demo products, each with stock, so a fresh shop can take orders at once. */
		async seedCatalogue(): Promise<void> {
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
				await this.broker.call("inventory.initStock", { productId, available: stock });
			}
			this.logger.info(`Seeded ${SEED_PRODUCTS.length} products`);
		},
	},

	created() {
		this.config = loadConfig();
		this.store = this.stores.products as Store;
	},

	async started() {
		if (this.config.seed) await this.seedCatalogue();
	},
};

export default ProductsService;
