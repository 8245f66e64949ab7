import type { Transaction } from "sequelize";
import { ConflictError, DuplicateKeyError, NotFoundError } from "../../lib/errors";
import type { CollectionSpec, FindOptions, Store, Where } from "../../lib/storage";
import type { Product, ProductRecord, Variant, VariantLine } from "./contract";
import { derivedFields, productView, resolveVariants } from "./variants";

/**
 * The products actor's two collections: product records and their variants (SKU unique across all variants). On SQL
 * a product and its variants change in one transaction; memory:// and MongoDB have none, so there variants are written
 * first and taken back if the product's write fails. The rules (valid variants, derived price) are in variants.ts.
 */
export const PRODUCTS: CollectionSpec<ProductRecord> = {
	name: "products",
	fields: {
		name: "string",
		description: "text",
		category: "string",
		options: "json",
		price: "money",
		currency: "string",
		createdAt: "string",
		updatedAt: "string",
	},
	indexes: ["category", "createdAt", "price", "name"],
};
export const VARIANTS: CollectionSpec<Variant> = {
	name: "variants",
	fields: {
		productId: "string",
		sku: "string",
		title: "string",
		options: "json",
		price: "money",
		currency: "string",
		position: "int",
		createdAt: "string",
		updatedAt: "string",
	},
	unique: ["sku"],
	indexes: ["productId", "price"],
};

function skuTaken(err: unknown): unknown {
	return err instanceof DuplicateKeyError
		? new ConflictError("A product with this SKU already exists", "SKU_TAKEN")
		: err;
}

export class Catalogue {
	constructor(
		readonly products: Store<ProductRecord>,
		readonly variants: Store<Variant>,
	) {}

	transaction<T>(work: (tx?: Transaction) => Promise<T>): Promise<T> {
		return this.products.transaction(work);
	}

	async record(productId: string, tx?: Transaction): Promise<ProductRecord> {
		const record = await this.products.findOne({ id: productId }, tx);
		if (!record) throw new NotFoundError("Product", { id: productId });
		return record;
	}

	/** A product's record and variants; 404 when missing. */
	async load(productId: string): Promise<{ record: ProductRecord; variants: Variant[] }> {
		const record = await this.record(productId);
		return { record, variants: (await this.variantsOf([productId])).get(productId) ?? [] };
	}

	async variantsOf(productIds: string[]): Promise<Map<string, Variant[]>> {
		const byProduct = new Map<string, Variant[]>(productIds.map(id => [id, []]));
		if (productIds.length === 0) return byProduct;
		for (const v of await this.variants.find({ productId: { $in: productIds } })) byProduct.get(v.productId)?.push(v);
		return byProduct;
	}

	/** The product as clients see it; 404 when missing. */
	async product(productId: string, tx?: Transaction): Promise<Product> {
		const record = await this.record(productId, tx);
		return productView(record, (await this.variantsOf([productId])).get(productId) ?? []);
	}

	/** Records with their variants; a record whose variants are all gone (a write in flight) is left out. */
	async views(records: ProductRecord[]): Promise<Product[]> {
		const variants = await this.variantsOf(records.map(r => r.id));
		return records.filter(r => variants.get(r.id)?.length).map(r => productView(r, variants.get(r.id)!));
	}

	/** The ids of the products with a variant priced in [min, max]; undefined when no price filter is set. */
	async productIdsPricedIn(min?: number, max?: number): Promise<string[] | undefined> {
		if (min === undefined && max === undefined) return undefined;
		const price: Where<Variant>["price"] = {
			...(min !== undefined && { $gte: min }),
			...(max !== undefined && { $lte: max }),
		};
		return [...new Set((await this.variants.find({ price })).map(v => v.productId))];
	}

	/**
	 * A search of the product records' `fields` that also matches the products with a variant whose SKU contains
	 * `text` (case-insensitive, like the fields): SKUs live in the variants.
	 */
	async textSearch(
		text: string,
		fields: (keyof ProductRecord)[],
	): Promise<NonNullable<FindOptions<ProductRecord>["search"]>> {
		const variants = await this.variants.find({}, { search: { text, fields: ["sku"] } });
		return { text, fields, ids: [...new Set(variants.map(v => v.productId))] };
	}

	async lines(ids: string[]): Promise<{ variants: VariantLine[]; multiVariantProductIds: string[] }> {
		const variants = await this.variants.find({ id: { $in: ids } }, { limit: ids.length });
		const productIds = [...new Set([...ids, ...variants.map(v => v.productId)])];
		const products = await this.products.find({ id: { $in: productIds } }, { limit: productIds.length });
		return resolveVariants(ids, variants, products);
	}

	/** Inserts a product and its variants; 409 SKU_TAKEN when a SKU exists (nothing is left behind). */
	async insert(record: ProductRecord, variants: Variant[], tx?: Transaction): Promise<void> {
		const inserted: string[] = [];
		try {
			for (const variant of variants) {
				await this.variants.insert(variant, tx);
				inserted.push(variant.id);
			}
			await this.products.insert(record, tx);
		} catch (err) {
			if (!tx && inserted.length) await this.variants.remove({ id: { $in: inserted } });
			throw skuTaken(err);
		}
	}

	/** Applies the change to one variant of the product and refreshes the product; false when it is not one. */
	async changeVariant(
		record: ProductRecord,
		variants: Variant[],
		variant: Variant,
		tx?: Transaction,
	): Promise<Product> {
		const exists = variants.some(v => v.id === variant.id);
		const now = variant.updatedAt;
		if (exists) {
			const { id, productId, createdAt, ...set } = variant;
			const n = await this.variants.update({ id, productId }, { set }, tx).catch((err: unknown) => {
				throw skuTaken(err);
			});
			if (!n) throw new NotFoundError("Variant", { id, productId });
		} else
			await this.variants.insert(variant, tx).catch((err: unknown) => {
				throw skuTaken(err);
			});
		const after = exists ? variants.map(v => (v.id === variant.id ? variant : v)) : [...variants, variant];
		return this.refresh({ ...record, updatedAt: now }, after, tx);
	}

	/** Removes one variant unless it is the product's last (409 LAST_VARIANT). */
	async removeVariant(record: ProductRecord, variants: Variant[], variantId: string, tx?: Transaction) {
		if (!variants.some(v => v.id === variantId)) throw new NotFoundError("Variant", { id: variantId });
		if (variants.length === 1)
			throw new ConflictError("A product keeps at least one variant", "LAST_VARIANT", {
				productId: record.id,
				variantId,
			});
		await this.variants.remove({ id: variantId, productId: record.id }, tx);
		const after = variants.filter(v => v.id !== variantId);
		return this.refresh({ ...record, updatedAt: new Date().toISOString() }, after, tx);
	}

	/** Stores the record's fields with the price and currency derived from `variants` (the product's variants now). */
	async refresh(record: ProductRecord, variants: Variant[], tx?: Transaction): Promise<Product> {
		const { id, ...rest } = record;
		const { price, currency } = derivedFields(variants);
		const changed = await this.products.update({ id }, { set: { ...rest, price, currency } }, tx);
		if (!changed) throw new NotFoundError("Product", { id });
		return productView({ ...record, price, currency }, variants);
	}

	async remove(productId: string, tx?: Transaction): Promise<void> {
		await this.products.remove({ id: productId }, tx);
		await this.variants.remove({ productId }, tx);
	}
}
