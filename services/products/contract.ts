// The products actor's contract: its entities, the actions other actors call and the events it publishes.
import type { Doc } from "../../lib/storage";

/** One option of a product and its values, e.g. `{ name: "Size", values: ["S", "M", "L"] }` (issue 12). */
export interface ProductOption {
	name: string;
	values: string[];
}

/** A product as stored: its price is the lowest of its variants' (for sorting), its variants a collection apart. */
export interface ProductRecord extends Doc {
	name: string;
	description: string;
	category: string;
	options: ProductOption[];
	/** The lowest price of its variants, kept for sorting; `currency` is the variants' one currency. */
	price: number;
	currency: string;
	createdAt: string;
	updatedAt: string;
}

/** A variant as stored: own id (the product's id for the one variant of a single-variant product), SKU and price. */
export interface Variant extends Doc {
	productId: string;
	sku: string;
	title: string;
	/** Its value of each option of the product, e.g. `{ Size: "M", Colour: "Red" }`; `{}` for no options. */
	options: Record<string, string>;
	price: number;
	currency: string;
	/** Order of the variants in the product's JSON. */
	position: number;
	createdAt: string;
	updatedAt: string;
}

/** What clients see of a variant. */
export type VariantView = Pick<Variant, "id" | "sku" | "title" | "options" | "price" | "currency">;

/**
 * A product as clients and other actors see it: `price`, `currency` and `sku` are its variant's for a single-variant
 * product; for a multi-variant product `price` is the lowest variant price and `sku` is null.
 */
export interface Product extends Omit<ProductRecord, "options"> {
	options: ProductOption[];
	sku: string | null;
	variants: VariantView[];
}

/** What an admin sends to create a single-variant product (today's body): its variant gets the product's id. */
export interface ProductInput {
	name: string;
	description?: string;
	price: number;
	currency?: string;
	category: string;
	sku: string;
}

/** What an admin sends for one variant. */
export interface VariantInput {
	sku: string;
	title?: string;
	options: Record<string, string>;
	price: number;
	currency?: string;
}

/** What an admin sends to create a product with options and variants. */
export interface VariantsProductInput {
	name: string;
	description?: string;
	category: string;
	options: ProductOption[];
	variants: VariantInput[];
}

/** A variant as orders and carts price it: its own id, SKU and price, with its product's id and name. */
export interface VariantLine {
	variantId: string;
	productId: string;
	sku: string;
	name: string;
	/** The variant's value of each option of its product, e.g. `{ Size: "M" }`; `{}` for a single-variant product. */
	options: Record<string, string>;
	price: number;
	currency: string;
	/** The variant's title, e.g. "M / Red" (an extension of the issue-12 contract; callers may ignore it). */
	title: string;
}

declare module "../../lib/actor" {
	interface ActionContracts {
		/**
		 * The variants with these ids; a single-variant product's variant has the product's id, so a product id works
		 * for it. Ids that are not variants are left out; those that are multi-variant products are listed apart
		 * (an order or cart line naming one is 422 VARIANT_REQUIRED).
		 */
		"products.getVariants": {
			params: { ids: string[] };
			result: { variants: VariantLine[]; multiVariantProductIds: string[] };
		};
		"products.get": { params: { id: string }; result: Product };
		/** Missing ids are left out of the result. */
		"products.getMany": { params: { ids: string[] }; result: Product[] };
	}
}

/** A variant as events carry it. */
export type VariantEventData = Pick<Variant, "sku" | "price" | "currency" | "options"> & { variantId: string };

declare module "../../lib/events" {
	interface EventPayloads {
		/** `sku` is null for a multi-variant product; `variants` names every variant (inventory makes their stock). */
		"product.created": Pick<Product, "sku" | "name" | "price" | "currency" | "category"> & {
			productId: string;
			variants: VariantEventData[];
		};
		/** `changes` names the fields the update set (`variants` for a variant added, changed or removed). */
		"product.updated": { productId: string; changes: string[]; product: Product; removedVariantIds?: string[] };
		"product.deleted": { productId: string; sku: string | null; variantIds: string[] };
	}
}
